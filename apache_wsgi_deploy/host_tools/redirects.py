"""
Which redirects an answer is followed through, as the deploy's health check (on the
host) and the verification suite's probes (from the control machine) both judge it: one
within the site (a relative Location, or https://<server_name>[:443]/) is followed,
MAX_REDIRECTS at most; one that leaves the site is the answer. Standard library only.
"""

import urllib.parse
from dataclasses import dataclass

# A login page's redirect, a trailing slash added: a few hops; more is a loop.
MAX_REDIRECTS = 5


def within_site(location: str | None, server_name: str, path: str) -> str | None:
    """The path (and query) a redirect from path leads to, if it stays within the site:
    a relative Location, or one to https://<server_name>[:443]/."""
    if location is None:
        return None
    target = urllib.parse.urlsplit(urllib.parse.urljoin(f"https://{server_name}{path}", location))
    try:
        port = target.port
    except ValueError:
        return None
    if target.scheme != "https" or target.hostname != server_name or port not in (None, 443):
        return None
    return urllib.parse.urlunsplit(("", "", target.path or "/", target.query, ""))


@dataclass(frozen=True)
class Answer:
    """The final answer to a GET, redirects within the site followed."""

    status: int
    # The paths asked, in order: the first, then each redirect followed.
    asked: list[str]
    # Still redirecting within the site after MAX_REDIRECTS.
    looping: bool

    @property
    def passed(self) -> bool:
        return self.status < 400 and not self.looping

    def __str__(self) -> str:
        answer = f"GET {self.asked[-1]} answered {self.status}"
        if len(self.asked) > 1:
            answer += " after redirects from " + " -> ".join(self.asked[:-1])
        if self.looping:
            answer += f": more than {MAX_REDIRECTS} redirects within the site"
        return answer


def follow(ask, server_name: str, path: str) -> Answer:
    """GET path and each redirect within the site; ask(path) sends one GET and returns
    its status and Location (None without one). A redirect leaving the site is the answer."""
    asked = [path]
    while True:
        status, location = ask(asked[-1])
        onward = within_site(location, server_name, asked[-1]) if 300 <= status < 400 else None
        if onward is None or len(asked) > MAX_REDIRECTS:
            return Answer(status, asked, onward is not None)
        asked.append(onward)

"""
The health check of a release before it goes live, run on the host as the app's user
with the release's virtualenv: the app, imported from the release with the app's
environment, answers HTTP requests on a loopback port (wsgiref) as it would behind the
site's HTTPS vhost, and the check passes when the final answer's status is below 400.
A redirect within the site is followed (MAX_REDIRECTS at most); one that leaves the site
is the answer. Standard library only: it runs in any virtualenv.

    python healthcheck.py <release folder> <environment.json> <wsgi_entry> <server_name> <path>

wsgi_entry is module:callable, or module:factory() whose call makes the application.
"""

import importlib
import json
import os
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from wsgiref.simple_server import WSGIRequestHandler, make_server

TIMEOUT = 30
# A login page's redirect, a trailing slash added: a few hops; more is a loop.
MAX_REDIRECTS = 5


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer: main decides whether it is followed."""

    def redirect_request(self, *args):
        return None


def _load(entry: str):
    """The application wsgi_entry names, made by calling it when it is a factory."""
    module, _, name = entry.partition(":")
    loaded = getattr(importlib.import_module(module), name.removesuffix("()"))
    return loaded() if name.endswith("()") else loaded


def _behind_apache(application, server_name: str):
    """The app as mod_wsgi runs it in the site's 443 vhost: the Host is the server name
    (which Django's ALLOWED_HOSTS, say, checks), the request is HTTPS (no redirect to it)."""

    def behind_apache(environ, start_response):
        environ.update(
            {
                "HTTP_HOST": server_name,
                "SERVER_NAME": server_name,
                "SERVER_PORT": "443",
                "HTTPS": "on",
                "wsgi.url_scheme": "https",
            }
        )
        return application(environ, start_response)

    return behind_apache


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


def _asker(port: int):
    """ask() for follow(): the app's status and Location for GET path."""
    opener = urllib.request.build_opener(_NoRedirects)

    def ask(path: str) -> tuple[int, str | None]:
        try:
            with opener.open(f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT) as response:
                return response.status, response.headers.get("Location")
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers.get("Location")

    return ask


def main(release: str, environment: str, entry: str, server_name: str, path: str) -> int:
    code = os.path.join(release, "app")
    sys.path.insert(0, code)
    os.chdir(code)
    with open(environment) as values:
        os.environ.update(json.load(values))
    server = make_server("127.0.0.1", 0, _behind_apache(_load(entry), server_name), handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    answer = follow(_asker(server.server_port), server_name, path)
    if answer.passed:
        return 0
    print(f"health check of {release}: {answer}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

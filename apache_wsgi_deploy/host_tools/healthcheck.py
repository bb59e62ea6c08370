"""
The health check of a release before it goes live, run on the host as the app's user
with the release's virtualenv: the app, loaded from the release as the .wsgi file loads
it (entrypoint.py: its code, environment and entry point), answers HTTP requests on a
loopback port (wsgiref) as it would behind the site's HTTPS vhost, and the check passes
when the final answer's status is below 400. A redirect within the site is followed
(MAX_REDIRECTS at most); one that leaves the site is the answer. Standard library only:
it runs in any virtualenv.

    python healthcheck.py <release folder> <server_name> <path>
"""

import os
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, make_server

from entrypoint import release_application

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


def _within_site(location: str | None, server_name: str, path: str) -> str | None:
    """The path (and query) a redirect from path leads to, if it stays within the site."""
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


def _ask(opener, port: int, server_name: str, path: str) -> tuple[int, str | None]:
    """The status of the app's answer to GET path, and the path it redirects to within
    the site, if it does."""
    try:
        with opener.open(f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT) as response:
            status, location = response.status, response.headers.get("Location")
    except urllib.error.HTTPError as error:
        with error:
            status, location = error.code, error.headers.get("Location")
    return status, _within_site(location, server_name, path) if 300 <= status < 400 else None


def main(release: str, server_name: str, path: str) -> int:
    # The daemon processes' working folder (WSGIDaemonProcess home=).
    os.chdir(os.path.join(release, "app"))
    server = make_server(
        "127.0.0.1", 0, _behind_apache(release_application(release), server_name), handler_class=_Quiet
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    opener = urllib.request.build_opener(_NoRedirects)
    asked = [path]
    status, onward = _ask(opener, server.server_port, server_name, path)
    while onward is not None and len(asked) <= MAX_REDIRECTS:
        asked.append(onward)
        status, onward = _ask(opener, server.server_port, server_name, onward)
    if status < 400 and onward is None:
        return 0
    answer = f"health check of {release}: GET {asked[-1]} answered {status}"
    if len(asked) > 1:
        answer += " after redirects from " + " -> ".join(asked[:-1])
    if onward is not None:
        answer += f": more than {MAX_REDIRECTS} redirects within the site"
    print(answer, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

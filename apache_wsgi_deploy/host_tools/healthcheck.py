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
from redirects import follow

TIMEOUT = 30


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


def main(release: str, server_name: str, path: str) -> int:
    # The daemon processes' working folder (WSGIDaemonProcess home=).
    os.chdir(os.path.join(release, "app"))
    server = make_server(
        "127.0.0.1", 0, _behind_apache(release_application(release), server_name), handler_class=_Quiet
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    answer = follow(_asker(server.server_port), server_name, path)
    if answer.passed:
        return 0
    print(f"health check of {release}: {answer}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

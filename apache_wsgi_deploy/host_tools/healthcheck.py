"""
The health check of a release before it goes live, run on the host as the app's user
with the release's virtualenv: the app, imported from the release with the app's
environment, answers one HTTP request on a loopback port (wsgiref), and the check passes
when its status is below 400. Standard library only: it runs in any virtualenv.

    python healthcheck.py <release folder> <environment.json> <module> <callable> <path>
"""

import json
import os
import sys
import threading
import urllib.error
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, make_server

TIMEOUT = 30


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect (to a login page, say) is an answer: its status is what counts."""

    def redirect_request(self, *args):
        return None


def main(release: str, environment: str, module: str, name: str, path: str) -> int:
    code = os.path.join(release, "app")
    sys.path.insert(0, code)
    os.chdir(code)
    with open(environment) as values:
        os.environ.update(json.load(values))
    application = getattr(__import__(module, fromlist=[name]), name)
    server = make_server("127.0.0.1", 0, application, handler_class=_Quiet)
    threading.Thread(target=server.handle_request, daemon=True).start()
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        status = opener.open(f"http://127.0.0.1:{server.server_port}{path}", timeout=TIMEOUT).status
    except urllib.error.HTTPError as error:
        status = error.code
    if status >= 400:
        print(f"health check of {release}: GET {path} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

"""
The health check of a release before it goes live, run on the host as the app's user
with the release's virtualenv: the app, loaded from the release as the .wsgi file loads
it (entrypoint.py: its code, environment and entry point), answers HTTP requests on a
loopback port (wsgiref) as it would behind the site's HTTPS vhost, and the check passes
when the final answer's status is below 400. A redirect within the site is followed
(MAX_REDIRECTS at most); one that leaves the site is the answer. Standard library only:
it runs in any virtualenv.

    python healthcheck.py <release folder> <server_name> <path> [<timeout seconds>]

The app is loaded and served by a child process in a process group of its own; this
one only asks and judges. So an app that exits while it loads (sys.exit(), os._exit(),
a crash) fails the check however it exits, one that never answers fails it when the
timeout runs out, and whatever the app left running (a thread, a process it started) is
killed with its group once the check is over, or at once when the deploy is gone.
"""

import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from deploy_gone import end_with_the_deploy
from entrypoint import release_application
from redirects import follow

# Seconds the app has to load and answer, all requests together, unless the command says.
TIMEOUT = 60


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


class _AppEnded(Exception):
    """The app's process is gone, or never answered in time: the check fails with this."""


def _asker(port: int, deadline: float):
    """ask() for follow(): the app's status and Location for GET path, within the deadline."""
    opener = urllib.request.build_opener(_NoRedirects)

    def ask(path: str) -> tuple[int, str | None]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _AppEnded("no answer in time")
        try:
            with opener.open(f"http://127.0.0.1:{port}{path}", timeout=left) as response:
                return response.status, response.headers.get("Location")
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers.get("Location")
        except (OSError, urllib.error.URLError) as error:
            raise _AppEnded(f"GET {path} got no answer ({getattr(error, 'reason', error)})") from error

    return ask


def _serve(listener: socket.socket, release: str, server_name: str) -> None:
    """In the child: load the app and serve it on the listener until killed. Never returns."""
    status = 1
    try:
        os.setpgid(0, 0)
        # The daemon processes' working folder (WSGIDaemonProcess home=).
        os.chdir(os.path.join(release, "app"))
        server = WSGIServer(listener.getsockname(), _Quiet, bind_and_activate=False)
        server.socket.close()
        # The listener this process was handed: bound and listening before the fork.
        server.socket = listener
        server.server_name, server.server_port = listener.getsockname()
        server.setup_environ()
        server.set_app(_behind_apache(release_application(release), server_name))
        server.serve_forever()
    except BaseException as error:  # SystemExit too: whatever ends the app ends this process
        import traceback

        traceback.print_exc()
        # As the interpreter would have exited: sys.exit() is 0, sys.exit("why") 1.
        code = error.code if isinstance(error, SystemExit) else 1
        status = 0 if code is None else code if isinstance(code, int) else 1
    finally:
        sys.stderr.flush()
        os._exit(status)


def _how_it_ended(pid: int) -> str:
    """How the app's process ended (it is reaped), or that it is still there."""
    # A connection reset can come a moment before the process it ended with is gone.
    for _ in range(20):
        ended, wait_status = os.waitpid(pid, os.WNOHANG)
        if ended:
            if os.WIFSIGNALED(wait_status):
                return f"was killed by signal {os.WTERMSIG(wait_status)}"
            return f"exited with status {os.WEXITSTATUS(wait_status)} while loading or answering"
        time.sleep(0.05)
    return "did not answer"


def _end(pid: int) -> None:
    """The app's process group killed (its threads, what it started), its process reaped."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # reaped already
        pass


def main(release: str, server_name: str, path: str, timeout: str = str(TIMEOUT)) -> int:
    deadline = time.monotonic() + float(timeout)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _serve(listener, release, server_name)
    # Here as in the child: whichever runs first, the group exists before it is killed.
    try:
        os.setpgid(pid, pid)
    except OSError:  # the child set it already, or is gone already
        pass
    end_with_the_deploy(pid)
    listener.close()
    try:
        answer = follow(_asker(port, deadline), server_name, path)
    except _AppEnded as error:
        ended = _how_it_ended(pid)
        print(f"health check of {release}: the app {ended}: {error} (timeout {timeout} s)", file=sys.stderr)
        return 1
    finally:
        _end(pid)
    if answer.passed:
        return 0
    print(f"health check of {release}: {answer}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

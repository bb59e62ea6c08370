"""The release health check, run here as on a host: real HTTP requests to the app."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.harness import gone, host_tool

healthcheck = host_tool("healthcheck")

SERVER_NAME = "www.example.com"
# Answers only its own name over HTTPS, as Django does with ALLOWED_HOSTS = [SERVER_NAME]
# and SECURE_SSL_REDIRECT: any other Host is a 400, plain HTTP a redirect to HTTPS.
APP = """import os

ROUTES = {
    "/": ("200 OK", None),
    "/login": ("302 Found", "/"),
    "/broken": ("500 Internal Server Error", None),
    "/admin/": ("302 Found", "login/?next=/admin/"),
    "/admin/login/?next=/admin/": ("500 Internal Server Error", None),
    "/moved": ("301 Moved Permanently", "https://www.example.com:443/broken"),
    "/sso": ("302 Found", "https://login.example.net/broken"),
    "/plain": ("302 Found", "http://www.example.com/broken"),
    "/loop": ("302 Found", "/loop"),
}


def application(environ, start_response):
    host, query = environ["HTTP_HOST"], environ.get("QUERY_STRING")
    if host != "www.example.com":
        status, location = "400 Bad Request", None
    elif environ["wsgi.url_scheme"] != "https" or environ.get("HTTPS") != "on" or environ["SERVER_PORT"] != "443":
        status, location = "301 Moved Permanently", f"https://{host}{environ['PATH_INFO']}"
    else:
        status, location = ROUTES[environ["PATH_INFO"] + (f"?{query}" if query else "")]
    start_response(status, [("Location", location)] if location else [])
    return [os.environ["GREETING"].encode()]


def create_app():
    return application
"""


@pytest.fixture
def release(tmp_path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "site_app.py").write_text(APP)
    (tmp_path / "environment.json").write_text(json.dumps({"GREETING": "hi"}))
    return tmp_path


def check(release: Path, path: str, entry: str = "site_app:application") -> subprocess.CompletedProcess:
    (release / "wsgi-entry").write_text(entry + "\n")
    return subprocess.run(
        [sys.executable, healthcheck.__file__, str(release), SERVER_NAME, path],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 0),
        ("/login", 0),  # a redirect within the site, followed to a page that answers
        ("/sso", 0),  # a redirect leaving the site is the answer: a 302, below 400
        ("/plain", 0),  # so is one to plain HTTP, which Apache's port 80 only redirects back
        ("/broken", 1),
    ],
)
def test_status_below_400_passes_with_the_apps_environment_host_and_https(release, path, status):
    result = check(release, path)
    assert result.returncode == status, result.stderr
    if status:
        assert f"GET {path} answered 500" in result.stderr


@pytest.mark.parametrize(
    ("path", "failure"),
    [
        ("/admin/", "GET /admin/login/?next=/admin/ answered 500 after redirects from /admin/"),
        ("/moved", "GET /broken answered 500 after redirects from /moved"),
        ("/loop", "GET /loop answered 302 after redirects from /loop -> /loop -> /loop -> /loop -> /loop: more than 5"),
    ],
)
def test_redirects_within_the_site_are_followed_to_the_final_answer(release, path, failure):
    result = check(release, path)
    assert result.returncode == 1
    assert f"health check of {release}: {failure}" in result.stderr


def test_a_login_redirect_from_the_home_page_is_followed(release):
    """Most apps behind a login answer / with a redirect: the login page must answer too."""
    (release / "app" / "login_app.py").write_text(
        "def application(environ, start_response):\n"
        "    home = environ['PATH_INFO'] == '/'\n"
        "    start_response('302 Found' if home else '500 Internal Server Error', [('Location', '/login/')])\n"
        "    return [b'']\n"
    )
    result = check(release, "/", "login_app:application")
    assert result.returncode == 1
    assert "GET /login/ answered 500 after redirects from /" in result.stderr


def test_an_application_factory_is_called(release):
    assert check(release, "/", "site_app:create_app()").returncode == 0
    factory = check(release, "/broken", "site_app:create_app()")
    assert "GET /broken answered 500" in factory.stderr


@pytest.mark.parametrize(
    ("module", "entry", "ended"),
    [
        ("", "sys:exit()", "exited with status 0"),
        ("import sys\nsys.exit(0)\n", "dead_app:application", "exited with status 0"),
        ("import os\nos._exit(0)\n", "dead_app:application", "exited with status 0"),
        ("raise SystemExit(3)\n", "dead_app:application", "exited with status 3"),
        (
            "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
            "dead_app:application",
            "was killed by signal 11",
        ),
    ],
    ids=["sys.exit() as the entry point", "sys.exit(0) at import", "os._exit(0)", "SystemExit(3)", "a crash"],
)
def test_an_app_that_ends_while_it_loads_fails_whatever_its_exit_status(release, module, entry, ended):
    (release / "app" / "dead_app.py").write_text(module)
    result = check(release, "/", entry)
    assert result.returncode == 1
    assert f"health check of {release}: the app {ended}" in result.stderr


def test_an_app_that_never_answers_fails_once_the_timeout_runs_out(release):
    (release / "app" / "stuck_app.py").write_text("import time\ntime.sleep(1000)\n")
    (release / "wsgi-entry").write_text("stuck_app:application\n")
    result = subprocess.run(
        [sys.executable, healthcheck.__file__, str(release), SERVER_NAME, "/", "2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "the app did not answer: GET / got no answer (timed out) (timeout 2 s)" in result.stderr


def test_what_the_app_left_running_ends_with_the_check(release):
    """A non-daemon thread (which mod_wsgi serves fine) and a process it started at import
    neither hold the check nor outlive it."""
    pid_file = release / "child.pid"
    (release / "app" / "busy_app.py").write_text(
        "import subprocess, threading, time\n"
        "threading.Thread(target=time.sleep, args=(1000,)).start()\n"
        f"open({str(pid_file)!r}, 'w').write(str(subprocess.Popen(['sleep', '1000']).pid))\n"
        "from site_app import application\n"
    )
    result = check(release, "/", "busy_app:application")
    assert result.returncode == 0, result.stderr
    assert gone(int(pid_file.read_text()))

"""The release health check, run here as on a host: one real HTTP request to the app."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.harness import host_tool

healthcheck = host_tool("healthcheck")

APP = """import os

def application(environ, start_response):
    status = {"/": "200 OK", "/login": "302 Found", "/broken": "500 Internal Server Error"}[environ["PATH_INFO"]]
    start_response(status, [("Location", "/")] if status.startswith("302") else [])
    return [os.environ["GREETING"].encode()]
"""


@pytest.fixture
def release(tmp_path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "site_app.py").write_text(APP)
    (tmp_path / "environment.json").write_text(json.dumps({"GREETING": "hi"}))
    return tmp_path


@pytest.mark.parametrize(("path", "status"), [("/", 0), ("/login", 0), ("/broken", 1)])
def test_status_below_400_passes_with_the_apps_environment(release, path, status):
    result = subprocess.run(
        [
            sys.executable,
            healthcheck.__file__,
            str(release),
            str(release / "environment.json"),
            "site_app",
            "application",
            path,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == status, result.stderr
    if status:
        assert f"GET {path} answered 500" in result.stderr

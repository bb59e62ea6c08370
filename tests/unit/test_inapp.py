"""Release commands run bounded (host_tools/inapp.py with --timeout), here as on a host:
their output passed on, their background jobs ended with them, a timeout enforced."""

import json
import subprocess
import sys
import time

import pytest

from tests.unit.harness import gone, host_tool

inapp = host_tool("inapp")


@pytest.fixture
def release(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "environment.json").write_text(json.dumps({"GREETING": "hi"}))
    return tmp_path


def run(release, command: str, timeout: int = 30) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, inapp.__file__, str(release), str(release), "--timeout", str(timeout), "--", "sh", "-c"]
        + [command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, time.monotonic() - started


def test_a_command_runs_in_the_apps_context_its_output_and_status_passed_on(release):
    done, _ = run(release, 'echo "$GREETING from $(pwd)"; exit 3')
    assert done.returncode == 3
    assert done.stderr == f"hi from {release}/app\n"


def test_a_background_job_neither_holds_the_command_nor_outlives_it(release):
    pid_file = release / "job.pid"
    done, took = run(release, f"sleep 100 & echo $! > {pid_file}; echo started")
    assert (done.returncode, done.stderr, took < 10) == (0, "started\n", True)
    assert gone(int(pid_file.read_text()))


def test_a_command_past_its_timeout_is_killed_with_its_group(release):
    pid_file = release / "child.pid"
    done, took = run(release, f"sh -c 'echo $$ > {pid_file}; sleep 100'; echo never", timeout=1)
    assert done.returncode == 124
    assert "release command timed out after 1 s, killed" in done.stderr and "never" not in done.stderr
    assert took < 10
    assert gone(int(pid_file.read_text()))


def test_without_a_timeout_the_command_replaces_the_tool(release):
    """awd app's way: a terminal stays the command's."""
    process = subprocess.Popen(
        [sys.executable, inapp.__file__, str(release), str(release), "--", "sh", "-c", "echo $$"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.communicate()[0].strip() == str(process.pid)


@pytest.mark.parametrize("umask", ["0027", "0077"])
def test_a_command_writes_with_the_umask_it_is_given(release, umask):
    done = subprocess.run(
        [sys.executable, inapp.__file__, str(release), str(release), "--timeout", "30", "--umask", umask, "--"]
        + ["sh", "-c", "touch made && stat -c %a made"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stderr == f"{0o666 & ~int(umask, 8):o}\n"

"""
Releases: new code is a new release folder made live by a symlink; old ones
are pruned; `./run.sh rollback` goes back one and holds across reruns; a release whose
health check fails is never made live; code from a git repository at a tag, fetched on
the host, and a new tag deployed under load.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apache_wsgi_deploy import audit
from apache_wsgi_deploy.polling import poll
from apache_wsgi_deploy.testhost.acme import bridge_gateway
from tests.e2e.conftest import CHECKOUT, SAMPLE, VENV_BIN
from tests.e2e.test_deploy import assert_verified, deploy_under_load, probe

GIT_DAEMON_DEADLINE = 15


def variant(tmp_path, name: str, old: str, new: str):
    """The sample app with one line changed."""
    folder = tmp_path / name
    shutil.copytree(CHECKOUT / "app", folder)
    (folder / "app.py").write_text((folder / "app.py").read_text().replace(old, new))
    return folder


def body(fleet) -> str:
    response = probe(fleet).get("https", fleet.hosts[0].server_name, "/")
    assert response.status_code == 200
    return response.text


def live_release(fleet) -> str:
    return fleet.sudo(f"readlink {SAMPLE.current_dir}").stdout.strip()


def releases(fleet) -> list[str]:
    return fleet.sudo(f"ls {SAMPLE.releases_dir}").stdout.split()


def rollback(fleet) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["./run.sh", "rollback", "flaskapp"], cwd=CHECKOUT, env=fleet.env, capture_output=True, text=True
    )


def test_new_code_is_a_new_release_and_a_rollback_holds_until_other_code(deployed, tmp_path):
    original = live_release(deployed)
    second = variant(tmp_path, "second", '"Good!"', '"Second!"')
    third = variant(tmp_path, "third", '"Good!"', '"Third!"')

    result = deployed.deploy("--data", f"app_source={second}", "--data", "releases_kept=2")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Release is live, once its health check passed" in result.changed
    assert "Apache reloads after its configtest passed" not in result.changed
    assert body(deployed) == "Second!"
    assert live_release(deployed) != original

    rolled = rollback(deployed)
    assert rolled.returncode == 0, rolled.stderr[-4000:]
    assert body(deployed) == "Good!"
    assert live_release(deployed) == original
    # The same code again does not undo the rollback; the original code changes nothing.
    again = deployed.deploy("--data", f"app_source={second}", "--data", "releases_kept=2")
    assert (again.returncode, again.changed) == (0, [])
    assert body(deployed) == "Good!"
    assert deployed.deploy().changed == []

    forward = deployed.deploy("--data", f"app_source={third}", "--data", "releases_kept=2")
    assert forward.returncode == 0, forward.stderr[-4000:]
    assert body(deployed) == "Third!"
    # The newest two are kept: the rolled-back second release and the original are gone.
    kept = releases(deployed)
    assert len([name for name in kept if not name.endswith(".rolled-back")]) == 2, kept
    assert live_release(deployed).rsplit("/", 1)[-1] in kept

    restored = deployed.deploy()
    assert restored.returncode == 0, restored.stderr[-4000:]
    assert body(deployed) == "Good!"
    assert_verified(deployed)


def summary(run: subprocess.CompletedProcess, host: str) -> str:
    """A host's line in the summary awd printed at the end of a run, without its name."""
    return re.findall(rf"^ +{re.escape(host)}: (.*)$", run.stderr, re.M)[-1]


@pytest.fixture
def webhook():
    """A chat's webhook on the control machine's loopback: the JSON of each post."""
    posts = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/services/T0/B0/token", posts
    server.shutdown()
    server.server_close()


def test_hooks_and_a_webhook_hear_every_deploy_and_rollback_and_a_failing_hook_changes_no_outcome(
    deployed, tmp_path, webhook
):
    url, posts = webhook
    heard = tmp_path / "heard"
    said = f'echo "$AWD_EVENT $AWD_ACTION $AWD_HOST $AWD_SITES $AWD_RELEASES" >> {heard}'
    notified = {
        "deploy_hooks": {
            "started": [said],
            "succeeded": [said, "echo chat is down >&2; exit 4"],
            "failed": [said],
            "rolled_back": [said],
        },
        "deploy_webhook": url,
    }
    original = live_release(deployed).rsplit("/", 1)[-1]
    second = variant(tmp_path, "second", '"Good!"', '"Second!"')
    broken = variant(tmp_path, "broken", 'return "Good!"', 'raise RuntimeError("broken release")')
    inventory = settings_inventory(deployed, tmp_path, **notified)
    name = deployed.hosts[0].alias

    def awd(*args: str) -> subprocess.CompletedProcess:
        return deployed.awd(*args, f"--inventory={inventory}")

    try:
        deployed_second = awd("deploy", "--data", f"app_source={second}")
        assert deployed_second.returncode == 0, deployed_second.stderr[-3000:]
        assert (
            f"--> hook 'echo chat is down >&2; exit 4' at {name} succeeded failed with exit status 4: chat is down"
            " (the run's outcome stands)" in deployed_second.stderr
        )
        release = live_release(deployed).rsplit("/", 1)[-1]
        rolled_back = awd("rollback", "flaskapp")
        assert rolled_back.returncode == 0
        kept = set(releases(deployed))
        failed = awd("deploy", "--data", f"app_source={broken}")
        assert failed.returncode == 1
        (never_live,) = set(releases(deployed)) - kept
        assert [line.rstrip() for line in heard.read_text().splitlines()] == [
            f"started deploy {name} flaskapp",
            f"succeeded deploy {name} flaskapp flaskapp={release}",
            f"started rollback {name} flaskapp",
            f"rolled_back rollback {name} flaskapp flaskapp={original}",
            f"started deploy {name} flaskapp",
            f"failed deploy {name} flaskapp flaskapp={never_live}",
        ]
        assert [post["event"] for post in posts] == [
            "started",
            "succeeded",
            "started",
            "rolled_back",
            "started",
            "failed",
        ]
        assert posts[3]["text"].startswith(f"awd rollback done on {name} by ")
        assert posts[5]["outcome"].startswith(f"{name}: FAILED at 'Application flaskapp | Release is live")
        # A drift check tells nobody.
        assert awd("check").returncode == 0 and len(posts) == 6

        # The host's audit trail holds each run that changed it, and an app command, as each ended.
        assert deployed.awd("app", "flaskapp", f"--inventory={inventory}", "--", "sh", "-c", "exit 3").returncode == 3
        status = awd("status", "--history", "4")
        history = status.stdout.split("  history:\n", 1)[1].splitlines()
        by = audit.deployer()
        assert [re.sub(r"^ +\S+ +", "", line) for line in history] == [
            f"deploy flaskapp by {by}: {summary(deployed_second, name)}",
            f"rollback flaskapp by {by}: {summary(rolled_back, name)}",
            f"deploy flaskapp by {by}: {summary(failed, name)}",
            f"app flaskapp: sh -c 'exit 3' by {by}: exit status 3",
        ]
    finally:
        assert deployed.deploy().returncode == 0
    assert body(deployed) == "Good!"


def test_a_release_failing_its_health_check_is_never_live(deployed, tmp_path):
    before = live_release(deployed)
    broken = variant(tmp_path, "broken", 'return "Good!"', 'raise RuntimeError("broken release")')

    result = deployed.deploy("--data", f"app_source={broken}")
    assert result.returncode != 0
    failed = result.last_operation
    assert failed.startswith("Application flaskapp | Release is live, once its health check passed")
    assert "GET / answered 500" in failed
    assert live_release(deployed) == before
    assert body(deployed) == "Good!"

    assert deployed.deploy().changed == []
    assert_verified(deployed)


def settings_inventory(fleet, folder, **settings) -> str:
    """An inventory of the test host with these settings over its own."""
    alias, data = fleet.hosts[0].inventory_entry()
    path = folder / "inventory.py"
    path.write_text(f"web_servers = [({alias!r}, {{**{data!r}, **{settings!r}}})]\n")
    return str(path)


def left_on_host(fleet, pattern: str) -> str:
    """Processes on the host whose command line matches pattern (pgrep -a), but pgrep's own."""
    listed = fleet.sudo(f"pgrep -af {shlex.quote(pattern)} || true").stdout.splitlines()
    return "\n".join(line for line in listed if "pgrep" not in line)


IMPORT = "from flask import"


@pytest.mark.parametrize(
    ("first_line", "settings", "failed_at", "says"),
    [
        pytest.param(
            "import sys; sys.exit(0)",
            {},
            "Release is live, once its health check passed",
            "the app exited with status 0",
            id="sys.exit(0) at import",
        ),
        pytest.param(
            None, {"wsgi_entry": "sys:exit()"}, "Release is live", "the app exited with status 0", id="sys:exit()"
        ),
        pytest.param(
            "import time; time.sleep(100000)",
            {"health_check_timeout": 5},
            "Release is live",
            "the app did not answer: GET / got no answer (timed out) (timeout 5 s)",
            id="an import that never returns",
        ),
        pytest.param(
            None,
            {"release_commands": ["sleep 100000"], "release_command_timeout": 5},
            "Release commands ran in the release, as the app's user",
            "release command timed out after 5 s, killed",
            id="a release command that never ends",
        ),
    ],
)
def test_a_release_that_exits_or_hangs_is_never_live_and_leaves_nothing_running(
    deployed, tmp_path, first_line, settings, failed_at, says
):
    before = live_release(deployed)
    source = variant(tmp_path, "app", IMPORT, f"{first_line}\n{IMPORT}") if first_line else CHECKOUT / "app"
    started = time.monotonic()
    result = deployed.deploy(inventory=settings_inventory(deployed, tmp_path, app_source=str(source), **settings))
    assert result.returncode != 0
    assert time.monotonic() - started < 120
    assert result.last_operation.startswith(f"Application flaskapp | {failed_at}")
    assert says in result.last_operation
    assert live_release(deployed) == before
    assert body(deployed) == "Good!"
    assert left_on_host(deployed, "healthcheck.py|inapp.py|sleep 100000") == ""
    # The releases that never went live count against releases_kept: a rerun may prune, once.
    assert set(deployed.deploy().changed) <= {"Only the newest releases are kept"}
    assert deployed.deploy().changed == []


@pytest.mark.parametrize(
    ("first_line", "settings", "running"),
    [
        (None, {"release_commands": ["sleep 100000"]}, "sleep 100000"),
        ("import time; time.sleep(100000)", {}, "healthcheck.py"),
    ],
    ids=["a release command", "a health check"],
)
def test_a_killed_deploy_leaves_nothing_running_on_the_host(deployed, tmp_path, first_line, settings, running):
    """Killed while the host runs a release's command or its health check (each with
    its long default timeout): what it ran is killed at once, not when the timeout ends."""
    source = variant(tmp_path, "app", IMPORT, f"{first_line}\n{IMPORT}") if first_line else CHECKOUT / "app"
    inventory = settings_inventory(deployed, tmp_path, app_source=str(source), **settings)
    deploy = subprocess.Popen(
        [str(VENV_BIN / "pyinfra"), "-y", inventory, "deploy.py"],
        cwd=CHECKOUT,
        env=deployed.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        poll(lambda: left_on_host(deployed, running), 120, f"{running} runs on the host")
    finally:
        deploy.kill()
        deploy.wait()
    poll(lambda: left_on_host(deployed, f"{running}|inapp.py") == "", 15, f"{running} is gone from the host")
    assert body(deployed) == "Good!"
    assert deployed.deploy().returncode == 0


def test_a_background_job_of_a_release_command_does_not_hold_the_deploy(deployed, tmp_path):
    inventory = settings_inventory(deployed, tmp_path, release_commands=["sleep 120 & echo started"])
    started = time.monotonic()
    result = deployed.deploy(inventory=inventory)
    assert result.returncode == 0, result.stderr[-3000:]
    assert time.monotonic() - started < 60
    # What it did is in the output, after the command it ran.
    assert re.search(r"release command: 'sleep 120 & echo started'\n(.*\n)*?.*started\n", result.stderr)
    assert left_on_host(deployed, "sleep 120") == ""
    assert deployed.deploy().returncode == 0
    assert body(deployed) == "Good!"


@dataclass
class GitServer:
    url: str
    repo: object

    def tag(self, name: str, body: str) -> None:
        """Commit the sample app answering `body` and tag it (annotated, as releases are)."""
        app = self.repo / "app.py"
        app.write_text((CHECKOUT / "app" / "app.py").read_text().replace('"Good!"', f'"{body}"'))
        identity = ["-c", "user.name=ci", "-c", "user.email=ci@example.com"]
        for command in (["add", "-A"], [*identity, "commit", "-qm", body], [*identity, "tag", "-a", "-m", body, name]):
            subprocess.run(["git", "-C", str(self.repo), *command], check=True, capture_output=True)


@pytest.fixture
def git_server(tmp_path):
    """A repository on the control machine, served to the test hosts by git daemon on
    podman's bridge (as a git server on the network would be)."""
    root = tmp_path / "git"
    repo = root / "shop"
    shutil.copytree(CHECKOUT / "app", repo)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    gateway = bridge_gateway()
    with socket.socket() as probe_socket:
        probe_socket.bind((gateway, 0))
        port = probe_socket.getsockname()[1]
    daemon = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            f"--base-path={root}",
            f"--listen={gateway}",
            f"--port={port}",
            str(root),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def listening() -> bool:
        try:
            socket.create_connection((gateway, port), timeout=1).close()
            return True
        except OSError:
            return False

    try:
        poll(listening, GIT_DAEMON_DEADLINE, "git daemon listens")
        yield GitServer(f"git://{gateway}:{port}/shop", repo)
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def git_source(server: GitServer, ref: str) -> str:
    return "app_source=" + json.dumps({"git": server.url, "ref": ref})


def test_git_tags_deploy_under_load_and_roll_back(deployed, git_server):
    git_server.tag("v1", "Tag one!")
    git_server.tag("v2", "Tag two!")
    first = deployed.deploy("--data", git_source(git_server, "v1"))
    assert first.returncode == 0, first.stderr[-4000:]
    assert "Release holds the commit's code, read-only for the daemon" in first.changed
    # The same pins as the folder it replaces: one pipeline, one virtualenv for both sources.
    assert "Virtualenv from the host's python3 holds the pinned requirements" not in first.changed
    assert body(deployed) == "Tag one!"
    assert deployed.deploy("--data", git_source(git_server, "v1")).changed == []

    second, load, bodies, serving = deploy_under_load(deployed, "Tag two!", "--data", git_source(git_server, "v2"))
    assert second.returncode == 0, second.stderr[-4000:]
    assert "Apache reloads after its configtest passed" not in second.changed
    print(
        f"git tag deploy under load: {load.sent} requests, {len(load.failures)} failed, bodies {dict(bodies)};"
        f" new tag serving {serving:.1f} s after the deploy started"
    )
    assert load.failures == []

    rolled = rollback(deployed)
    assert rolled.returncode == 0, rolled.stderr[-4000:]
    assert body(deployed) == "Tag one!"

    restored = deployed.deploy()
    assert restored.returncode == 0, restored.stderr[-4000:]
    assert body(deployed) == "Good!"
    assert_verified(deployed)

"""
Releases (issue 5): new code is a new release folder made live by a symlink; old ones
are pruned; `./run.sh rollback` goes back one and holds across reruns; a release whose
health check fails is never made live.
"""

from __future__ import annotations

import shutil
import subprocess

from tests.e2e.conftest import PROJECT
from tests.e2e.test_deploy import assert_verified, probe


def variant(tmp_path, name: str, old: str, new: str):
    """The sample app with one line changed."""
    folder = tmp_path / name
    shutil.copytree(PROJECT / "app", folder)
    (folder / "app.py").write_text((folder / "app.py").read_text().replace(old, new))
    return folder


def body(fleet) -> str:
    response = probe(fleet).get("https", fleet.hosts[0].server_name, "/")
    assert response.status_code == 200
    return response.text


def live_release(fleet) -> str:
    return fleet.sudo("readlink /srv/flaskapp/current").stdout.strip()


def releases(fleet) -> list[str]:
    return fleet.sudo("ls /srv/flaskapp/releases").stdout.split()


def rollback(fleet) -> subprocess.CompletedProcess:
    return subprocess.run(["./run.sh", "rollback", "flaskapp"], cwd=PROJECT, env=fleet.env,
                          capture_output=True, text=True)


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


def test_a_release_failing_its_health_check_is_never_live(deployed, tmp_path):
    before = live_release(deployed)
    broken = variant(tmp_path, "broken", 'return "Good!"', 'raise RuntimeError("broken release")')

    result = deployed.deploy("--data", f"app_source={broken}")
    assert result.returncode != 0
    failed = result.stderr.split("--> Starting operation: ")[-1]
    assert failed.startswith("Application flaskapp | Release is live, once its health check passed")
    assert "GET / answered 500" in failed
    assert live_release(deployed) == before
    assert body(deployed) == "Good!"

    assert deployed.deploy().changed == []
    assert_verified(deployed)

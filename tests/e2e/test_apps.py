"""
A team's own app (issue 14): a Flask app with an application factory and a SQLite
database in its data folder, which a release command creates. Its data outlives new
releases and a rollback, `./run.sh status` tells that history, and `./run.sh app` runs
a command in the live release; a release whose command fails never goes live, and the
data and the live release stay as they were; nor does a settings change (an entry point, an
environment) the app cannot start with.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.e2e.conftest import PROJECT, LoadLoop
from tests.e2e.test_deploy import assert_verified, probe
from tests.e2e.test_releases import live_release, rollback
from tests.polling import poll

NOTES = PROJECT / "tests" / "e2e" / "apps" / "notes"
INIT_DB = "flask --app notes init-db"


def notes_version(tmp_path, version: str):
    folder = tmp_path / version
    shutil.copytree(NOTES, folder)
    module = folder / "notes" / "__init__.py"
    module.write_text(module.read_text().replace('VERSION = "one"', f'VERSION = "{version}"'))
    return folder


def deploy_notes(fleet, source, *args: str, commands=(INIT_DB,)):
    return fleet.deploy(
        *("--data", f"app_source={source}", "--data", "wsgi_entry=notes:create_app()"),
        *("--data", 'linked_dirs=["instance"]', "--data", f"release_commands={json.dumps(list(commands))}"),
        *args,
    )


def run_sh(fleet, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["./run.sh", *args], cwd=PROJECT, env=fleet.env, capture_output=True, text=True)


def notes(fleet) -> str:
    response = probe(fleet).get("https", fleet.hosts[0].server_name, "/")
    assert response.status_code == 200, response.text
    return response.text


@pytest.fixture
def notes_app(deployed):
    yield deployed
    restored = deployed.deploy()
    assert restored.returncode == 0, restored.stderr[-4000:]
    assert_verified(deployed)


def test_the_apps_data_outlives_releases_and_a_rollback(notes_app, tmp_path):
    first = deploy_notes(notes_app, NOTES)
    assert first.returncode == 0, first.stderr[-4000:]
    assert "Release commands ran in the release, as the app's user" in first.changed
    added = probe(notes_app).request("POST", "https", notes_app.hosts[0].server_name, "/", data={"text": "kept"})
    assert added.status_code == 201, added.text
    assert notes(notes_app) == "one: kept"
    # The commands ran once: a rerun runs nothing.
    assert deploy_notes(notes_app, NOTES).changed == []

    for version in ("two", "three"):
        result = deploy_notes(notes_app, notes_version(tmp_path, version))
        assert result.returncode == 0, result.stderr[-4000:]
        assert notes(notes_app) == f"{version}: kept"
    rolled = rollback(notes_app)
    assert rolled.returncode == 0, rolled.stderr[-4000:]
    assert notes(notes_app) == "two: kept"
    releases = notes_app.sudo("ls /srv/flaskapp/releases").stdout.split()
    *earlier, two, three = (name for name in releases if not name.endswith(".rolled-back"))
    assert f"/srv/flaskapp: from {three} back to {two}" in rolled.stderr

    status = run_sh(notes_app, "status")
    assert status.returncode == 0, status.stderr[-4000:]
    lines = status.stdout.splitlines()
    assert lines[0] == f"{notes_app.hosts[0].alias}:"
    assert lines[1].startswith(f"  flaskapp: {two}, live since ")
    assert lines[1].endswith(f"(rollback from {three}); folder, digest {two.rsplit('-', 1)[1]}")
    assert lines[2] == "    GET /: HTTP/1.1 200 OK"
    assert lines[3] == f"    releases kept: {', '.join([*earlier, f'{two} (live)', f'{three} (rolled back)'])}"

    # A command in the live release's context, with the app's own code and environment.
    add = "from notes import create_app; app = create_app(); app.test_client().post('/', data={'text': 'by hand'})"
    command = run_sh(notes_app, "app", "flaskapp", "--", "python", "-c", add)
    assert command.returncode == 0, command.stderr[-4000:]
    assert notes(notes_app) == "two: kept, by hand"
    failing = run_sh(notes_app, "app", "flaskapp", "--", "sh", "-c", "id -un; exit 4")
    assert (failing.returncode, failing.stdout) == (4, "flaskapp\n")
    database = notes_app.sudo("stat -c '%U %a' /var/lib/flaskapp /var/lib/flaskapp/instance/notes.sqlite").stdout
    assert database.split("\n")[0] == "flaskapp 750", database


def test_a_release_whose_command_fails_never_goes_live(notes_app, tmp_path):
    assert deploy_notes(notes_app, NOTES).returncode == 0
    before = live_release(notes_app)
    failing = "echo 'no such column: note.author' >&2; exit 3"
    result = deploy_notes(notes_app, notes_version(tmp_path, "broken"), commands=(INIT_DB, failing))
    assert result.returncode != 0
    failed = result.stderr.split("--> Starting operation: ")[-1]
    assert failed.startswith("Application flaskapp | Release commands ran in the release, as the app's user")
    assert "no such column: note.author" in failed
    assert "exited 3" in failed
    assert live_release(notes_app) == before
    assert notes(notes_app).startswith("one: ")


def test_a_settings_change_that_breaks_the_app_never_reaches_the_live_one(deployed):
    """A wsgi_entry naming nothing is a new release of the same code, whose health check
    fails: the live release keeps its own entry point, and no request fails."""
    name = deployed.hosts[0].server_name
    with LoadLoop(lambda: probe(deployed).get("https", name, "/"), clients=4) as load:
        poll(lambda: load.sent > 20, 30, "load is flowing")
        result = deployed.deploy("--data", "wsgi_entry=app:no_such_app")
        sent_by_then = load.sent
        poll(lambda: load.sent > sent_by_then + 50, 30, "requests flow after the deploy")
    assert result.returncode != 0
    failed = result.stderr.split("--> Starting operation: ")[-1]
    assert failed.startswith("Application flaskapp | Release is live, once its health check passed")
    assert "no_such_app" in failed
    assert (load.failures, load.sent > 70) == ([], True)
    assert deployed.deploy().changed == []


def test_an_environment_the_app_cannot_start_with_never_reaches_the_live_one(notes_app, tmp_path):
    needs_secret = notes_version(tmp_path, "secret")
    module = needs_secret / "notes" / "__init__.py"
    module.write_text(module.read_text() + '\nSECRET = os.environ["NOTES_SECRET"]\n')
    with_secret = ("--data", 'app_env={"NOTES_SECRET": "s3cr3t"}')
    assert deploy_notes(notes_app, needs_secret, *with_secret).returncode == 0
    before = live_release(notes_app)
    result = deploy_notes(notes_app, needs_secret)
    assert result.returncode != 0
    assert "KeyError: 'NOTES_SECRET'" in result.stderr
    assert live_release(notes_app) == before
    assert notes(notes_app).startswith("secret: ")

"""
A team's own app (issue 14): a Flask app with an application factory and a SQLite
database in its data folder, which a release command creates. Its data outlives new
releases and a rollback; a release whose command fails never goes live, and the data
and the live release stay as they were.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.e2e.conftest import PROJECT
from tests.e2e.test_deploy import assert_verified, probe
from tests.e2e.test_releases import live_release, rollback

NOTES = PROJECT / "tests" / "e2e" / "apps" / "notes"
INIT_DB = "flask --app notes init-db"


def notes_version(tmp_path, version: str):
    folder = tmp_path / version
    shutil.copytree(NOTES, folder)
    module = folder / "notes" / "__init__.py"
    module.write_text(module.read_text().replace('VERSION = "one"', f'VERSION = "{version}"'))
    return folder


def deploy_notes(fleet, source, commands=(INIT_DB,)):
    return fleet.deploy(
        *("--data", f"app_source={source}", "--data", "wsgi_entry=notes:create_app()"),
        *("--data", 'linked_dirs=["instance"]', "--data", f"release_commands={json.dumps(list(commands))}"),
    )


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
    assert rollback(notes_app).returncode == 0
    assert notes(notes_app) == "two: kept"
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

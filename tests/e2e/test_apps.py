"""
A team's own app: a Django project made by `django-admin startproject`, its
migrations and collectstatic run as release commands, its admin logged in to over
HTTPS with a superuser made by `./run.sh app`; a Flask app with an application factory and a SQLite
database in its data folder, which a release command creates. Its data outlives new
releases and a rollback, `./run.sh status` tells that history, and `./run.sh app` runs
a command in the live release; a release whose command fails never goes live, and the
data and the live release stay as they were; nor does a settings change (an entry point, an
environment) the app cannot start with.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time

import pytest

from apache_wsgi_deploy.polling import poll
from tests.e2e.conftest import CHECKOUT, SAMPLE, VENV_BIN, LoadLoop
from tests.e2e.test_deploy import assert_verified, probe
from tests.e2e.test_releases import live_release

NOTES = CHECKOUT / "tests" / "e2e" / "apps" / "notes"
FLASKR = CHECKOUT / "tests" / "e2e" / "apps" / "flaskr"
INIT_DB = "flask --app notes init-db"


def documented(marker: str) -> dict:
    """The settings of the example in docs/releases.md that holds marker, as a team copies them."""
    for block in re.findall(r"```python\n(.*?)```", (CHECKOUT / "docs" / "releases.md").read_text(), re.S):
        if marker in block:
            values: dict = {}
            exec(block, values)  # noqa: S102 - our own documentation's example
            return {key: value for key, value in values.items() if not key.startswith("__")}
    raise AssertionError(f"docs/releases.md has no example with {marker!r}")


def notes_version(tmp_path, version: str, app=NOTES):
    folder = tmp_path / version
    shutil.copytree(app, folder)
    module = folder / app.name / "__init__.py"
    module.write_text(module.read_text().replace('VERSION = "one"', f'VERSION = "{version}"'))
    return folder


def app_inventory(fleet, folder, **settings) -> str:
    """An inventory of the test host with these settings: what the deploy and the
    verification suite both read."""
    alias, data = fleet.hosts[0].inventory_entry()
    path = folder / "app_inventory.py"
    path.write_text(f"web_servers = [({alias!r}, {{**{data!r}, **{settings!r}}})]\n")
    return str(path)


def passes_once_meant(fleet, folder, settings: dict, checks, **meant) -> None:
    """The same app, with settings that say its choice is meant: nothing to deploy, and
    the checks pass."""
    (folder / "meant").mkdir()
    inventory = app_inventory(fleet, folder / "meant", **settings, **meant)
    assert fleet.deploy(inventory=inventory).changed == []
    verify = fleet.verify(f"--inventory={inventory}", *checks)
    assert verify.returncode == 0, verify.stdout[-3000:]


def deploy_notes(fleet, source, commands=(INIT_DB,), **settings):
    notes_settings = {
        "wsgi_entry": "notes:create_app()",
        "linked_dirs": ["instance"],
        "release_commands": list(commands),
    }
    inventory = app_inventory(fleet, source.parent, app_source=str(source), **notes_settings, **settings)
    return fleet.deploy(inventory=inventory)


def run_sh(fleet, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["./run.sh", *args], cwd=CHECKOUT, env=fleet.env, capture_output=True, text=True)


def notes(fleet) -> str:
    response = probe(fleet).get("https", fleet.hosts[0].server_name, "/")
    assert response.status_code == 200, response.text
    return response.text


@pytest.fixture
def own_app(deployed):
    """The fleet, to deploy an app of the test's own to; the sample app deployed and
    verified again after it."""
    yield deployed
    restored = deployed.deploy()
    assert restored.returncode == 0, restored.stderr[-4000:]
    assert_verified(deployed)


def test_the_apps_data_outlives_releases_and_a_rollback(own_app, tmp_path):
    version_one = notes_version(tmp_path, "one")
    first = deploy_notes(own_app, version_one)
    assert first.returncode == 0, first.stderr[-4000:]
    assert "Release commands ran in the release, as the app's user" in first.changed
    added = probe(own_app).request("POST", "https", own_app.hosts[0].server_name, "/", data={"text": "kept"})
    assert added.status_code == 201, added.text
    assert notes(own_app) == "one: kept"
    # The commands ran once: a rerun runs nothing.
    assert deploy_notes(own_app, version_one).changed == []
    inventory = str(tmp_path / "app_inventory.py")
    verified = own_app.verify(f"--inventory={inventory}")
    assert verified.returncode == 0, verified.stdout[-6000:]

    for version in ("two", "three"):
        result = deploy_notes(own_app, notes_version(tmp_path, version))
        assert result.returncode == 0, result.stderr[-4000:]
        assert notes(own_app) == f"{version}: kept"
    rolled = subprocess.run(
        ["./run.sh", "rollback", "flaskapp", f"--inventory={inventory}"],
        cwd=CHECKOUT,
        env=own_app.env,
        capture_output=True,
        text=True,
    )
    assert rolled.returncode == 0, rolled.stderr[-4000:]
    assert notes(own_app) == "two: kept"
    releases = own_app.sudo("ls /srv/flaskapp/releases").stdout.split()
    *earlier, two, three = (name for name in releases if not name.endswith(".rolled-back"))
    assert f"/srv/flaskapp: from {three} back to {two}" in rolled.stderr

    status = run_sh(own_app, "status", f"--inventory={inventory}")
    assert status.returncode == 0, status.stderr[-4000:]
    lines = status.stdout.splitlines()
    assert lines[0] == f"{own_app.hosts[0].alias}:"
    assert lines[1].startswith(f"  flaskapp: {two}, live since ")
    assert lines[1].endswith(f"(rollback from {three}); folder, digest {two.split('-')[1]}")
    assert lines[2] == "    GET /: HTTP/1.1 200 OK"
    assert lines[3] == f"    releases kept: {', '.join([*earlier, f'{two} (live)', f'{three} (rolled back)'])}"

    # A command in the live release's context, with the app's own code and environment.
    add = "from notes import create_app; app = create_app(); app.test_client().post('/', data={'text': 'by hand'})"
    command = run_sh(own_app, "app", "flaskapp", f"--inventory={inventory}", "--", "python", "-c", add)
    assert command.returncode == 0, command.stderr[-4000:]
    assert notes(own_app) == "two: kept, by hand"
    failing = run_sh(own_app, "app", "flaskapp", f"--inventory={inventory}", "--", "sh", "-c", "id -un; exit 4")
    assert (failing.returncode, failing.stdout) == (4, "flaskapp\n")
    database = own_app.sudo("stat -c '%U %a' /var/lib/flaskapp /var/lib/flaskapp/instance/notes.sqlite").stdout
    assert database.split("\n")[0] == "flaskapp 750", database


def test_a_setup_command_runs_once_for_the_data_and_never_again(own_app, tmp_path):
    """A command that wipes the database (Flask's tutorial's init-db) as a setup command:
    it runs for the first release, shows what it did, and no later release runs it."""
    reset = "flask --app notes reset-db"
    # Versions of their own: a release of the same code rolled back earlier stays back.
    first = deploy_notes(own_app, notes_version(tmp_path, "set-up"), commands=(), setup_commands=[reset])
    assert first.returncode == 0, first.stderr[-4000:]
    assert "Setup commands ran once for the app's data, as the app's user" in first.changed
    assert re.search(r"setup command: 'flask --app notes reset-db'\n(.*\n)*?.*database reset\n", first.stderr)
    added = probe(own_app).request("POST", "https", own_app.hosts[0].server_name, "/", data={"text": "kept"})
    assert added.status_code == 201, added.text
    for version in ("after-one", "after-two"):
        result = deploy_notes(own_app, notes_version(tmp_path, version), commands=(), setup_commands=[reset])
        assert result.returncode == 0, result.stderr[-4000:]
        assert "Setup commands ran once for the app's data, as the app's user" not in result.changed
        assert notes(own_app) == f"{version}: kept"


def test_the_docs_setup_command_example_keeps_the_data_of_every_later_release(own_app, tmp_path):
    """docs/releases.md's settings for Flask's tutorial app, copied as they are: its init-db
    (DROP TABLE IF EXISTS) runs for the first release alone."""
    example = documented("flask --app flaskr init-db")
    settings = {**example, "wsgi_entry": "flaskr:create_app()", "linked_dirs": ["instance"]}
    name = own_app.hosts[0].server_name
    for version in ("first", "second"):
        source = notes_version(tmp_path, version, app=FLASKR)
        result = own_app.deploy(inventory=app_inventory(own_app, source, app_source=str(source), **settings))
        assert result.returncode == 0, result.stderr[-4000:]
        assert ("Initialized the database." in result.stderr) == (version == "first")
        if version == "first":
            added = probe(own_app).request("POST", "https", name, "/", data={"body": "kept"})
            assert added.status_code == 201, added.text
    assert probe(own_app).get("https", name, "/").text == "second: kept"


def test_a_release_whose_command_fails_never_goes_live(own_app, tmp_path):
    assert deploy_notes(own_app, notes_version(tmp_path, "one")).returncode == 0
    before = live_release(own_app)
    failing = "echo 'no such column: note.author' >&2; exit 3"
    result = deploy_notes(own_app, notes_version(tmp_path, "broken"), commands=(INIT_DB, failing))
    assert result.returncode != 0
    failed = result.last_operation
    assert failed.startswith("Application flaskapp | Release commands ran in the release, as the app's user")
    assert "no such column: note.author" in failed
    assert "exited 3" in failed
    assert live_release(own_app) == before
    assert notes(own_app).startswith("one: ")


def test_a_release_command_that_damages_the_data_is_undone_by_a_restore_with_its_release(own_app, tmp_path):
    """A snapshot is taken before a release's commands, with a database's own dump beside
    it; `awd restore` brings back the data (the dump fed to its command first) and the
    release live when it was taken, the site in maintenance meanwhile."""
    dump = {
        "snapshot_command": 'printf "dumped by %s in %s\\n" "$(id -un)" "$PWD"',
        "snapshot_restore_command": "cat > /tmp/awd-e2e-restored-dump",
    }
    assert deploy_notes(own_app, notes_version(tmp_path, "one"), **dump).returncode == 0
    one = live_release(own_app).rsplit("/", 1)[-1]
    added = probe(own_app).request("POST", "https", own_app.hosts[0].server_name, "/", data={"text": "kept"})
    assert added.status_code == 201, added.text
    before = notes(own_app)
    assert before.startswith("one: ") and before.endswith("kept")

    # Flask's tutorial's init-db as a release command: every note gone.
    resetting = (INIT_DB, "flask --app notes reset-db")
    version_two = notes_version(tmp_path, "two")
    damaging = deploy_notes(own_app, version_two, commands=resetting, **dump)
    assert damaging.returncode == 0, damaging.stderr[-4000:]
    assert "Data folder is in a snapshot before the release commands run" in damaging.changed
    assert notes(own_app) == "two: "
    two = live_release(own_app).rsplit("/", 1)[-1]
    inventory = str(tmp_path / "app_inventory.py")
    status = own_app.awd("status", f"--inventory={inventory}")
    taken = re.search(rf"^    snapshot ({two}-\w+): taken \S+, with {one} live$", status.stdout, re.M)
    assert taken, status.stdout
    snapshot = taken.group(1)
    tar = own_app.sudo(f"stat -c '%U:%G %a' /srv/flaskapp/snapshots/{snapshot}/data.tar").stdout.strip()
    assert tar == "root:flaskapp 640"
    kept = own_app.sudo(f"cat /srv/flaskapp/snapshots/{snapshot}/command.out").stdout
    # Run as the app's user in the release then live.
    assert kept == f"dumped by flaskapp in /srv/flaskapp/releases/{one}/app\n"

    server = own_app.hosts[0].server_name
    with LoadLoop(lambda: probe(own_app).get("https", server, "/"), max_seconds=60) as load:
        restored = own_app.awd("restore", "flaskapp", f"--inventory={inventory}")
    assert restored.returncode == 0, restored.stderr[-4000:]
    assert f"/srv/flaskapp: data back from snapshot {snapshot}, and release {one} live again in place of {two}" in (
        restored.stderr
    )
    # Nothing but the maintenance page while the data was swapped.
    assert set(load.failures) <= {"HTTP 503"}, load.failures[:5]
    assert notes(own_app) == before
    assert own_app.sudo("cat /tmp/awd-e2e-restored-dump").stdout == kept
    assert own_app.sudo("test -e /srv/flaskapp/maintenance-on || echo out").stdout == "out\n"
    owners = own_app.sudo("find /var/lib/flaskapp ! -user flaskapp | head -n 3").stdout
    assert owners == "", owners
    # The damaging release stays rolled back: deploying its code again leaves the restore in place.
    again = deploy_notes(own_app, version_two, commands=resetting, **dump)
    assert again.returncode == 0 and notes(own_app) == before
    history = own_app.awd("status", "--history", "2", f"--inventory={inventory}").stdout
    assert re.search(r"restore flaskapp by \S+: ", history), history


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
    failed = result.last_operation
    assert failed.startswith("Application flaskapp | Release is live, once its health check passed")
    assert "no_such_app" in failed
    assert (load.failures, load.sent > 70) == ([], True)
    # The live release never left: the rerun has nothing to switch (it may prune the failed one).
    rerun = deployed.deploy()
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    assert "Release is live, once its health check passed" not in rerun.changed


def test_an_environment_the_app_cannot_start_with_never_reaches_the_live_one(own_app, tmp_path):
    needs_secret = notes_version(tmp_path, "secret")
    module = needs_secret / "notes" / "__init__.py"
    module.write_text(module.read_text() + '\nSECRET = os.environ["NOTES_SECRET"]\n')
    assert deploy_notes(own_app, needs_secret, app_env={"NOTES_SECRET": "s3cr3t"}).returncode == 0
    before = live_release(own_app)
    result = deploy_notes(own_app, needs_secret)
    assert result.returncode != 0
    assert "KeyError: 'NOTES_SECRET'" in result.stderr
    assert live_release(own_app) == before
    assert notes(own_app).startswith("secret: ")


DJANGO_SETTINGS = """
import os

ALLOWED_HOSTS = [{server_name!r}]
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
DATABASES["default"]["NAME"] = os.path.join(os.environ["APP_DATA_DIR"], "db.sqlite3")
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE = True
"""
# docs/releases.md's example, as a team copies it.
DJANGO = documented("python manage.py migrate")


@pytest.fixture
def django_project(tmp_path, own_app):
    """A project as `django-admin startproject` makes it, set for production: only the
    site's name allowed, its database in the data folder, its static files collected."""
    project = tmp_path / "shop"
    project.mkdir()
    subprocess.run([str(VENV_BIN / "django-admin"), "startproject", "shop", str(project)], check=True)
    settings = project / "shop" / "settings.py"
    settings.write_text(settings.read_text() + DJANGO_SETTINGS.format(server_name=own_app.hosts[0].server_name))
    (project / "requirements.txt").write_text("asgiref==3.13.0\nDjango==5.2.19\nsqlparse==0.6.1\n")
    return project


def django_inventory(fleet, project) -> str:
    return app_inventory(
        fleet,
        project.parent,
        app_source=str(project),
        wsgi_entry="shop.wsgi:application",
        static_url="/static",
        static_dir="staticfiles",
        build_dirs=["staticfiles"],
        release_commands=DJANGO["release_commands"],
        health_check_path=DJANGO["health_check_path"],
        app_env={"DJANGO_SECRET_KEY": "e2e-not-secret"},
    )


def test_a_django_project_is_served_with_its_admin_and_its_static_files(own_app, django_project):
    deployed, inventory = own_app, django_inventory(own_app, django_project)
    started = time.monotonic()
    result = deployed.deploy(inventory=inventory)
    assert result.returncode == 0, result.stderr[-4000:]
    name, probe_ = deployed.hosts[0].server_name, probe(deployed)
    login = probe_.get("https", name, "/admin/login/")
    print(f"Django: from deploy to the admin login page served: {time.monotonic() - started:.1f} s")
    assert login.status_code == 200 and "csrfmiddlewaretoken" in login.text
    # The admin's CSS, which only collectstatic gathers, served by Apache from the release.
    css = probe_.get("https", name, "/static/admin/css/base.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert deployed.deploy(inventory=inventory).changed == []
    verified = deployed.verify(f"--inventory={inventory}")
    assert verified.returncode == 0, verified.stdout[-6000:]

    password = "e2e-admin-Pa55"
    create = run_sh(
        deployed, "app", "flaskapp", f"--inventory={inventory}", "--", "env", f"DJANGO_SUPERUSER_PASSWORD={password}",
        "python", "manage.py", "createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com",
    )  # fmt: skip
    assert create.returncode == 0, create.stderr[-2000:]

    def logs_in() -> None:
        with probe_.session(name) as browser:
            form = browser.get(probe_.url("https", name, "/admin/login/"))
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
            logged_in = browser.post(
                probe_.url("https", name, "/admin/login/?next=/admin/"),
                data={"csrfmiddlewaretoken": token, "username": "admin", "password": password, "next": "/admin/"},
                headers={"Origin": f"https://{name}", "Referer": f"https://{name}/admin/login/"},
            )
            assert (logged_in.status_code, logged_in.headers.get("Location")) == (302, "/admin/"), logged_in.text
            admin = browser.get(probe_.url("https", name, "/admin/"))
            assert admin.status_code == 200 and "Site administration" in admin.text

    logs_in()
    # A second release runs the docs' release commands again: its user is kept.
    urls = django_project / "shop" / "urls.py"
    urls.write_text(urls.read_text() + "\n# the second release\n")
    second = deployed.deploy(inventory=inventory)
    assert second.returncode == 0, second.stderr[-4000:]
    assert "Release is live, once its health check passed" in second.changed
    logs_in()


def one_module_app(tmp_path, module: str, code: str) -> dict:
    """The settings that deploy a WSGI app of one module (with the sample's pinned requirements)."""
    source = tmp_path / module
    source.mkdir()
    (source / f"{module}.py").write_text(code)
    shutil.copy(CHECKOUT / "app" / "requirements.txt", source)
    return {"app_source": str(source), "wsgi_entry": f"{module}:application"}


# An API with its own login: Basic credentials or a bearer token, checked by the app.
PRIVATE_API = """
import base64

ACCEPTED = {"Basic " + base64.b64encode(b"alice:s3cret").decode(), "Bearer token-7f3a"}


def application(environ, start_response):
    if environ["PATH_INFO"] == "/":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"up"]
    if environ.get("HTTP_AUTHORIZATION") in ACCEPTED:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"welcome"]
    start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="api"')])
    return [b"who are you?"]
"""


def test_an_app_with_its_own_login_gets_the_authorization_header(deployed, tmp_path):
    settings = one_module_app(tmp_path, "api", PRIVATE_API)
    name = deployed.hosts[0].server_name

    def answers() -> list[int]:
        web = probe(deployed)
        with web.session(name) as session:
            url = web.url("https", name, "/private")
            return [
                session.get(url).status_code,
                session.get(url, auth=("alice", "s3cret")).status_code,
                session.get(url, headers={"Authorization": "Bearer token-7f3a"}).status_code,
            ]

    try:
        inventory = app_inventory(deployed, tmp_path, **settings)
        result = deployed.deploy(inventory=inventory)
        assert result.returncode == 0, result.stderr[-3000:]
        assert answers() == [401, 200, 200]
        verify = deployed.verify(f"--inventory={inventory}", "-k", "authorization", "-v")
        assert verify.returncode == 0, verify.stdout[-3000:]

        (tmp_path / "withheld").mkdir()
        withheld = app_inventory(deployed, tmp_path / "withheld", **settings, wsgi_pass_authorization=False)
        assert deployed.deploy(inventory=withheld).returncode == 0
        assert answers() == [401, 401, 401]
        verify = deployed.verify(f"--inventory={withheld}", "-k", "authorization", "-v")
        assert verify.returncode == 0, verify.stdout[-3000:]
        # The check reads what Apache reads: the other setting's inventory finds it Off.
        assert deployed.verify(f"--inventory={inventory}", "-k", "authorization").returncode == 1
    finally:
        assert deployed.deploy().returncode == 0


# An app that reads a file it is given: a users file, as pypiserver's htpasswd or Radicale's.
READS_ITS_FILE = """
import os


def application(environ, start_response):
    with open(os.path.join(os.environ["APP_SECRETS_DIR"], "users")) as users:
        first = users.readline().split(":")[0]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"first user: {first}".encode()]
"""


def test_a_secret_file_reaches_the_app_alone_and_a_change_is_a_new_release(deployed, tmp_path):
    users = tmp_path / "users"
    users.write_text("alice:$apr1$secret-hash-one\n")
    # A password manager's command line: what it prints is the value, once per deploy.
    vault = tmp_path / "vault"
    vault.write_text(f'#!/bin/sh\necho run >> {tmp_path}/vault-runs\necho "$1-from-the-vault"\n')
    vault.chmod(0o755)
    settings = {
        **one_module_app(tmp_path, "reader", READS_ITS_FILE),
        "secret_files": {"users": {"from_file": str(users)}, "token": {"from_env": "READER_TOKEN"}},
        "app_env": {"READER_KEY": {"from_env": "READER_KEY"}, "READER_PIN": {"from_command": [str(vault), "pin-77a3"]}},
        # Release commands read them too.
        "release_commands": ['test -s "$APP_SECRETS_DIR/token" && grep -q "^[a-z]*:" "$APP_SECRETS_DIR/users"'],
    }
    inventory = app_inventory(deployed, tmp_path, **settings)
    env = {"READER_TOKEN": "token-0c5d", "READER_KEY": "key-41e9"}
    name = deployed.hosts[0].server_name
    try:
        result = deployed.deploy(inventory=inventory, env=env)
        assert result.returncode == 0, result.stderr[-4000:]
        assert probe(deployed).get("https", name, "/").text == "first user: alice"
        output = json.dumps(result.output) + result.stderr
        assert "secret-hash-one" not in output and "token-0c5d" not in output and "pin-77a3" not in output
        assert (tmp_path / "vault-runs").read_text() == "run\n"
        environment = json.loads(deployed.sudo("cat /srv/flaskapp/current/environment.json").stdout)
        assert environment["READER_PIN"] == "pin-77a3-from-the-vault"
        folder = deployed.sudo("ls -d /srv/flaskapp/secrets/*").stdout.split()
        assert len(folder) == 1
        modes = deployed.sudo(f"stat -c '%U %G %a %n' /srv/flaskapp/secrets {folder[0]} {folder[0]}/*").stdout
        assert modes.splitlines() == [
            "root flaskapp 750 /srv/flaskapp/secrets",
            f"root flaskapp 750 {folder[0]}",
            f"root flaskapp 640 {folder[0]}/token",
            f"root flaskapp 640 {folder[0]}/users",
        ]
        assert "Permission denied" in deployed.sudo(f"runuser -u www-data -- cat {folder[0]}/users 2>&1 || true").stdout
        # awd validates before it forks a process per host: the command ran once again, not per host.
        rerun = deployed.awd("deploy", "--inventory", inventory, env=env)
        assert rerun.returncode == 0 and ": converged, 0 changed" in rerun.stderr, rerun.stderr[-3000:]

        # Only a deploy needs the secrets: the drift check compares what it cannot read here
        # as the live release has it, and says so; status and app read the host alone.
        users.rename(tmp_path / "users.elsewhere")
        checked = deployed.awd("check", "--inventory", inventory)
        assert checked.returncode == 0, checked.stdout + checked.stderr[-3000:]
        assert "note: flaskapp: app_env READER_KEY, READER_PIN cannot be read here" in checked.stdout
        # A drift check never runs the password manager.
        assert (tmp_path / "vault-runs").read_text() == "run\n" * 2
        assert "note: flaskapp: secret_files users, token cannot be read here" in checked.stdout
        assert deployed.awd("status", "--inventory", inventory).returncode == 0
        assert deployed.awd("app", "flaskapp", "--inventory", inventory, "--", "true").returncode == 0
        refused = deployed.awd("deploy", "--inventory", inventory)
        assert refused.returncode == 1
        assert "reads environment variable READER_KEY, which is not set on the control machine" in refused.stderr
        (tmp_path / "users.elsewhere").rename(users)

        users.write_text("bob:$apr1$secret-hash-two\n")
        changed = deployed.deploy(inventory=inventory, env=env)
        assert changed.returncode == 0, changed.stderr[-4000:]
        assert "Release is live, once its health check passed" in changed.changed
        assert probe(deployed).get("https", name, "/").text == "first user: bob"
        assert len(deployed.sudo("ls -d /srv/flaskapp/secrets/*").stdout.split()) == 2  # the rollback's kept
    finally:
        assert deployed.deploy().returncode == 0


# An app that compresses its own answers, as Radicale does.
COMPRESSES_ITSELF = """
import gzip


def application(environ, start_response):
    body = b"compressed by the app " * 20
    headers = [("Content-Type", "text/plain"), ("Vary", "Accept-Encoding")]
    if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
        body = gzip.compress(body)
        headers.append(("Content-Encoding", "gzip"))
    start_response("200 OK", headers)
    return [body]
"""


def test_an_app_that_compresses_its_own_answers_fails_verification_until_the_setting_says_so(deployed, tmp_path):
    settings = one_module_app(tmp_path, "squeezer", COMPRESSES_ITSELF)
    checks = ("-k", "compress", "-v")
    try:
        inventory = app_inventory(deployed, tmp_path, **settings)
        assert deployed.deploy(inventory=inventory).returncode == 0
        verify = deployed.verify(f"--inventory={inventory}", *checks)
        assert verify.returncode == 1
        assert "test_apache_never_compresses_the_apps_responses" in verify.stdout
        assert re.findall(r"::(\S+) FAILED", verify.stdout) == [
            f"test_the_apps_responses_are_not_compressed[{deployed.hosts[0].alias}:flaskapp]"
        ]
        assert "if meant, set app_compresses_responses = True" in verify.stdout

        passes_once_meant(deployed, tmp_path, settings, checks, app_compresses_responses=True)
    finally:
        assert deployed.deploy().returncode == 0


# An app that sends every unknown path to a page of its own with an empty 303, as
# pypiserver does (to /simple/<path>/, which answers 404).
REDIRECTS_UNKNOWN_PATHS = """
def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"index"]
    if path.startswith("/simple/"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such package"]
    start_response("303 See Other", [("Location", "/simple" + path.rstrip("/") + "/"), ("Content-Length", "0")])
    return [b""]
"""


def test_an_app_that_redirects_unknown_paths_passes_the_sensitive_path_checks(deployed, tmp_path):
    try:
        inventory = app_inventory(deployed, tmp_path, **one_module_app(tmp_path, "index", REDIRECTS_UNKNOWN_PATHS))
        assert deployed.deploy(inventory=inventory).returncode == 0
        verify = deployed.verify(f"--inventory={inventory}", "-k", "sensitive or listed", "-v")
        assert verify.returncode == 0, verify.stdout[-3000:]
        assert "test_sensitive_path_is_not_served" in verify.stdout
    finally:
        assert deployed.deploy().returncode == 0


# pypiserver frozen on Python 3.11: on 3.13 it needs legacy-cgi too (the cgi module is gone).
FROZEN_ON_311 = [
    "defusedxml==0.7.1",
    "importlib-resources==6.5.2",
    "packaging==26.0",
    "pip==26.0.1",
    "pypiserver==2.4.2",
]
VENV_STEP = "Virtualenv from the host's python3 holds the pinned requirements"


def test_the_virtualenv_holds_exactly_its_pins_and_pins_that_fall_short_fail_under_its_step(deployed, tmp_path):
    source = tmp_path / "app"
    shutil.copytree(CHECKOUT / "app", source)
    sample = [line for line in (source / "requirements.txt").read_text().splitlines() if "==" in line]
    name, alias = deployed.hosts[0].server_name, deployed.hosts[0].alias

    def deploy_with(pins: list[str]) -> dict:
        (source / "requirements.txt").write_text("\n".join(pins) + "\n")
        run = deployed.awd("deploy", "--json", "--data", f"app_source={source}")
        return json.loads(run.stdout)["hosts"][alias]

    live = live_release(deployed)
    try:
        # Flask without one of its own requirements: pip would have resolved it on the side.
        short = deploy_with([pin for pin in sample if not pin.startswith("Werkzeug")])
        assert short["exit_status"] == 1 and short["failed_at"].endswith(VENV_STEP), short
        assert "requires werkzeug, which is not installed" in short["cause"].lower(), short
        # A freeze made on another Python: what 3.13 needs besides is named, not resolved.
        other_python = deploy_with(sample + FROZEN_ON_311)
        assert other_python["failed_at"].endswith(VENV_STEP), other_python
        assert "requires legacy-cgi, which is not installed" in other_python["cause"].lower(), other_python
        assert live_release(deployed) == live
        assert probe(deployed).get("https", name, "/").status_code == 200

        complete = deploy_with(sample + FROZEN_ON_311 + ["legacy-cgi==2.6.4"])
        assert complete["exit_status"] == 0, complete
        venv = deployed.sudo(f"readlink -f {SAMPLE.venv}").stdout.strip()
        # pip as pinned, not upgraded on the side; nothing the pins do not name.
        assert deployed.sudo(f"{venv}/bin/pip --version").stdout.startswith("pip 26.0.1 ")
        held = deployed.sudo(f"ls {venv}/lib/python3*/site-packages | grep dist-info$").stdout.split()
        assert len(held) == len(sample + FROZEN_ON_311) + 1, held

        # A package installed by hand into the live virtualenv: drift, a failed check, put right.
        deployed.sudo(f"{venv}/bin/pip install --quiet --no-deps six==1.17.0")
        checked = deployed.awd("check", "--data", f"app_source={source}")
        assert checked.returncode == 2 and VENV_STEP in checked.stdout, checked.stdout
        assert deployed.verify("-k", "exactly_its_pins").returncode == 1
        repaired = deploy_with(sample + FROZEN_ON_311 + ["legacy-cgi==2.6.4"])
        assert any(step.endswith(VENV_STEP) for step in repaired["changed"]), repaired
        assert "six-1.17.0.dist-info" not in deployed.sudo(f"ls {venv}/lib/python3*/site-packages").stdout
        verified = deployed.verify("-k", "exactly_its_pins")
        assert verified.returncode == 0, verified.stdout[-3000:]
    finally:
        assert deployed.deploy().returncode == 0

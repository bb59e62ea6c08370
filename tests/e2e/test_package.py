"""
The package as a team installs it: the wheel built from this checkout, installed into a
fresh virtualenv outside it by an unprivileged user with no apt step, who runs `awd init`
in an empty folder, points its inventory at a test host, and runs every command. The
scaffolded project's `pyinfra inventory.py deploy.py` works too, with an operation of the
team's own added. Nothing is written into the checkout.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from apache_wsgi_deploy import testhost
from apache_wsgi_deploy.testhost.fleet import CLIENT_KEY
from tests import CHECKOUT
from tests.e2e.conftest import fleet_name
from tests.e2e.test_deploy import probe

FLEET = fleet_name("package")
USER = "awd-team"


def checkout_files() -> set[str]:
    """The checkout's files git does not track (untracked or ignored), but the test hosts' state."""
    listed = subprocess.run(
        ["git", "status", "--porcelain", "-z", "--ignored", "--untracked-files=all"],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {entry[3:] for entry in listed.split("\0") if entry[:2] in ("??", "!!") and ".testhosts/" not in entry}


def written_for(alias: str, paths: set[str]) -> list[str]:
    """Of the checkout's paths, those the team's user wrote or that name its host: the
    other tests' runs (another pytest-xdist worker's) write there meanwhile, and may
    remove what they wrote (their oldest logs)."""
    written = []
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            if alias in path or (CHECKOUT / path).owner() == USER:
                written.append(path)
    return written


@pytest.fixture(scope="module")
def team_user():
    subprocess.run(["userdel", "-r", USER], capture_output=True)
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", USER], check=True)
    home = pwd.getpwnam(USER).pw_dir
    yield home
    subprocess.run(["userdel", "-r", USER], capture_output=True)


def as_user(home: str, *command: str, cwd: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """A command as the team's unprivileged user, with a login's environment."""
    env = {"HOME": home, "USER": USER, "PATH": f"{home}/venv/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    # pip's settings of this machine (where packages come from) hold for every user.
    env.update({key: value for key, value in os.environ.items() if key.startswith("PIP_")})
    done = subprocess.run(
        ["runuser", "-u", USER, "--", "env", "-i", *(f"{key}={value}" for key, value in env.items()), *command],
        cwd=cwd or home,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if check:
        assert done.returncode == 0, f"{command}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel, built from a copy of the checkout's files (a build writes beside its source)."""
    source = tmp_path_factory.mktemp("source")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=CHECKOUT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (CHECKOUT / name).is_symlink():
            target.symlink_to(os.readlink(CHECKOUT / name))
        elif (CHECKOUT / name).is_file():
            shutil.copy2(CHECKOUT / name, target)
    dist = tmp_path_factory.mktemp("dist")
    dist.chmod(0o755)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check", "-w", dist, source],
        check=True,
        capture_output=True,
    )
    (built,) = dist.glob("apache_wsgi_deploy-*.whl")
    built.chmod(0o644)
    return built


def team_host(test_host, project) -> tuple[str, dict]:
    """The test host as the team's inventory lists it, with copies of its SSH key, known
    hosts and certificate files the team's user owns (paths relative to the project where
    settings allow)."""
    _, data = test_host.inventory_entry()
    own = project / "testhost"
    own.mkdir()
    shutil.copy(CLIENT_KEY, own / "id_ed25519")
    shutil.copy(data["ssh_known_hosts_file"], own / "known_hosts")
    for name in ("cert.pem", "chain.pem", "privkey.pem"):
        shutil.copy(f"{test_host.cert_dir}/{name}", own / name)
    shutil.copy(data["verify_ca_bundle"], own / "ca.pem")
    del data["ssh_config_file"]
    data.update(
        ssh_hostname="127.0.0.1",
        ssh_port=test_host.ssh_port,
        ssh_user="deploy",
        ssh_key=str(own / "id_ed25519"),
        ssh_known_hosts_file=str(own / "known_hosts"),
        tls_certificate_file="testhost/cert.pem",
        tls_chain_file="testhost/chain.pem",
        tls_key_file="testhost/privkey.pem",
        verify_ca_bundle="testhost/ca.pem",
    )
    return test_host.alias, data


def test_a_team_installs_the_wheel_and_runs_every_command_from_its_own_folder(team_user, wheel):
    hosts = testhost.up(FLEET, count=1)
    try:
        before = checkout_files()
        home = team_user
        shutil.copy(wheel, home)
        started = time.monotonic()
        as_user(home, "/usr/bin/python3", "-m", "venv", f"{home}/venv")
        as_user(home, f"{home}/venv/bin/pip", "install", "-q", f"{home}/{wheel.name}")
        print(f"wheel {wheel.stat().st_size} bytes, installed in {time.monotonic() - started:.1f} s")
        version = as_user(home, "awd", "--version").stdout.strip()
        assert version.startswith("apache-wsgi-deploy ")

        project = f"{home}/shop"
        as_user(home, "mkdir", project)
        as_user(home, "awd", "init", cwd=project)
        folder = Path(project)
        assert sorted(p.name for p in folder.iterdir()) == [".gitignore", "deploy.py", "group_data", "inventory.py"]
        # The team's own app, and its inventory pointing at the test host.
        shutil.copytree(CHECKOUT / "app", folder / "app")
        alias, data = team_host(hosts[0], folder)
        listed = f"web_servers = [({alias!r}, {data!r})]\n"
        inventory = (folder / "inventory.py").read_text().replace("web_servers = []\n", listed)
        (folder / "inventory.py").write_text(inventory)
        subprocess.run(["chown", "-R", f"{USER}:{USER}", project], check=True)
        (folder / "testhost" / "id_ed25519").chmod(0o600)

        first = as_user(home, "awd", "deploy", "--json", cwd=project)
        (outcome,) = json.loads(first.stdout)["hosts"].values()
        site = SimpleNamespace(hosts=hosts)
        assert outcome["exit_status"] == 0 and outcome["changed"], first.stderr[-3000:]
        rerun = as_user(home, "awd", "deploy", "--json", cwd=project)
        (outcome,) = json.loads(rerun.stdout)["hosts"].values()
        assert (outcome["exit_status"], outcome["changed"]) == (0, [])
        assert as_user(home, "awd", "check", cwd=project).stdout.endswith(
            "1 of 1 host(s) match, 0 drifted, 0 not checked\n"
        )
        verified = as_user(home, "awd", "verify", cwd=project)
        assert " passed" in verified.stdout and " failed" not in verified.stdout
        first_release = json.loads(as_user(home, "awd", "status", "--json", cwd=project).stdout)
        (status,) = first_release["hosts"].values()
        live = status["sites"][0]["current"]
        assert live

        # A second release, then back to the first.
        (folder / "app" / "app.py").write_text((folder / "app" / "app.py").read_text().replace('"Good!"', '"Newer!"'))
        as_user(home, "awd", "deploy", cwd=project)
        assert "Newer!" in probe(site).get("https", hosts[0].server_name, "/").text
        as_user(home, "awd", "rollback", "flaskapp", cwd=project)
        assert "Good!" in probe(site).get("https", hosts[0].server_name, "/").text
        (status,) = json.loads(as_user(home, "awd", "status", "--json", cwd=project).stdout)["hosts"].values()
        assert status["sites"][0]["current"] == live

        # The scaffolded deploy.py through pyinfra itself, with an operation of the team's own,
        # sudo given as pyinfra's global argument to both rather than as host data.
        deploy = (folder / "deploy.py").read_text().replace("whole_server()", "whole_server(_sudo=True)")
        own = "from pyinfra.operations import files\n\n"
        own += 'files.directory(name="Team tools", path="/opt/team-tools", _sudo=True)\n'
        (folder / "deploy.py").write_text(deploy + "\n" + own)
        without_sudo = {key: value for key, value in data.items() if key != "_sudo"}
        (folder / "nosudo.py").write_text(f"web_servers = [({alias!r}, {without_sudo!r})]\n")
        pyinfra = as_user(home, "pyinfra", "-y", "nosudo.py", "deploy.py", cwd=project)
        assert hosts[0].run_as_root("test -d /opt/team-tools", check=False).returncode == 0, pyinfra.stderr[-3000:]
        # The runs' logs and caches are the project's.
        assert (folder / ".logs").is_dir()
        assert written_for(alias, checkout_files() - before) == []
    finally:
        if not os.environ.get("AWD_KEEP_TESTHOSTS"):
            testhost.down(FLEET)

"""awd: one command line, every command selecting hosts the same way, and what each
says when it cannot act."""

import shutil
import subprocess
import sys

import pytest

from apache_wsgi_deploy import __version__, cli
from apache_wsgi_deploy.cli import common
from apache_wsgi_deploy.hosts import SelectionError
from tests import CHECKOUT

HOST_COMMANDS = [
    ["deploy"],
    ["check"],
    ["verify"],
    ["status"],
    ["rollback", "flaskapp"],
    ["restore", "flaskapp"],
    ["app", "flaskapp"],
    ["logs", "flaskapp"],
    ["maintenance", "on", "flaskapp"],
]


@pytest.mark.parametrize("command", HOST_COMMANDS, ids=lambda command: command[0])
def test_every_command_selects_its_hosts_through_the_one_selection(command, monkeypatch, capsys):
    asked = []

    def selected(inventory, limit, exclude, deploys=True, override_data=None, app_values=True):
        asked.append((inventory, limit, exclude))
        raise SelectionError("no host of prod.py is left by --limit and --exclude")

    monkeypatch.setattr(common, "selected", selected)
    options = ["--inventory", "prod.py", "--limit", "web*", "--limit", "db", "--exclude", "web2"]
    status = cli.main([*command, *options, *(["--", "true"] if command[0] == "app" else [])])
    assert asked == [("prod.py", ["web*", "db"], ["web2"])]
    assert status == 1
    assert f"awd {command[0]}: no host of prod.py is left" in capsys.readouterr().err


def test_version_and_help():
    run = subprocess.run([sys.executable, "-m", "apache_wsgi_deploy.cli", "--version"], capture_output=True, text=True)
    assert run.stdout.strip() == f"apache-wsgi-deploy {__version__}"
    run = subprocess.run([sys.executable, "-m", "apache_wsgi_deploy.cli", "--help"], capture_output=True, text=True)
    assert all(name in run.stdout for name in cli.COMMANDS)


def test_app_needs_a_command(capsys):
    assert cli.main(["app", "flaskapp"]) == 2
    assert "no command" in capsys.readouterr().err


def test_unknown_options_of_a_command_that_takes_none_are_refused():
    with pytest.raises(SystemExit) as exit:
        cli.main(["app", "flaskapp", "--bogus", "--", "true"])
    assert exit.value.code == 2


def test_init_writes_the_project_and_keeps_what_exists(tmp_path, capsys):
    (tmp_path / "deploy.py").write_text("# ours\n")
    assert cli.main(["init", str(tmp_path)]) == 0
    assert (tmp_path / "deploy.py").read_text() == "# ours\n"
    assert sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*") if path.is_file()) == [
        ".gitignore",
        "deploy.py",
        "group_data/web_servers.py",
        "inventory.py",
    ]
    assert "exists, left as it is" in capsys.readouterr().err


def test_bad_settings_are_one_message_before_any_host(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inventory.py").write_text("web_servers = [('web1', {'acme_agree_tos': True, 'wsgi_threads': 0})]\n")
    run = subprocess.run(
        [sys.executable, "-m", "apache_wsgi_deploy.cli", "check"], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 1
    assert "awd check: host web1: setting 'wsgi_threads' = 0 is invalid" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("command", "line"),
    [
        (["deploy"], "    web1: NOT REACHED, Could not connect"),
        (["check"], "web1: NOT CHECKED, Could not connect"),
        (["status"], "web1: NOT READ, Could not connect"),
        (["rollback", "flaskapp"], "    web1: NOT REACHED, Could not connect"),
        (["restore", "flaskapp"], "    web1: NOT REACHED, Could not connect"),
        (["verify"], "web1: NOT REACHED, ssh: connect to host 127.0.0.1 port 9: Connection refused"),
        (["app", "flaskapp", "--", "true"], "ssh: connect to host 127.0.0.1 port 9: Connection refused"),
    ],
    ids=lambda value: value[0] if isinstance(value, list) else None,
)
def test_an_unreachable_host_is_one_line_and_exit_1_in_every_command(command, line, tmp_path):
    shutil.copytree(CHECKOUT / "app", tmp_path / "app")
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    data = {"acme_agree_tos": True, "ssh_hostname": "127.0.0.1", "ssh_port": 9, "ssh_user": "x"}
    (tmp_path / "inventory.py").write_text(f"web_servers = [('web1', {data!r})]\n")
    run = subprocess.run(
        [sys.executable, "-m", "apache_wsgi_deploy.cli", *command], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 1
    lines = (run.stdout + run.stderr).splitlines()
    assert [text for text in lines if text.startswith(line)] != [], lines
    # Besides the progress line a run shows as each host ends ("[1/1] web1: ...").
    others = [text for text in lines if "web1" in text and not text.startswith((line, "[1/1] web1: NOT REACHED"))]
    assert others == []


def test_an_inventory_that_gives_a_host_data_twice_is_refused(tmp_path):
    (tmp_path / "inventory.py").write_text(
        "web_servers = [('web1', {'hsts_max_age': 31536000}), ('web2', {}), ('web1', {'hsts_max_age': 0})]\n"
        "staging = ['web2']\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "apache_wsgi_deploy.cli", "status"], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 1
    assert "awd status: inventory.py lists web1 more than once with data of its own" in run.stderr

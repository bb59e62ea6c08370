"""Our operations yield exactly the commands that close the gap, and nothing otherwise."""

import re
import subprocess

import pytest
from pyinfra.api import OperationError, OperationValueError

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.operations import apache
from tests.unit.harness import host_tool, load, read, run_operation


@pytest.mark.parametrize(("operation", "path"), load("operations"), ids=lambda value: getattr(value, "stem", value))
def test_operation_fixture(operation, path):
    fixture = read(path)
    commands, noops = run_operation(operation, fixture)
    assert commands == fixture["commands"]
    if "noop_description" in fixture:
        assert noops == [fixture["noop_description"]]
    else:
        assert noops == []


@pytest.mark.parametrize("bad", ["wsgi ssl", "wsgi;reboot", "../x", "a\nb", "", "wsgi\n"])
def test_module_names_that_would_reach_the_shell_are_refused(bad):
    with pytest.raises(OperationValueError, match="invalid Apache module name"):
        run_operation("apache.modules", {"kwargs": {"modules": [bad]}, "facts": {"apache.ApacheLinks": None}})


@pytest.mark.parametrize("bad", ["my site", "x'y", "a/b"])
def test_site_names_that_would_reach_the_shell_are_refused(bad):
    with pytest.raises(OperationValueError, match="invalid Apache sites name"):
        run_operation("apache.site", {"kwargs": {"site": bad}, "facts": {"apache.ApacheLinks": None}})


def test_an_existing_account_is_never_taken_over_as_an_apps_own_user():
    backup = {"home": "/var/backups", "shell": "/usr/sbin/nologin"}
    with pytest.raises(OperationError, match="user 'backup' exists with home '/var/backups'.*set wsgi_user"):
        run_operation(
            "accounts.system_user",
            {"kwargs": {"user": "backup", "home": "/srv/backup"}, "facts": {"accounts.Account": backup}},
        )


def sh(command) -> None:
    subprocess.run(["sh", "-c", getattr(command, "get_raw_value", lambda: command)()], check=True)


def test_a_failed_configtest_puts_back_the_files_and_links_the_deploy_changed(tmp_path, monkeypatch):
    """The shell config_template/site/conf run and the reload tool's restore, on real files and links."""
    monkeypatch.setattr(layout, "CONFIG_BEFORE_DIR", str(tmp_path / "before"))
    vhost, new_conf = tmp_path / "site.conf", tmp_path / "new.conf"
    enabled, disabled = tmp_path / "enabled.conf", tmp_path / "disabled.conf"
    vhost.write_text("before\n")
    enabled.symlink_to(vhost)
    for path in (vhost, new_conf, enabled, disabled):
        sh(apache.keep_previous(str(path)))
    vhost.write_text("first change\n")
    sh(apache.keep_previous(str(vhost)))  # a second change keeps the first copy
    vhost.write_text("second change\n")
    new_conf.write_text("new\n")
    enabled.unlink()
    disabled.symlink_to(vhost)

    host_tool("reload").restore(tmp_path / "before")

    assert vhost.read_text() == "before\n"
    assert not new_conf.exists()
    assert enabled.is_symlink() and enabled.resolve() == vhost
    assert not disabled.is_symlink()
    assert not (tmp_path / "before").exists()


CLEAN = {"login": "deploy", "uid": 998, "groups": ["shop"], "gids": [998], "group_gid": 998, "sudo": False,
         "polkit": []}  # fmt: skip


@pytest.mark.parametrize(
    ("identity", "reason"),
    [
        ({"uid": 0}, "user shop has uid 0"),
        ({"group_gid": 0}, "group shop has gid 0"),
        ({"gids": [998, 0]}, "user shop has gid 0"),
        ({"groups": ["shop", "docker"]}, "user shop is in group docker"),
        ({"sudo": True}, "sudo lets user shop run commands"),
        (
            {"polkit": ["org.freedesktop.systemd1.manage-units"]},
            r"polkit lets user shop \(group shop\) do org.freedesktop.systemd1.manage-units",
        ),
        ({"login": "shop"}, "user shop is the SSH user the deploy logs in as"),
    ],
)
def test_an_app_never_runs_as_an_account_that_can_become_root(identity, reason):
    with pytest.raises(OperationError, match=f"refusing to run an app as user shop, group shop: {reason}"):
        run_operation(
            "accounts.unprivileged",
            {"kwargs": {"user": "shop", "group": "shop"}, "facts": {"accounts.Identity": {**CLEAN, **identity}}},
        )


def test_the_reload_says_why_apache_stopped_from_what_it_logged_since():
    logged = """[Tue Dec 01 12:25:26.486408 2026] [mpm_event:notice] [pid 1184:tid 1184] AH00493: SIGUSR1 received.
AH00558: apache2: Could not reliably determine the server's fully qualified domain name
(98)Address already in use: AH00072: make_sock: could not bind to address [::]:22
(98)Address already in use: AH00072: make_sock: could not bind to address 0.0.0.0:22
[Tue Dec 01 12:25:26.541520 2026] [mpm_event:alert] [pid 1184:tid 1184] no listening sockets available, shutting down
"""
    cause = host_tool("reload").cause(logged)
    assert cause.startswith("(98)Address already in use: AH00072: make_sock: could not bind to address [::]:22 | ")
    assert cause.endswith("no listening sockets available, shutting down")
    assert "AH00493" not in cause and "AH00558" not in cause


CAPACITY = {"cpus": 2, "memory_kib": 2 * 1024 * 1024, "task_limit": 2048, "task_limit_from": "the cgroup's pids.max"}


@pytest.mark.parametrize(
    ("daemons", "tasks_max", "refusal"),
    [
        (
            [{"app_name": "shop", "processes": 64, "threads": 256}],
            28909,
            "the sites' daemons and Apache need 16907 tasks (shop 64 x (256 + 3); Apache 331), more than 75% of the"
            " 2048 that the cgroup's pids.max allows",
        ),
        (
            [{"app_name": "shop", "processes": 4, "threads": 256}],
            1200,
            "the sites' daemons and Apache need 1367 tasks (shop 4 x (256 + 3); Apache 331), more than 75% of the"
            " 1200 that apache2.service's TasksMax allows",
        ),
        (
            [{"app_name": "shop", "processes": 64, "threads": 1}, {"app_name": "blog", "processes": 64, "threads": 1}],
            None,
            "the sites' 128 daemon processes need at least 3200 MiB, more than 75% of the host's 2048 MiB",
        ),
    ],
    ids=["threads past the task limit", "threads past Apache's TasksMax", "processes past the memory"],
)
def test_settings_the_host_cannot_run_are_refused_before_any_change(daemons, tasks_max, refusal):
    facts = {
        "capacity.Capacity": CAPACITY,
        "apache.ApacheService": {"active": True, "enabled": True, "tasks_max": tasks_max},
    }
    with pytest.raises(OperationError, match=re.escape(f"refusing settings this host cannot run: {refusal}")):
        run_operation("capacity.suffices", {"kwargs": {"daemons": daemons, "apache_tasks": 331}, "facts": facts})

"""Our operations yield exactly the commands that close the gap, and nothing otherwise."""

import subprocess

import pytest
from pyinfra.api import OperationError, OperationValueError

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.operations import apache
from tests.unit.harness import load, read, run_operation


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
            {"kwargs": {"user": "backup", "home": "/srv/backup"}, "facts": {"server.Users": {"backup": backup}}},
        )


def sh(command) -> None:
    subprocess.run(["sh", "-c", getattr(command, "get_raw_value", lambda: command)()], check=True)


def test_a_failed_configtest_puts_back_the_files_and_links_the_deploy_changed(tmp_path, monkeypatch):
    """The shell config_template/site/conf and reload run, on real files and links."""
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

    sh(apache.restore_previous())

    assert vhost.read_text() == "before\n"
    assert not new_conf.exists()
    assert enabled.is_symlink() and enabled.resolve() == vhost
    assert not disabled.is_symlink()
    assert not (tmp_path / "before").exists()

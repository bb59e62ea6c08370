"""
The deploy's record of what it made on the host: a folder the settings name that exists
and was not made by the deploy is refused before any change, unless adopted (then given
back); what a former setting made is removed, and the drift check reports it until then.
"""

import pytest

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.settings import TLS_FILES
from tests.e2e.test_drift_check import check
from tests.e2e.test_safety import host_state, serves

RECORD_STEP = "Record | What the settings make is recorded, and no folder the deploy did not make is taken over"


def stat(fleet, path: str) -> str:
    return fleet.sudo(f"stat -c '%U %G %a %F' {path}").stdout.strip()


def absent(fleet, path: str) -> bool:
    return fleet.sudo(f"test -e {path} || echo absent").stdout.strip() == "absent"


def recorded(fleet) -> str:
    return fleet.sudo(f"cat {layout.MADE_RECORD}").stdout


@pytest.mark.parametrize(
    ("setting", "make", "kind"),
    [
        ("data_dir=/srv/team-share", "mkdir /srv/team-share && touch /srv/team-share/report.csv", "exists"),
        ("app_install_path=/opt/vendor-tool", "mkdir -p /opt/vendor-tool/bin", "exists"),
        ("log_dir=/srv/team-logs", "install -d -m 775 -g users /srv/team-logs", "exists"),
        ("data_dir=/srv/etc-link", "ln -s /etc /srv/etc-link", "link"),
        ("data_dir=/srv/a-file", "echo notes > /srv/a-file", "file"),
    ],
    ids=[
        "someone's folder as data",
        "another tool's folder as the app's",
        "a shared folder as logs",
        "a link",
        "a file",
    ],
)
def test_a_folder_the_deploy_did_not_make_is_refused_before_any_change(deployed, setting, make, kind):
    path = setting.split("=", 1)[1]
    deployed.sudo(make)
    try:
        before, owner = host_state(deployed), stat(deployed, path)
        result = deployed.deploy("--data", setting)
        assert result.returncode != 0
        failed = result.last_operation
        assert failed.startswith(RECORD_STEP), failed
        key = setting.split("=")[0]
        if kind == "exists":
            assert f"setting '{key}' of site flaskapp: {path} exists and was not made by this deploy" in failed
            assert "list it in adopted_folders" in failed
        else:
            assert f"setting '{key}' of site flaskapp: {path} is a {kind} on the host, not a folder" in failed
        assert stat(deployed, path) == owner and host_state(deployed) == before and serves(deployed)
        assert path not in recorded(deployed)
    finally:
        deployed.sudo(f"rm -rf {path}")


@pytest.mark.parametrize(
    ("setting", "make", "says"),
    [
        ("data_dir=/srv/team/flaskapp", "install -d -o deploy /srv/team", "which user deploy owns"),
        ("app_install_path=/srv/drop/flaskapp", "install -d -m 1777 /srv/drop", "which every user may write in"),
        ("log_dir=/srv/ops/logs/flaskapp", "install -d -m 775 -g users /srv/ops", "which group users may write in"),
    ],
    ids=["in a user's folder", "in a folder every user writes", "under a folder a group writes"],
)
def test_a_folder_in_one_someone_else_may_write_is_refused_before_any_change(deployed, setting, make, says):
    """Whoever may write in a parent could swap the deploy's folder for a link its next
    chown follows."""
    path = setting.split("=", 1)[1]
    parent = "/".join(path.split("/")[:3])  # /srv/<folder>
    deployed.sudo(make)
    try:
        before = host_state(deployed)
        result = deployed.deploy("--data", setting)
        assert result.returncode != 0
        failed = result.last_operation
        assert failed.startswith(RECORD_STEP), failed
        assert f"of site flaskapp: {path} would be made in {parent}, {says}" in failed, failed
        assert host_state(deployed) == before and serves(deployed)
        assert deployed.sudo(f"find {parent} -mindepth 1").stdout == ""
    finally:
        deployed.sudo(f"rm -rf {parent}")


def test_an_adopted_folder_is_taken_over_then_given_back(deployed):
    deployed.sudo("install -d -m 755 /srv/mounted && touch /srv/mounted/lost+found")
    adopted = ["--data", "data_dir=/srv/mounted", "--data", 'adopted_folders=["/srv/mounted"]']
    try:
        result = deployed.deploy(*adopted)
        assert result.returncode == 0, result.stderr[-3000:]
        assert stat(deployed, "/srv/mounted") == "flaskapp flaskapp 750 directory"
        assert "/srv/mounted\tdata\tflaskapp\troot root 755\n" in recorded(deployed)
        assert serves(deployed)
        assert deployed.deploy(*adopted).changed == []

        result = deployed.deploy()
        assert result.returncode == 0, result.stderr[-3000:]
        assert "What former settings made is removed, and folders taken over are given back" in result.changed
        assert stat(deployed, "/srv/mounted") == "root root 755 directory"
        assert deployed.sudo("ls /srv/mounted").stdout.split() == ["lost+found"]
        assert "/srv/mounted" not in recorded(deployed)
        assert check(deployed).returncode == 0
    finally:
        deployed.sudo("rm -rf /srv/mounted")


def test_a_former_certificate_folder_is_drift_until_the_deploy_removes_it(deployed):
    """A site that served another name: its certificate folder goes with the setting."""
    old = "/etc/ssl/apache-wsgi-deploy/former.awd.test"
    renamed = ["--data", "server_name=former.awd.test", "--data", "tls_certificate_source=selfsigned"]
    renamed += [argument for key in TLS_FILES for argument in ("--data", f"{key}=null")]
    result = deployed.deploy(*renamed)
    assert result.returncode == 0, result.stderr[-3000:]
    assert stat(deployed, old) == "root root 700 directory"

    drift = check(deployed)
    assert drift.returncode == 2, drift.stdout + drift.stderr[-3000:]
    assert "What former settings made is removed" in drift.stdout

    result = deployed.deploy()
    assert result.returncode == 0, result.stderr[-3000:]
    assert absent(deployed, old)
    assert old not in recorded(deployed)
    assert check(deployed).returncode == 0 and serves(deployed)


def test_a_former_log_folder_is_kept_with_its_logs(deployed):
    result = deployed.deploy("--data", "log_dir=/var/log/flaskapp-logs")
    assert result.returncode == 0, result.stderr[-3000:]
    try:
        result = deployed.deploy()
        assert result.returncode == 0, result.stderr[-3000:]
        # The logs stay, said; the record keeps the folder, so the setting can come back.
        assert stat(deployed, "/var/log/flaskapp-logs") == "root adm 750 directory"
        assert "a former log folder of flaskapp, is kept with what it holds" in result.stderr
        assert check(deployed).returncode == 0
    finally:
        deployed.sudo("rm -rf /var/log/flaskapp-logs")
    # Deleted by hand: nothing drifted; the next deploy forgets it.
    assert check(deployed).returncode == 0
    assert deployed.deploy().returncode == 0
    assert "/var/log/flaskapp-logs" not in recorded(deployed)
    assert deployed.deploy().changed == []


def test_a_host_an_earlier_version_deployed_is_recorded_without_a_refusal(deployed):
    """Before the record, the deploy made the same folders with the same owners."""
    deployed.sudo(f"rm {layout.MADE_RECORD}")
    result = deployed.deploy()
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.changed == [RECORD_STEP.split(" | ", 1)[1]]
    assert f"{deployed.hosts[0].server_name}\tcertificate\tflaskapp\t-\n" in recorded(deployed)
    assert deployed.deploy().changed == []

"""`./run.sh status` and `./run.sh app`, from what the hosts answered: what they print and run."""

import shlex
import subprocess

import pytest

from apache_wsgi_deploy import audit, layout
from apache_wsgi_deploy.appcommand import in_live_release
from apache_wsgi_deploy.connection import openssh_command
from apache_wsgi_deploy.live_status import report
from apache_wsgi_deploy.outcome import HostOutcome
from apache_wsgi_deploy.settings import Settings
from tests.unit.test_settings import AGREED, DEFAULTS

OLD, NEW = "20261101T100000Z-aaaaaaaaaaaa", "20261102T100000Z-bbbbbbbbbbbb"
SHOP = {
    "app_name": "shop",
    "health_check_path": "/health/",
    "answer": "HTTP/1.1 200 OK",
    "current": OLD,
    "releases": [OLD, NEW],
    "rolled_back": [NEW],
    "history": [OLD, NEW, OLD],
    "went_live": {OLD: f"2026-11-02T11:00:00Z rollback from {NEW}", NEW: "2026-11-02T10:00:05Z deploy folder"},
    "deployed_from": {OLD: "git https://git.example.com/shop.git v1", NEW: "folder"},
    "snapshots": {},
}


def test_status_shows_the_live_release_its_source_and_how_it_went_live():
    text, healthy = report({"web1": HostOutcome("web1", sites=[SHOP])})
    assert healthy
    assert text.splitlines() == [
        "web1:",
        f"  shop: {OLD}, live since 2026-11-02T11:00:00Z (rollback from {NEW});"
        " git https://git.example.com/shop.git v1, commit aaaaaaaaaaaa",
        "    GET /health/: HTTP/1.1 200 OK",
        f"    releases kept: {OLD} (live), {NEW} (rolled back)",
    ]


def test_status_lists_the_snapshots_newest_first_with_the_release_each_goes_back_to():
    older, newer = f"{NEW}-5d41402abc4b", "20261101T090000Z-dddddddddddd-9fabfa1a2ab7"
    snapshots = {
        older: {"live": OLD, "taken": "2026-11-02T09:59:58Z"},
        # An older release's new commands: its snapshot is the newest, whatever its name.
        newer: {"live": NEW, "taken": "2026-11-03T10:00:00Z"},
    }
    text, _ = report({"web1": HostOutcome("web1", sites=[{**SHOP, "snapshots": snapshots}])})
    assert text.splitlines()[-2:] == [
        f"    snapshot {newer}: taken 2026-11-03T10:00:00Z, with {NEW} live",
        f"    snapshot {older}: taken 2026-11-02T09:59:58Z, with {OLD} live",
    ]


def test_status_fails_for_a_site_that_does_not_answer_or_a_host_not_read():
    _, healthy = report({"web1": HostOutcome("web1", sites=[{**SHOP, "answer": "HTTP/1.1 500 Internal Server Error"}])})
    assert not healthy
    text, healthy = report({"gone": HostOutcome("gone", exit_status=1, unreachable="Could not connect")})
    assert (text, healthy) == ("gone: NOT READ, Could not connect", False)


def test_an_app_command_runs_in_the_live_release_as_the_apps_user_from_a_folder_it_may_enter():
    (site,) = Settings.from_data("web1", {**DEFAULTS, **AGREED}).sites
    remote = in_live_release(site, ["python", "manage.py", "migrate"])
    assert f'; cd / && release="$(readlink -f {site.paths.current_dir})" && runuser -u flaskapp' in remote
    assert f'{layout.IN_APP} "$release" {site.data_dir} --umask 0027 -- python manage.py migrate; status=$?;' in remote
    data = {"ssh_hostname": "10.0.0.5", "ssh_user": "deploy", "ssh_port": 2222, "_sudo": True}
    assert openssh_command("web1", data, remote, tty=True) == [
        "ssh", "-t", "-p", "2222", "deploy@10.0.0.5", f"sudo -n sh -c {shlex.quote(remote)}",
    ]  # fmt: skip


@pytest.mark.parametrize("status", [0, 3])
def test_an_app_command_is_in_the_audit_trail_with_its_exit_status_which_stays_its_own(tmp_path, status):
    log = tmp_path / "state" / "audit.log"
    what = {"action": "app", "what": "shop: python manage.py migrate 'it''s' %s \\n"}
    shell = subprocess.run(["sh", "-c", audit.around(what, f"(exit {status})", str(log))])
    assert shell.returncode == status
    ((entry,),) = [audit.history(log.read_text().splitlines())]
    assert entry["what"] == what["what"]
    assert (entry["action"], entry["by"], entry["outcome"]) == ("app", audit.deployer(), f"exit status {status}")

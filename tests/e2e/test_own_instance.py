"""
A site in an Apache instance of its own (apache_instance "own"): the host's Apache passes
its requests on, so the front's reloads (a certificate renewal's hook, a vhost change) never
touch the app's processes, and a settings or code change restarts only the instance,
gracefully. Under 4 keep-alive HTTPS clients none of these loses a request. A hand-edited
instance is repaired without going down, a rollback works, and switching back to mod_wsgi's
daemon processes leaves nothing of the instance behind.
"""

from __future__ import annotations

import pytest

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.deploys.acme import RENEWAL_HOOK_SCRIPT
from apache_wsgi_deploy.polling import poll
from tests.e2e.conftest import LoadLoop
from tests.e2e.test_logs import keep_alive_clients
from tests.e2e.test_releases import body, live_release, settings_inventory, variant
from tests.e2e.test_whole_server import DAEMONS, MODULES, failed

pytestmark = pytest.mark.both_suites

APP = "flaskapp"
INSTANCE = layout.instance_service(APP)
# What certbot runs after a renewal: the host's Apache reloaded, checked and watched.
RENEWAL_HOOK_COMMAND = RENEWAL_HOOK_SCRIPT.split("exec ", 1)[1].replace("\\\n", " ")


@pytest.fixture(scope="module")
def own(fleet, first_deploy, tmp_path_factory):
    """The sample site moved into an instance of its own; moved back afterwards."""
    assert first_deploy.returncode == 0, first_deploy.stderr[-4000:]
    folder = tmp_path_factory.mktemp("own")
    inventory = settings_inventory(fleet, folder, apache_instance="own")
    result = fleet.deploy(inventory=inventory)
    assert result.returncode == 0, result.stderr[-4000:]
    yield fleet, inventory, folder
    back = fleet.deploy()
    assert back.returncode == 0, back.stderr[-4000:]
    # The front serves the app from its daemon processes again; the instance is gone.
    assert body(fleet) == "Good!"
    left = f"ls -d {layout.instance_dir(APP)}; systemctl is-enabled --quiet {INSTANCE} && echo enabled; true"
    assert fleet.sudo(f"({left}) 2>/dev/null").stdout.strip() == ""
    verified = fleet.verify("-q")
    assert verified.returncode == 0, verified.stdout[-4000:]


def instance_processes(fleet) -> str:
    """The instance's parent and children: unchanged as long as nothing restarted it."""
    pid = fleet.sudo(f"cat {layout.instance_pid_file(APP)}").stdout.strip()
    return fleet.sudo(f"pgrep -P {pid} -d, apache2; echo {pid}").stdout.strip()


def test_the_instance_serves_the_app_is_verified_and_a_rerun_changes_nothing(own):
    fleet, inventory, _ = own
    assert body(fleet) == "Good!"
    # No mod_wsgi daemon process of the site in the host's Apache.
    assert fleet.sudo(f"pgrep -f '^.wsgi:{APP}.' || true").stdout.strip() == ""
    verified = fleet.verify(f"--inventory={inventory}", "-q")
    assert verified.returncode == 0, verified.stdout[-4000:]
    rerun = fleet.deploy(inventory=inventory)
    assert rerun.returncode == 0 and rerun.changed == [], rerun.changed
    check = fleet.awd("check", f"--inventory={inventory}")
    assert check.returncode == 0, check.stdout[-4000:]


def test_renewals_settings_and_code_changes_lose_no_request_under_load(own, tmp_path):
    fleet, _, folder = own
    send, raced = keep_alive_clients(fleet, "/")
    code = variant(tmp_path, "code", '"Good!"', '"New code!"')
    with LoadLoop(send, clients=4, max_requests=200_000, max_seconds=240) as load:
        poll(lambda: load.sent > 20, 30, "load is flowing")
        before = instance_processes(fleet)
        for _ in range(3):
            renewed = fleet.sudo(RENEWAL_HOOK_COMMAND)
            assert renewed.returncode == 0, renewed.stderr
        # The front's reloads never touched the app's processes.
        assert instance_processes(fleet) == before
        threads = fleet.deploy(inventory=settings_inventory(fleet, folder, apache_instance="own", wsgi_threads=8))
        assert threads.returncode == 0, threads.stderr[-4000:]
        assert "ThreadsPerChild 8" in fleet.sudo(f"cat {layout.instance_file(APP, layout.INSTANCE_CONF)}").stdout
        new_code = settings_inventory(fleet, folder, apache_instance="own", wsgi_threads=8, app_source=str(code))
        deployed = fleet.deploy(inventory=new_code)
        assert deployed.returncode == 0, deployed.stderr[-4000:]
        poll(lambda: body(fleet) == "New code!", 30, "the new code is served")
    # The settings and the code restarted the instance's children, gracefully.
    assert instance_processes(fleet).split()[-1] == before.split()[-1]
    assert instance_processes(fleet) != before
    print(
        f"own instance under 3 renewal reloads, a wsgi_threads change and a code update: {load.sent} requests,"
        f" {len(load.failures)} failed, {len(raced)} sent again after the keep-alive race"
    )
    assert load.failures == []


def test_a_rollback_restarts_the_instance_into_the_release_before(own):
    fleet, inventory, _ = own
    live = live_release(fleet)
    result = fleet.awd("rollback", APP, f"--inventory={inventory}")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert live_release(fleet) != live
    poll(lambda: body(fleet) == "Good!", 30, "the release before is served")
    verified = fleet.verify(f"--inventory={inventory}", "-q", "-k", "live_release")
    assert verified.returncode == 0, verified.stdout[-4000:]


def test_a_hand_edited_instance_is_repaired_without_going_down(own):
    """Another MPM loaded by hand: a graceful restart cannot switch MPMs, and Apache's
    parent would exit; the deploy restarts the instance instead, and it serves."""
    fleet, inventory, _ = own
    conf = layout.instance_file(APP, layout.INSTANCE_CONF)
    fleet.sudo(f"sed -i 's/mpm_event/mpm_worker/g' {conf} && systemctl restart {INSTANCE}")
    check = fleet.awd("check", f"--inventory={inventory}")
    assert check.returncode == 2, check.stdout[-4000:]
    repaired = fleet.deploy(inventory=inventory)
    assert repaired.returncode == 0, repaired.stderr[-4000:]
    assert fleet.sudo(f"systemctl is-active --quiet {INSTANCE}").returncode == 0
    pid = fleet.sudo(f"cat {layout.instance_pid_file(APP)}").stdout.strip()
    assert "mod_mpm_event.so" in fleet.sudo(f"cat /proc/{pid}/maps").stdout
    assert body(fleet) == "Good!"


def test_an_instance_stopped_and_disabled_by_hand_is_started_and_enabled_again(own):
    fleet, inventory, _ = own
    fleet.sudo(f"systemctl disable --now --quiet {INSTANCE}")
    repaired = fleet.deploy(inventory=inventory)
    assert repaired.returncode == 0, repaired.stderr[-4000:]
    assert "Instance runs and starts at boot" in repaired.changed
    assert (
        fleet.sudo(f"systemctl is-active --quiet {INSTANCE} && systemctl is-enabled --quiet {INSTANCE}").returncode == 0
    )
    poll(lambda: body(fleet) == "Good!", 30, "the instance serves again")
    assert "Instance runs and starts at boot" not in fleet.deploy(inventory=inventory).changed


def test_what_the_instance_runs_is_held_against_its_declared_configuration(own):
    """An edit the instance runs with (keep-alive on, a module loaded by hand) fails the
    checks of what it does, as in the host's Apache; a deploy puts the file back."""
    fleet, inventory, _ = own
    conf = layout.instance_file(APP, layout.INSTANCE_CONF)
    fleet.sudo(
        f"sed -i 's/^KeepAlive Off/KeepAlive On/' {conf} && echo 'LoadModule status_module"
        f" {layout.APACHE_MODULES_DIR}/mod_status.so' >> {conf}"
    )
    try:
        verify = fleet.verify(f"--inventory={inventory}", "-k", "test_effective_config", "-v")
        host = fleet.hosts[0].alias
        assert failed(verify) == {f"{DAEMONS}[{host}]", f"{MODULES}[{host}]"}, verify.stdout[-4000:]
        assert f"{conf}:" in verify.stdout and "KeepAlive On" in verify.stdout
        assert f"status_module (in {layout.instance_dir(APP)})" in verify.stdout
    finally:
        assert fleet.deploy(inventory=inventory).returncode == 0
    assert fleet.verify(f"--inventory={inventory}", "-k", "test_effective_config").returncode == 0

"""
The deploy lock, on real pyinfra runs against this machine (@local) with a lock file of
the test's own: one deploy at a time, drift checks side by side, a holder that is gone
or silent taken over, and a run that waits too long told who holds it.
"""

import getpass
import socket
import subprocess

import pytest

from apache_wsgi_deploy.lock import holder_script
from apache_wsgi_deploy.runner import Job, RunHost, run_hosts

DEPLOY = """
from pyinfra import host
from pyinfra.operations import server

from apache_wsgi_deploy import lock

lock.HEARTBEAT_TIMEOUT, lock.HEARTBEAT_INTERVAL = {heartbeat_timeout}, 0.2
lock.hold_deploy_lock(host, {timeout}, path={path!r})
server.shell(name="Works", commands=[{command!r}])
"""

OTHER_DEPLOY = "a deploy by ops@elsewhere (pid 7), started 2026-12-01T09:00:00Z"


def deploy_file(tmp_path, timeout=0, command="true", heartbeat_timeout=300):
    """The deploy and its lock file; command may name {lock}."""
    path, lock = tmp_path / "deploy.py", str(tmp_path / "deploy.lock")
    command = command.format(lock=lock)
    path.write_text(DEPLOY.format(timeout=timeout, path=lock, command=command, heartbeat_timeout=heartbeat_timeout))
    return str(path), lock


def other_run(lock: str, shared=False, heartbeat_timeout=300) -> subprocess.Popen:
    """Another run holding the lock, as a deploy's shell on the host holds it, once it says so."""
    script = holder_script(lock, shared, 0, OTHER_DEPLOY, heartbeat_timeout)
    shell = subprocess.Popen(["bash", "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert shell.stdout.readline() == b"LOCKED\n"
    return shell


@pytest.fixture
def ends():
    shells = []
    yield shells.append
    for shell in shells:
        shell.kill()
        shell.wait()


def run(deploy: str, dry: bool = False):
    ((outcome, log),) = run_hosts([RunHost("@local")], Job(deploy, dry=dry)).values()
    return outcome, log


def test_a_deploy_holds_the_lock_while_it_runs_and_says_who_it_is(tmp_path):
    # The operation runs past several heartbeat timeouts: the heartbeat keeps the lock held.
    deploy, lock = deploy_file(tmp_path, command="sleep 1.5; ! flock -n -x {lock} true", heartbeat_timeout=0.5)
    outcome, log = run(deploy)
    assert (outcome.exit_status, outcome.changed) == (0, ["Works"]), log
    assert open(lock).read().startswith(f"a deploy by {getpass.getuser()}@{socket.gethostname()} (pid ")


def test_a_second_deploy_fails_naming_the_holder_and_changes_nothing(tmp_path, ends):
    deploy, lock = deploy_file(tmp_path, timeout=1)
    ends(other_run(lock))
    outcome, log = run(deploy)
    assert (outcome.exit_status, outcome.changed) == (1, [])
    assert outcome.cause == (
        f"@local: the deploy lock {lock} is held by {OTHER_DEPLOY}; gave up after 1 s (deploy_lock_timeout)"
    )
    assert f"waiting up to 1 s for the deploy lock, held by {OTHER_DEPLOY}" in log


def test_a_waiting_deploy_takes_the_lock_a_silent_holder_gave_up(tmp_path, ends):
    deploy, lock = deploy_file(tmp_path, timeout=30)
    # A run whose control machine vanished: no heartbeat, so its holder ends after 1 s.
    ends(other_run(lock, heartbeat_timeout=1))
    outcome, log = run(deploy)
    assert (outcome.exit_status, outcome.changed) == (0, ["Works"]), log
    assert "waiting up to 30 s for the deploy lock" in log


def test_a_dead_runs_lock_is_taken_over_at_once(tmp_path):
    deploy, lock = deploy_file(tmp_path)
    holder = other_run(lock)
    holder.kill()
    holder.wait()
    outcome, log = run(deploy)
    assert (outcome.exit_status, outcome.changed) == (0, ["Works"]), log


def test_drift_checks_share_the_lock_that_a_deploy_waits_for(tmp_path, ends):
    deploy, lock = deploy_file(tmp_path)
    ends(other_run(lock, shared=True))
    checked, log = run(deploy, dry=True)
    assert (checked.exit_status, checked.would_change) == (0, ["Works"]), log
    deployed, _ = run(deploy)
    assert deployed.exit_status == 1
    assert "is held by" in deployed.cause

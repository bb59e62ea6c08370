"""
The deploy lock, on real pyinfra runs against this machine (@local) with a lock file of
the test's own: one deploy at a time, drift checks side by side, a holder that is gone
or silent taken over, and a run that waits too long told who holds it.
"""

import getpass
import re
import socket
import subprocess

import pytest

from apache_wsgi_deploy import audit
from apache_wsgi_deploy.lock import _Received, holder_script
from apache_wsgi_deploy.runner import Job, RunHost, run_hosts

DEPLOY = """
from pyinfra import host
from pyinfra.operations import server

from apache_wsgi_deploy import lock

lock.HEARTBEAT_TIMEOUT, lock.HEARTBEAT_INTERVAL = {heartbeat_timeout}, 0.2
AUDITED = {{"action": "deploy", "what": "shop"}}
lock.hold_deploy_lock(host, {timeout}, path={path!r}, audited=AUDITED, audit_log={audit_log!r})
server.shell(name="Works", commands=[{command!r}])
"""

OTHER_DEPLOY = "a deploy by ops@elsewhere (pid 7), started 2026-12-01T09:00:00Z"


def deploy_file(tmp_path, timeout=0, command="true", heartbeat_timeout=300):
    """The deploy and its lock file; command may name {lock}. Its audit trail is the
    folder's audit/audit.log."""
    path, lock = tmp_path / "deploy.py", str(tmp_path / "deploy.lock")
    command = command.format(lock=lock)
    path.write_text(
        DEPLOY.format(
            timeout=timeout,
            path=lock,
            command=command,
            heartbeat_timeout=heartbeat_timeout,
            audit_log=str(tmp_path / "audit" / "audit.log"),
        )
    )
    return str(path), lock


def trail(tmp_path) -> list[dict]:
    """The audit trail's runs, as `awd status --history` reads them."""
    log = tmp_path / "audit" / "audit.log"
    return audit.history(log.read_text().splitlines()) if log.exists() else []


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


THEN_DEPLOY = """
from pyinfra import host
from pyinfra.operations import server

from apache_wsgi_deploy import lock

output = lock.hold_deploy_lock(host, 0, path={path!r}, then={then!r})
server.shell(name="Told " + repr(output), commands=["true"])
"""


def test_a_command_run_in_the_locks_round_trip_runs_once_it_is_held_and_its_output_comes_back(tmp_path):
    lock = str(tmp_path / "deploy.lock")
    # It runs holding the lock, reads no heartbeat, and cannot end its own output early.
    then = f"! flock -n {lock} true && echo held; cat; printf 'THEN-DONE\\nno newline'"
    (tmp_path / "deploy.py").write_text(THEN_DEPLOY.format(path=lock, then=then))
    outcome, log = run(str(tmp_path / "deploy.py"))
    assert outcome.changed == ["Told ['held', 'THEN-DONE', 'no newline']"], log


def test_drift_checks_share_the_lock_that_a_deploy_waits_for(tmp_path, ends):
    deploy, lock = deploy_file(tmp_path)
    ends(other_run(lock, shared=True))
    checked, log = run(deploy, dry=True)
    assert (checked.exit_status, checked.would_change) == (0, ["Works"]), log
    deployed, _ = run(deploy)
    assert deployed.exit_status == 1
    assert "is held by" in deployed.cause


def test_a_deploy_is_in_the_audit_trail_with_who_ran_it_and_how_it_ended(tmp_path):
    deploy, _ = deploy_file(tmp_path)
    run(deploy)
    failing, _ = deploy_file(tmp_path, command="echo no space left >&2; false")
    run(failing)
    # A drift check changes nothing: it is not recorded.
    run(deploy, dry=True)
    first, second = trail(tmp_path)
    assert first["by"] == second["by"] == audit.deployer()
    assert (first["action"], first["what"], first["outcome"]) == ("deploy", "shop", "converged, 1 changed, 0 unchanged")
    assert second["outcome"] == "FAILED at 'Works': no space left (0 changed before)"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["at"])
    log = tmp_path / "audit" / "audit.log"
    # The deploy's own folder as the deploy makes it (its tools run as the apps' users).
    assert (oct(log.stat().st_mode & 0o777), oct(log.parent.stat().st_mode & 0o777)) == ("0o600", "0o755")


# What paramiko raises writing to a socket that broke before its transport noticed.
BROKEN_CONNECTION = """
def broken(data):
    raise EOFError

lock._held[host.name].send = broken
"""


def test_a_connection_broken_as_the_run_ends_keeps_the_runs_outcome(tmp_path):
    deploy, _ = deploy_file(tmp_path)
    with open(deploy, "a") as opened:
        opened.write(BROKEN_CONNECTION)
    outcome, log = run(deploy)
    assert (outcome.exit_status, outcome.changed) == (0, ["Works"]), log
    assert "@local: the end of this run could not be written to the audit trail" in log
    assert "Traceback" not in log


@pytest.mark.parametrize(
    ("ends_how", "recorded"), [("its stdin closes", audit.UNTOLD), ("it goes silent", audit.SILENT)]
)
def test_a_run_that_never_says_how_it_ended_is_recorded_as_such(tmp_path, ends_how, recorded):
    log = str(tmp_path / "audit.log")
    started = audit.record("run1", "started", by="ops@laptop", action="deploy", what="shop")
    script = holder_script(str(tmp_path / "lock"), False, 0, OTHER_DEPLOY, 0.3, ("run1", started), log)
    shell = subprocess.Popen(["bash", "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert shell.stdout.readline() == b"LOCKED\n"
    if ends_how == "its stdin closes":
        shell.stdin.close()
    assert shell.wait(timeout=10) == 0
    ((entry,),) = [audit.history(open(log).read().splitlines())]
    assert (entry["by"], entry["outcome"]) == ("ops@laptop", recorded)


def test_the_history_reads_each_runs_start_and_end_together_and_skips_what_is_not_a_record():
    lines = [
        '{"at": "2026-12-03T10:00:00Z", "run": "a", "event": "started", "by": "ops@x", "action": "deploy",'
        ' "what": "shop"}',
        "not a record",
        '{"at": "2026-12-03T10:00:05Z", "run": "b", "event": "started", "by": "ops@x", "action": "app", "what": "ls"}',
        '{"at": "2026-12-03T10:00:09Z", "run": "a", "event": "ended", "outcome": "converged, 0 changed, 40 unchanged"}',
    ]
    assert [audit.history_line(entry) for entry in audit.history(lines)] == [
        "  2026-12-03T10:00:00Z  deploy shop by ops@x: converged, 0 changed, 40 unchanged",
        "  2026-12-03T10:00:05Z  app ls by ops@x: no end recorded (still running, or cut off)",
    ]


def test_the_holders_output_is_read_by_line_or_up_to_a_line_whatever_its_chunks():
    chunks = [b"LOCK", b"ED\nout", b"put\nnot END\nEN", b"D\nafter\n", b"rest"]
    stream = _Received(lambda _: chunks.pop(0) if chunks else b"")
    assert stream.readline() == b"LOCKED\n"
    # A line that only ends with the marker is output; the marker's own line ends it.
    assert stream.until(b"END\n") == b"output\nnot END\n"
    assert [stream.readline(), stream.readline(), stream.readline()] == [b"after\n", b"rest", b""]
    # The marker as the stream's first line; a stream that ends before it: all of it.
    at_once = [b"END\nx\n"]
    assert _Received(lambda _: at_once.pop(0) if at_once else b"").until(b"END\n") == b""
    cut = [b"half of it\nEN"]
    assert _Received(lambda _: cut.pop(0) if cut else b"").until(b"END\n") == b"half of it\nEN"

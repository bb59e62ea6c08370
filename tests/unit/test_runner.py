"""
The per-host runner reads each host's outcome from the pyinfra state of real runs against
this machine (@local) and an address nothing listens on; the deploy's
summary and the drift check's report are made from those outcomes.
"""

import gc
import subprocess
import sys
import textwrap

import pytest

from apache_wsgi_deploy import runner
from apache_wsgi_deploy.drift import report
from apache_wsgi_deploy.outcome import HostOutcome
from apache_wsgi_deploy.rolling import Rollout
from apache_wsgi_deploy.runner import Job, RunHost, bounded, run_hosts, starting, summary

LOCAL = RunHost("@local")

DEPLOY = """
from pyinfra import host
from pyinfra.operations import server

from apache_wsgi_deploy import outcome

outcome.record(host.name, outcome.UNDECLARED_SITES, ["oldapp"])
server.shell(name="Works", commands=["true"])
server.shell(name="Fails", commands=["echo 'write error: No space left on device' >&2; false"])
server.shell(name="Never runs", commands=["true"])
"""


@pytest.fixture
def deploy_file(tmp_path):
    path = tmp_path / "deploy.py"
    path.write_text(textwrap.dedent(DEPLOY))
    return str(path)


def test_a_run_is_read_from_pyinfras_results_up_to_the_failed_operation(deploy_file):
    ((outcome, log),) = run_hosts([LOCAL], Job(deploy_file)).values()
    assert outcome.exit_status == 1
    assert (outcome.changed, outcome.failed_at, outcome.unreachable) == (["Works"], "Fails", None)
    assert outcome.cause == "write error: No space left on device"
    assert outcome.undeclared_sites == ["oldapp"]
    assert "Starting operation: Fails" in log


def test_a_dry_run_says_what_would_change_and_changes_nothing(deploy_file):
    ((outcome, _),) = run_hosts([LOCAL], Job(deploy_file, dry=True)).values()
    assert (outcome.exit_status, outcome.changed, outcome.failed_at) == (0, [], None)
    assert outcome.would_change == ["Works", "Fails", "Never runs"]


@pytest.mark.parametrize("deploy_prepared", [True, False], ids=["forked prepared", "preparing while connecting"])
def test_a_host_that_cannot_be_reached_says_why(deploy_file, monkeypatch, deploy_prepared):
    monkeypatch.setattr(runner, "_deploy_prepared", deploy_prepared)
    gone = RunHost("gone", {"ssh_hostname": "127.0.0.1", "ssh_port": 9}, ("web_servers",))
    ((outcome, log),) = run_hosts([gone], Job(deploy_file)).values()
    assert outcome.exit_status != 0
    assert outcome.unreachable.startswith("Could not connect")
    assert "Traceback" not in log


def test_a_hosts_data_is_looked_up_in_its_run_as_pyinfra_merges_it(tmp_path):
    """The run's own host data (its inventory's layers merged once) comes before a
    @deploy's data defaults, which last as long as the @deploy; what the deploy sets comes
    before both; a value is a copy."""
    seen = tmp_path / "seen"
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(
        textwrap.dedent(
            f"""
            from pyinfra import host
            from pyinfra.api import deploy

            @deploy("Defaults", data_defaults={{"colour": "blue", "size": 1, "shape": "round"}})
            def with_defaults():
                host.data.sizes.append(3)
                looked_up = [host.data.colour, host.data.size, host.data.shape, host.data.sizes]
                looked_up.append(host.data.get("nothing", "none"))
                with open({str(seen)!r}, "w") as seen:
                    print(looked_up, file=seen)

            host.data.size = 2
            with_defaults()
            with open({str(seen)!r}, "a") as seen:
                print(host.data.get("shape"), file=seen)
            """
        )
    )
    local = RunHost("@local", {"colour": "red", "sizes": [1, 2]}, ("web_servers",))
    ((outcome, log),) = run_hosts([local], Job(str(deploy_file))).values()
    assert outcome.exit_status == 0, log
    assert seen.read_text().splitlines() == ["['red', 2, 'round', [1, 2], 'none']", "None"]


def test_a_hosts_process_never_collects_what_it_inherits_and_the_command_still_collects_its_own(tmp_path):
    """A forked host's garbage collections would walk (and copy) the command's whole heap."""
    seen = tmp_path / "seen"
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(
        f"import gc\nwith open({str(seen)!r}, 'w') as seen:\n    print(gc.get_freeze_count(), file=seen)\n"
    )
    ((outcome, log),) = run_hosts([LOCAL], Job(str(deploy_file))).values()
    assert outcome.exit_status == 0, log
    assert int(seen.read_text()) > 10_000
    assert gc.get_freeze_count() == 0


def test_each_host_gets_one_line():
    outcomes = {
        "web1": HostOutcome("web1", changed=["a", "b"], unchanged=1, undeclared_sites=["oldapp"]),
        "w2": HostOutcome("w2", exit_status=1, failed_at="Application | App code is in place", cause="disk full"),
        "gone": HostOutcome("gone", exit_status=1, unreachable="Could not connect (port 22 on 10.0.0.9)"),
        "crashed": HostOutcome("crashed", exit_status=1, changed=["a", "b", "c"]),
    }
    assert summary(outcomes).splitlines() == [
        "--> Per host:",
        "    crashed: FAILED, pyinfra exited 1 (3 changed)",
        "    gone: NOT REACHED, Could not connect (port 22 on 10.0.0.9)",
        "    w2: FAILED at 'Application | App code is in place': disk full (0 changed before)",
        "    web1: converged, 2 changed, 1 unchanged; left as they are, not in `sites`: oldapp",
    ]


GUARDED = """
from pyinfra.operations import server

changed = server.shell(name="Works", commands=["true"])
server.shell(name="Reloads", commands=["true"], _if=changed.did_change)
"""


def test_a_dry_run_leaves_out_operations_that_only_follow_a_change(tmp_path):
    deploy = tmp_path / "deploy.py"
    deploy.write_text(GUARDED)
    ((outcome, _),) = run_hosts([LOCAL], Job(str(deploy), dry=True)).values()
    assert outcome.would_change == ["Works"]


def test_drift_report_lists_every_host_and_a_total():
    outcomes = {
        "web1": HostOutcome("web1"),
        "w2": HostOutcome(
            "w2", would_change=["Site | VirtualHosts are rendered"], diffs=["Will modify /x", "@@ -1 +1 @@"]
        ),
        "gone": HostOutcome("gone", exit_status=1, unreachable="Could not connect (port 9)"),
    }
    text = report(outcomes)
    assert "web1: matches" in text
    assert (
        "w2: DRIFTED, 1 operation(s) would change:\n  - Site | VirtualHosts are rendered\n    Will modify /x\n" in text
    )
    assert "gone: NOT CHECKED, Could not connect (port 9)" in text
    assert text.endswith("drift check: 1 of 3 host(s) match, 1 drifted, 1 not checked")


def test_a_host_holding_what_the_deploy_would_not_have_made_drifted_with_nothing_to_change():
    outcomes = {
        "web1": HostOutcome("web1", foreign_entries=["conf-enabled/xyz.conf"]),
        "w2": HostOutcome("w2", config_errors=["AH00526: Syntax error on line 1 of /etc/apache2/x.conf: Bogus"]),
    }
    text = report(outcomes)
    assert "web1: DRIFTED\n  - not made by the deploy: conf-enabled/xyz.conf\n" in text
    assert "w2: DRIFTED\n  - apache2ctl configtest fails on the files on disk: AH00526: Syntax error" in text
    assert text.endswith("drift check: 0 of 2 host(s) match, 2 drifted, 0 not checked")


def test_a_deploy_says_what_it_left_and_a_failing_configtest():
    outcomes = {"web1": HostOutcome("web1", foreign_entries=["conf-enabled/xyz.conf"], config_errors=["AH00526: x"])}
    assert summary(outcomes).splitlines()[1:] == [
        "    web1: converged, 0 changed, 0 unchanged; not made by the deploy, left as they are: conf-enabled/xyz.conf",
        "      apache2ctl configtest fails on the files on disk: AH00526: x",
    ]


REFUSING = """
from pyinfra.api import OperationError, operation
from pyinfra.operations import server


@operation()
def refuses():
    raise OperationError("refusing: the app's user is in group sudo")
    yield


server.shell(name="Works", commands=["true"])
refuses(name="Refuses")
"""


def test_an_operation_that_refuses_is_named_with_its_reason(tmp_path):
    deploy = tmp_path / "deploy.py"
    deploy.write_text(textwrap.dedent(REFUSING))
    ((outcome, _),) = run_hosts([LOCAL], Job(str(deploy))).values()
    assert (outcome.exit_status, outcome.failed_at) == (1, "Refuses")
    assert outcome.cause == "refusing: the app's user is in group sudo"


PRIVILEGED_APP = """
from apache_wsgi_deploy.operations.accounts import unprivileged

unprivileged(name="The app's user and group have no privileges", user="root", group="root")
"""


def test_a_drift_check_that_stops_at_a_refusal_counts_it_as_drift(tmp_path):
    deploy = tmp_path / "deploy.py"
    deploy.write_text(PRIVILEGED_APP)
    ((outcome, _),) = run_hosts([LOCAL], Job(str(deploy), dry=True)).values()
    assert outcome.exit_status == 1
    (refusal,) = outcome.refusals
    assert refusal.startswith("refusing to run an app as user root, group root: user root has uid 0; ")
    text = report({"web1": outcome})
    assert f"web1: DRIFTED\n  - {refusal}\n" in text
    assert "(a deploy stops there: nothing after it was compared)" in text
    assert text.endswith("drift check: 0 of 1 host(s) match, 1 drifted, 0 not checked")


def test_at_most_concurrency_hosts_run_at_once_and_the_next_starts_when_one_ends():
    running, most, ended = set(), [0], []

    def start(host):
        running.add(host)
        most[0] = max(most[0], len(running))
        return host

    def wait():
        # The longest running ends first: a finishing order unlike the starting one.
        host = sorted(running)[-1]
        running.remove(host)
        ended.append(host)
        return host, 0

    hosts = [f"web{index}" for index in range(7)]
    assert bounded([hosts], start, wait, 3) == dict.fromkeys(hosts, 0)
    assert most[0] == 3 and len(ended) == 7


def forks_counted(monkeypatch) -> list[int]:
    """The processes the runs of this test fork, as they are forked."""
    forked, fork = [], runner._fork

    def counted(*args):
        worker = fork(*args)
        forked.append(worker.pid)
        return worker

    monkeypatch.setattr(runner, "_fork", counted)
    return forked


def unreachable(name: str) -> RunHost:
    return RunHost(name, {"ssh_hostname": "127.0.0.1", "ssh_port": 9}, ("web_servers",))


def test_a_process_runs_hosts_one_after_another_each_with_its_own_state_and_log(deploy_file, monkeypatch):
    forked = forks_counted(monkeypatch)
    hosts = [unreachable("gone1"), LOCAL, unreachable("gone2")]
    runs = run_hosts(hosts, Job(deploy_file), concurrency=1)
    assert len(forked) == 1
    assert [runs[name][0].unreachable is not None for name in ("gone1", "@local", "gone2")] == [True, False, True]
    # The host after one that failed to connect ran whole, and reported only its own.
    local, log = runs["@local"]
    assert (local.changed, local.failed_at, local.undeclared_sites) == (["Works"], "Fails", ["oldapp"])
    assert "Starting operation: Fails" in log and "gone1" not in log and "Could not connect" not in log
    assert "Starting operation" not in runs["gone2"][1]
    # A fresh process takes over once one was given its share of hosts.
    monkeypatch.setattr(runner, "HOSTS_PER_PROCESS", 2)
    runs = run_hosts(hosts, Job(deploy_file), concurrency=1)
    assert len(forked) == 3 and runs["gone2"][0].unreachable is not None


def test_a_process_that_dies_fails_its_host_alone_and_the_next_host_runs_in_another(tmp_path, monkeypatch):
    deploy = tmp_path / "deploy.py"
    deploy.write_text("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    forked = forks_counted(monkeypatch)
    runs = run_hosts([LOCAL, unreachable("gone")], Job(str(deploy)), concurrency=1)
    assert runs["@local"][0].exit_status == -9
    assert runs["gone"][0].unreachable.startswith("Could not connect")
    assert len(forked) == 2


PLANNING_FAILS = """
from pyinfra.api.exceptions import DeployError
from pyinfra.operations import server

server.shell(name="Planned first", commands=["true"])
raise DeployError("app/pyproject.toml: pin every requirement as name==version: ['flask']")
"""


def test_a_run_stopped_while_planning_names_no_operation_it_never_ran(tmp_path):
    deploy = tmp_path / "deploy.py"
    deploy.write_text(PLANNING_FAILS)
    ((outcome, _),) = run_hosts([LOCAL], Job(str(deploy))).values()
    assert (outcome.exit_status, outcome.failed_at, outcome.changed) == (1, None, [])
    assert outcome.cause == "app/pyproject.toml: pin every requirement as name==version: ['flask']"


@pytest.mark.parametrize(
    ("rollout", "stages"),
    [
        (Rollout(), [["w1", "w2", "w3", "w4", "w5"]]),
        (Rollout(canary=1), [["w1"], ["w2", "w3", "w4", "w5"]]),
        (Rollout(canary=1, batch=2), [["w1"], ["w2", "w3"], ["w4", "w5"]]),
        (Rollout(batch=2), [["w1", "w2"], ["w3", "w4"], ["w5"]]),
        (Rollout(canary=9, batch=2), [["w1", "w2", "w3", "w4", "w5"]]),
        (Rollout(max_failed=2), [["w1", "w2", "w3", "w4", "w5"]]),
    ],
)
def test_a_rolling_deploy_runs_the_canary_then_batches_in_inventory_order(rollout, stages):
    assert rollout.stages(["w1", "w2", "w3", "w4", "w5"]) == stages


@pytest.mark.parametrize(
    ("rollout", "concurrency", "first"),
    [
        (Rollout(), 32, ["w1", "w2", "w3"]),
        (Rollout(), 1, ["w1"]),
        (Rollout(canary=1), 32, ["w1"]),
        (None, 2, ["w1", "w2"]),
    ],
)
def test_a_run_starts_the_first_hosts_of_its_first_stage_its_concurrency_allows(rollout, concurrency, first):
    hosts = [RunHost(name) for name in ("w1", "w2", "w3")]
    assert [host.name for host in starting(hosts, concurrency, rollout)] == first


def test_a_stage_starts_only_while_fewer_hosts_failed_than_allowed():
    assert not Rollout().stopped(5)
    assert Rollout(canary=1).stopped(1) and not Rollout(canary=1).stopped(0)
    assert not Rollout(batch=2, max_failed=2).stopped(1) and Rollout(batch=2, max_failed=2).stopped(2)


def test_no_stage_starts_once_go_on_says_stop_and_the_one_running_ends_first():
    started, running = [], set()

    def start(host):
        started.append(host)
        running.add(host)
        return host

    def wait():
        host = sorted(running)[0]
        running.remove(host)
        return host, 0 if host != "w1" else 256

    statuses = bounded([["w1"], ["w2", "w3"]], start, wait, 8, go_on=lambda: "w1" not in started)
    assert (started, statuses) == (["w1"], {"w1": 256})
    statuses = bounded([["w1", "w2"], ["w3"]], start, wait, 1, go_on=lambda: True)
    assert started[1:] == ["w1", "w2", "w3"] and len(statuses) == 3


def test_runs_started_within_one_second_each_get_their_own_logs_folder(tmp_path):
    code = (
        "import time; from apache_wsgi_deploy import runner; second = time.gmtime();"
        " runner.time.gmtime = lambda: second; print(*(runner.run_logs().name for _ in range(3)))"
    )
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    first, second, third = printed.stdout.split()
    assert (second, third) == (f"{first}-2", f"{first}-3")
    assert sorted(folder.name for folder in (tmp_path / ".logs").iterdir()) == [first, second, third]


def test_older_runs_logs_are_removed_but_those_of_runs_still_going(tmp_path):
    logs = tmp_path / ".logs"

    def run() -> subprocess.Popen:
        """A run in a process of its own, 2 runs' logs kept, until it is told to end."""
        code = "from apache_wsgi_deploy import runner; runner.LOGS_KEPT = 2; print(runner.run_logs().name, flush=True)"
        code += "; input()"
        process = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tmp_path
        )
        process.folder = process.stdout.readline().strip()
        return process

    going = run()
    ended = ["20000101T000000Z", "20000101T000001Z"]
    newer = ["20990101T000000Z", "20990101T000001Z", "20990101T000002Z"]
    for name in ended + newer:
        (logs / name).mkdir()
    run().communicate("")
    # Beyond the newest two: the ended runs' folders go, the one still going stays.
    assert going.folder in {folder.name for folder in logs.iterdir()}
    assert not any((logs / name).exists() for name in [*ended, newer[0]])
    going.communicate("")
    run().communicate("")
    assert going.folder not in {folder.name for folder in logs.iterdir()}

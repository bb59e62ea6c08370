"""
pyinfra's API, a pyinfra state per host, each host's outcome read back as data: what `awd
deploy`, `awd check`, `awd status` and `awd rollback` run.

pyinfra stops only a failing host's own operations when a command fails, but pyinfra
3.10 aborts the whole run, every host with it, when a host's SSH connection drops in the
middle of an operation (paramiko's EOFError escapes its greenlet). So each host gets its
own pyinfra state and connection, run alone: nothing one host does can stop or
half-apply another. The command validates every host's settings first, once
(apache_wsgi_deploy.hosts). The run ends with one line per host (converged; failed at
which operation, and why; or not reached); each host's pyinfra log is kept under the
project folder's .logs/.

The hosts run in processes forked from this one once it has imported pyinfra and the
deploy's modules (a fresh interpreter would spend about 0.45 s of CPU on those imports
per host), at most `concurrency` at once, each running the hosts given to it one after
the other, up to HOSTS_PER_PROCESS: a fork's cost, the pages it copies as it touches
them, is paid once for those hosts. A process that dies fails only the host it was
running. A host that starts alone is the exception: it is forked first, and its process
imports the deploy while its SSH handshake waits on the network (`prepare`,
`apache_wsgi_deploy.preconnect`). Each host's run records its outcome
(`apache_wsgi_deploy.outcome`) in a file this process reads.
"""

from __future__ import annotations

import fcntl
import functools
import gc
import importlib
import importlib.util
import itertools
import json
import logging
import os
import pkgutil
import runpy
import select
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from apache_wsgi_deploy import preconnect, prefetch, progress, project, readonly, startup
from apache_wsgi_deploy.outcome import NO_HOSTS_REMAINING, HostOutcome, Recorder, unstyled
from apache_wsgi_deploy.rolling import Rollout
from apache_wsgi_deploy.settings import SettingsError

# Each run's output per host, for the runs kept (the oldest go first).
LOGS_KEPT = 20


@dataclass(frozen=True)
class Job:
    """What a run does on each host: a deploy file (`*.py`), or a deploy function named
    `module.function` called with `arguments`; dry: pyinfra's dry mode (facts read, the
    operations planned, nothing run, and each file's diff recorded). verbosity: as
    pyinfra's -v, -vv, -vvv (facts, then commands, then their output in the log)."""

    target: str
    arguments: dict = field(default_factory=dict)
    dry: bool = False
    verbosity: int = 0

    def deploy(self, state):
        """What pyinfra's add_deploy calls for the host: the file run, or the function called."""
        if not self.target.endswith(".py"):
            module, _, name = self.target.rpartition(".")
            return functools.partial(getattr(importlib.import_module(module), name), **self.arguments)
        path = str(Path(self.target).resolve())

        def run_file() -> None:
            # As pyinfra's command line runs a deploy file: "./" paths in it are its folder's.
            state.current_exec_filename = path
            runpy.run_path(path)

        return run_file


@dataclass(frozen=True)
class RunHost:
    """A host to run: its inventory name, its data (merged as pyinfra merges it) and groups."""

    name: str
    data: dict = field(default_factory=dict)
    groups: tuple[str, ...] = ()


class _PlainLog(logging.Handler):
    """pyinfra's log lines, without colour, on this process's error output (the host's log file)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(unstyled(record.getMessage()), file=sys.stderr)


def _data_read_once(pyinfra_host, merged: dict):
    """pyinfra's data of a host whose inventory is fixed for the run (this process's own):
    the inventory's layers as the one dict they merge into, over the @deploy's data
    defaults (read at each lookup, as pyinfra does). pyinfra calls and merges each layer
    at every lookup, and each operation and fact looks up all its global arguments."""
    from copy import copy

    from pyinfra.api.host import HostData

    class DataReadOnce(HostData):
        def __getattr__(self, key: str):
            for data in self.datas:
                found = data() if callable(data) else data
                if key in found:
                    return copy(found[key])
            raise AttributeError(f"Host `{self.host}` has no data `{key}`")

    return DataReadOnce(pyinfra_host, merged, pyinfra_host.get_deploy_data)


def _state(host: RunHost, job: Job, progress_fd: int):
    """A pyinfra state of the one host, its callbacks recording the run and reporting progress."""
    from pyinfra.api import Config, Inventory, State

    state = State(check_for_changes=job.dry)
    state.print_fact_info = state.print_noop_info = job.verbosity > 0
    state.print_input = state.print_fact_input = job.verbosity > 1
    state.print_output = state.print_fact_output = job.verbosity > 2
    inventory = Inventory(([(host.name, host.data)], {}), **{group: ([host.name], {}) for group in host.groups})
    state.init(inventory, Config(DIFF=job.dry))
    pyinfra_host = inventory.get_host(host.name)
    pyinfra_host.data = _data_read_once(pyinfra_host, host.data)
    state.cwd = str(project.folder())
    state.add_callback_handler(Recorder())
    state.add_callback_handler(progress.Reporter(progress_fd))
    return state


def _run_pyinfra(host: RunHost, job: Job, result: Path, progress_fd: int) -> int:
    """pyinfra's API on one host, in this (forked) process: connect, plan (the job's
    deploy), run unless dry; its outcome written to result; its connection closed."""
    from pyinfra.api.connect import connect_all
    from pyinfra.api.deploy import add_deploy
    from pyinfra.api.exceptions import PyinfraError
    from pyinfra.api.operations import run_ops
    from pyinfra.api.state import StateStage
    from pyinfra.context import ctx_config, ctx_state

    from apache_wsgi_deploy import lock

    if job.dry:
        readonly.declare()
    state = _state(host, job, progress_fd)
    error = None
    try:
        with ctx_state.use(state):
            state.set_stage(StateStage.Connect)
            if _deploy_prepared:
                connect_all(state)
            else:
                _connect_while_preparing(state)
            state.set_stage(StateStage.Prepare)
            # A copy each host's deploy may change (config.SUDO = True), as under pyinfra's command line.
            with ctx_config.use(state.config.copy()):
                add_deploy(state, job.deploy(state))
            if not job.dry:
                state.set_stage(StateStage.Execute)
                run_ops(state)
        status = 1 if state.failed_hosts else 0
    except BaseException as stopped:  # noqa: BLE001 - whatever stopped the run is its outcome
        error, status = stopped, 1
        # The last host failing an operation: pyinfra logged the operation's error already.
        if str(stopped) != NO_HOSTS_REMAINING:
            print(f"--> {type(stopped).__name__}: {stopped}", file=sys.stderr)
        # pyinfra's errors and the settings' say what went wrong; anything else is a bug to trace.
        if not isinstance(stopped, (PyinfraError, SettingsError)):
            traceback.print_exc()
    for run_host in state.inventory:
        prefetch.remember(run_host)
    outcome = HostOutcome.from_state(state, host.name, status, dry=job.dry, error=error)
    # Kept before the host is told: what the run came to holds whatever telling it does.
    result.write_text(json.dumps(outcome.as_dict()))
    lock.tell_end(host.name, host_line(host.name, outcome).removeprefix(f"{host.name}: "), releases=outcome.releases)
    _disconnect(state)
    return status


def _disconnect(state) -> None:
    """Close the run's connections, and with them let its deploy lock go: the process's
    next host starts with none of this one's. pyinfra's own disconnect leaves an SSH
    connection open."""
    from pyinfra.context import ctx_state

    with ctx_state.use(state):
        for run_host in state.activated_hosts:
            try:
                run_host.disconnect()
                client = getattr(run_host.connector, "client", None)
                if client is not None:
                    client.close()
            except Exception:  # noqa: BLE001 - the run's outcome is written; the process ends its connections on exit
                traceback.print_exc()


def _connect_while_preparing(state) -> None:
    """The run's lone first host, forked before the deploy was imported: its SSH handshake
    (on the connection preconnect opened, if any) runs in a greenlet, while this process
    imports the deploy and compiles its templates, yielding to it after each module and
    template, so that the handshake's waits on the network are not the run's."""
    import gevent
    from pyinfra import logger
    from pyinfra.api.connect import connect_all
    from pyinfra.context import ctx_state

    def connect() -> BaseException | None:
        try:
            with ctx_state.use(state):
                for host in state.inventory:
                    if (sock := preconnect.take(host.name)) is not None:
                        given = host.connector.data.get("ssh_paramiko_connect_kwargs") or {}
                        host.connector.data["ssh_paramiko_connect_kwargs"] = {**given, "sock": sock}
                        logger.info(f"{host.print_prefix}SSH on the connection opened as awd started")
                connect_all(state)
        except BaseException as error:  # noqa: BLE001 - raised where the run waits for it, not printed by gevent
            return error
        return None

    connecting = gevent.spawn(connect)
    # The handshake's first packets go out before the first import.
    gevent.idle()
    prepare_deploy(between=gevent.idle)
    if (failed := connecting.get()) is not None:
        raise failed


# Hosts a process runs one after the other, each with a pyinfra state and connection of
# its own, before a fresh process takes over: what a forked process costs (the pages of the
# command it copies as it touches them) is paid once for them all, and what a process
# keeps of the hosts it ran stays bounded.
HOSTS_PER_PROCESS = 32
# What a process says on its reports once a host's run ended, with the run's exit status.
ENDED = "ended"


def _close(fd: int) -> None:
    """Close a pipe's end now: gevent's os.close (monkey-patched) leaves it to its hub's
    loop, which a process blocked reading another pipe never runs, and a process ends
    when the end of its orders is closed."""
    os.closerange(fd, fd + 1)


@dataclass
class _Worker:
    """A forked process running the hosts it is given on its orders (a line each: its
    index), one at a time, each host's progress then ENDED on its reports. -1: a pipe closed."""

    pid: int
    pidfd: int
    orders: int
    reports: int
    # The host it runs, if any, and how many it was given.
    host: str | None = None
    given: int = 0
    pending: bytes = b""


def _fork(hosts: list[RunHost], job: Job, files: dict, others: list[_Worker]) -> _Worker:
    """Start a process that runs the hosts given to it; others: the processes already
    started, whose pipes it must not hold (a process ends when its orders do)."""
    orders_out, orders_in = os.pipe()
    reports_out, reports_in = os.pipe()
    # The child's garbage collections leave alone what it inherits (they would walk, and
    # copy page by page, the parent's whole heap); the parent's go on as before.
    gc.freeze()
    pid = os.fork()
    if pid:
        gc.unfreeze()
        _close(orders_out)
        _close(reports_in)
        return _Worker(pid, os.pidfd_open(pid), orders_in, reports_out)
    status = 0
    try:
        _close(orders_in)
        _close(reports_out)
        for fd in [fd for other in others for fd in (other.orders, other.reports, other.pidfd) if fd >= 0]:
            _close(fd)
        _work(hosts, job, files, orders_out, reports_in)
    except BaseException:
        traceback.print_exc()
        status = 1
    finally:
        os._exit(status)


class _Processes:
    """The processes that run a job's hosts: a host is given to one that has ended its
    last host's run, else to a new one; each is given HOSTS_PER_PROCESS hosts at most.
    on_progress(host, line): each line of a host's progress (progress.Reporter)."""

    def __init__(self, hosts: list[RunHost], job: Job, files: dict, on_progress):
        self.hosts, self.job, self.files, self.on_progress = hosts, job, files, on_progress
        self.index = {host.name: number for number, host in enumerate(hosts)}
        # By the pidfd readable once each ends: os.wait would reap any child of this
        # process, a caller's own subprocesses too.
        self.working: dict[int, _Worker] = {}
        # Hosts whose run ended, with its exit status, not yet told.
        self.ended: list[tuple[str, int]] = []

    def give(self, host: str) -> None:
        worker = next((each for each in self.working.values() if each.host is None and each.orders >= 0), None)
        if worker is None:
            worker = _fork(self.hosts, self.job, self.files, list(self.working.values()))
            self.working[worker.pidfd] = worker
        worker.host, worker.given = host, worker.given + 1
        os.write(worker.orders, f"{self.index[host]}\n".encode())
        if worker.given >= HOSTS_PER_PROCESS:
            self._retire(worker)

    def next_ended(self) -> tuple[str, int]:
        """Wait for a host's run to end: the host, and its run's exit status (a process's
        own when it ended during the run)."""
        while not self.ended:
            watched = {}
            for worker in self.working.values():
                watched[worker.pidfd] = worker
                if worker.reports >= 0:
                    watched[worker.reports] = worker
            ready, _, _ = select.select(list(watched), [], [])
            for fd in ready:
                if fd == watched[fd].reports:
                    self._read(watched[fd])
            for fd in ready:
                if fd == watched[fd].pidfd:
                    self._reap(watched[fd])
        return self.ended.pop(0)

    def close(self) -> None:
        """No more hosts: the processes end, those between runs waited for."""
        for worker in list(self.working.values()):
            if worker.orders >= 0:
                self._retire(worker)
            if worker.host is None:
                self._reap(worker)

    def _read(self, worker: _Worker) -> None:
        data = os.read(worker.reports, 65536)
        if not data:
            _close(worker.reports)
            worker.reports = -1
            return
        *lines, worker.pending = (worker.pending + data).split(b"\n")
        latest = None
        for line in lines:
            text = line.decode(errors="replace")
            if text.startswith(f"{ENDED}\t"):
                self.ended.append((worker.host, int(text.partition("\t")[2])))
                worker.host, latest = None, None
            else:
                latest = text
        if latest is not None and worker.host is not None:
            self.on_progress(worker.host, latest)

    def _retire(self, worker: _Worker) -> None:
        """Its orders end: it ends once its host's run does."""
        _close(worker.orders)
        worker.orders = -1

    def _reap(self, worker: _Worker) -> None:
        # All it reported, to the end: no other process holds its reports' pipe.
        while worker.reports >= 0:
            self._read(worker)
        waited = os.waitpid(worker.pid, 0)[1]
        _close(worker.pidfd)
        del self.working[worker.pidfd]
        if worker.orders >= 0:
            _close(worker.orders)
        if worker.host is not None:
            self.ended.append((worker.host, os.waitstatus_to_exitcode(waited)))


def _work(hosts: list[RunHost], job: Job, files: dict, orders: int, reports: int) -> None:
    """In a forked process: each host named on orders run in turn, until orders end. A
    host's output goes to its log; its progress, then ENDED and its exit status, to reports."""
    from pyinfra import logger

    logger.setLevel(logging.INFO)
    logger.addHandler(_PlainLog())
    logger.propagate = False
    os.dup2(os.open(os.devnull, os.O_RDWR), 0)
    for line in os.fdopen(orders):
        host = hosts[int(line)]
        log, result = files[host.name]
        output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        # What the deploy prints goes to the log with pyinfra's; the parent's output is its own.
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        # Whatever Python's streams were (a test's capture), they are these files now.
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        status = 1
        try:
            status = _run_pyinfra(host, job, result, reports)
        except BaseException:  # noqa: BLE001 - the host's failure, in its log; the next host still runs
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        os.write(reports, f"{ENDED}\t{status}\n".encode())
        # The run's cycles freed before the next host's, not left to pile up among its own.
        gc.collect()


# Hosts run at once, by default: with each pyinfra process's peak memory
# (docs/benchmarks.md), 32 stay under 2 GiB even with nothing shared after the fork.
CONCURRENCY = 32


def bounded(stages: list[list[str]], start, wait, concurrency: int, go_on=None) -> dict[str, int]:
    """Run start(host) for each host, at most `concurrency` at once, the next started as
    soon as one ends; wait() waits for any one host's run to end: (host, exit status).
    The stages run one after the other, the next only once go_on() (none: always) says so.
    Each run host's exit status."""
    statuses = {}
    for index, stage in enumerate(stages):
        if index and go_on is not None and not go_on():
            break
        pending, running = list(stage), set()
        while pending or running:
            while pending and len(running) < concurrency:
                host = pending.pop(0)
                start(host)
                running.add(host)
            host, status = wait()
            running.remove(host)
            statuses[host] = status
    return statuses


def run_hosts(
    hosts: list[RunHost],
    job: Job,
    logs: Path | None = None,
    concurrency: int = CONCURRENCY,
    shown: progress.Plain | None = None,
    result_line=None,
    events=None,
    rollout: Rollout | None = None,
    judge=None,
) -> dict[str, tuple[HostOutcome, str]]:
    """Each host's outcome and pyinfra log (by name) from the job run on it, `concurrency`
    hosts at a time; logs: the folder that keeps each host's output as
    <host>.log (none: it is not kept). shown: where the progress goes (none: nowhere), each
    ended host told with result_line(host, outcome) (host_line by default). events: told
    started(host) and ended(host, outcome) as each host's run starts and ends (hooks.Hooks).
    rollout: the stages the hosts run in, and when failures stop the run (a host of a stage
    not run is left out of the answer); judge(host, outcome): called as each host's run
    ends, before it is shown, may fail it (a rolling deploy's probe)."""
    shown = shown or progress.Silent(len(hosts))
    result_line = result_line or host_line
    by_name = {host.name: host for host in hosts}
    with tempfile.TemporaryDirectory(prefix="apache-wsgi-deploy-") as folder:
        files = {
            host: ((logs or Path(folder)) / f"{host.replace('/', '_')}.log", Path(folder) / f"{index}.json")
            for index, host in enumerate(by_name)
        }
        started: dict[str, float] = {}
        outcomes: dict[str, HostOutcome] = {}
        processes = _Processes(list(by_name.values()), job, files, shown.update)

        def start(host: str) -> None:
            # A lone first host's process prepares the deploy itself; the next ones start with it.
            if processes.working or outcomes:
                prepare_deploy()
            processes.give(host)
            preconnect.forget(host)
            started[host] = time.monotonic()
            shown.started(host)
            if events is not None:
                events.started(host)

        def wait() -> tuple[str, int]:
            host, status = processes.next_ended()
            outcome = outcomes[host] = _outcome(host, files[host][1], status)
            if judge is not None:
                judge(host, outcome)
            took = time.monotonic() - started[host]
            shown.ended_host(host, f"{result_line(host, outcome)} ({took:.1f} s)", failed=outcome.exit_status != 0)
            if events is not None:
                events.ended(host, outcome)
            return host, status

        rollout = rollout or Rollout()
        # A lone host is forked at once (prepare) and reads them in its own process.
        if len(hosts) > 1:
            startup.ssh_files_read_once([host.data for host in hosts])

        def go_on() -> bool:
            return not rollout.stopped(sum(1 for outcome in outcomes.values() if outcome.exit_status != 0))

        try:
            bounded(rollout.stages(list(by_name)), start, wait, concurrency, go_on)
        finally:
            processes.close()
            preconnect.close_all()
            shown.close()
        return {
            host: (outcomes[host], files[host][0].read_text(errors="replace")) for host in by_name if host in outcomes
        }


def _outcome(host: str, result: Path, exit_status: int) -> HostOutcome:
    """What a child recorded of its host's run, with its exit status."""
    try:
        outcome = HostOutcome(**json.loads(result.read_text()))
    except (OSError, ValueError):  # the child died before it could record
        outcome = HostOutcome(host)
    outcome.exit_status = exit_status
    return outcome


def prepare(first: list[RunHost] = ()) -> None:
    """Patch the interpreter for gevent, which pyinfra runs on (a blocking read must let
    the lock's heartbeat and pyinfra's output readers run), and import pyinfra, once,
    here, before the forks: each host's process starts with it. first: the hosts the run
    starts with. Unless one starts alone, the deploy too (prepare_deploy); a lone first
    host's process prepares it while it connects, its connection opened here first
    (preconnect). Idempotent."""
    from gevent import monkey

    preconnect.open_first(list(first))
    with startup.entry_points_read_once():
        monkey.patch_all()
    preconnect.greet()
    import pyinfra.api.operations  # noqa: F401

    startup.pyinfra_read_once()
    startup.connection_modules_imported()
    if len(first) != 1:
        prepare_deploy()
    preconnect.greet()


# Whether this process imported the deploy's modules and compiled its templates.
_deploy_prepared = False

# The deploy's packages, their modules imported one at a time: the facts and operations
# the deploy units import, then the units (whose package imports them all at once).
DEPLOY_PACKAGES = ("apache_wsgi_deploy.facts", "apache_wsgi_deploy.operations", "apache_wsgi_deploy.deploys")


def prepare_deploy(between=None) -> None:
    """Import the deploy's modules and compile its templates, once per process: before
    the forks, each host's process starts with them. between: called after each module
    and each template. Idempotent."""
    global _deploy_prepared
    if _deploy_prepared:
        return
    for package in DEPLOY_PACKAGES:
        for info in pkgutil.iter_modules(importlib.util.find_spec(package).submodule_search_locations):
            importlib.import_module(f"{package}.{info.name}")
            if between is not None:
                between()
    from apache_wsgi_deploy import declared

    declared.compile_templates(between)
    _deploy_prepared = True


def starting(hosts: list[RunHost], concurrency: int, rollout: Rollout | None = None) -> list[RunHost]:
    """The hosts a run starts at once: the first `concurrency` of its first stage."""
    stages = (rollout or Rollout()).stages([host.name for host in hosts])
    first = set(stages[0][:concurrency]) if stages else set()
    return [host for host in hosts if host.name in first]


def run_hosts_of(selection) -> list[RunHost]:
    """The hosts a command selected (hosts.Selected), to run."""
    return [RunHost(name, selection.data[name], tuple(selection.groups[name])) for name in selection.names]


def not_read(outcome: HostOutcome) -> str | None:
    """Why a read-only run (drift check, status) could not read a host, or None."""
    if outcome.unreachable:
        return outcome.unreachable
    if outcome.exit_status != 0:
        where = f" at '{outcome.failed_at}'" if outcome.failed_at else ""
        return f"pyinfra exited {outcome.exit_status}{where}" + (f": {outcome.cause}" if outcome.cause else "")
    return None


def read_line(host: str, outcome: HostOutcome) -> str:
    """How a read-only run of a host ended, in one line."""
    return f"{host}: NOT READ, {not_read(outcome)}" if not_read(outcome) else f"{host}: read"


def read_only_runs(hosts: list[RunHost], job: Job, concurrency: int = CONCURRENCY) -> dict[str, HostOutcome]:
    """Each host's outcome of the job in pyinfra's dry mode, the pyinfra log of those it
    could not read printed."""
    prepare(starting(hosts, concurrency))
    # On a terminal only: the report is a read-only run's output (cron mails it).
    shown = progress.for_stream(len(hosts), plain=False)
    job = Job(job.target, job.arguments, dry=True, verbosity=job.verbosity)
    runs = run_hosts(hosts, job, concurrency=concurrency, shown=shown, result_line=read_line)
    for host, (outcome, output) in runs.items():
        if not_read(outcome) and not outcome.unreachable:
            print(f"=== {host} ===\n{output.rstrip()}\n", file=sys.stderr)
    return {host: outcome for host, (outcome, _) in runs.items()}


def host_line(host: str, outcome: HostOutcome) -> str:
    """How a host's run ended, in one line."""
    if outcome.skipped:
        return f"{host}: NOT DEPLOYED, {outcome.skipped}"
    if outcome.unreachable:
        return f"{host}: NOT REACHED, {outcome.unreachable}"
    if outcome.failed_at:
        cause = f": {outcome.cause}" if outcome.cause else ""
        return f"{host}: FAILED at '{outcome.failed_at}'{cause} ({len(outcome.changed)} changed before)"
    if outcome.exit_status != 0:
        cause = outcome.cause or f"pyinfra exited {outcome.exit_status}"
        return f"{host}: FAILED, {cause} ({len(outcome.changed)} changed)"
    return f"{host}: converged, {len(outcome.changed)} changed, {outcome.unchanged} unchanged"


def summary(outcomes: dict[str, HostOutcome]) -> str:
    lines = ["--> Per host:"]
    for host, outcome in sorted(outcomes.items()):
        lines.append(f"    {host_line(host, outcome)}")
        if outcome.undeclared_sites:
            lines[-1] += f"; left as they are, not in `sites`: {', '.join(outcome.undeclared_sites)}"
        if outcome.foreign_entries:
            lines[-1] += f"; not made by the deploy, left as they are: {', '.join(outcome.foreign_entries)}"
        if outcome.undeclared_config:
            count = len(outcome.undeclared_config)
            lines[-1] += f"; Apache runs {count} thing(s) neither the deploy nor Debian declares (awd check lists them)"
        lines += [f"      apache2ctl configtest fails on the files on disk: {error}" for error in outcome.config_errors]
        lines += [f"      {notice}" for notice in outcome.notices]
    return "\n".join(lines)


def run_logs() -> Path:
    """This run's folder under .logs/, the older runs beyond the newest LOGS_KEPT removed,
    but those of runs still going: a long deploy's folder outlives the quick checks run
    beside it. A run holds its folder's RUNNING file locked for as long as its process lives.
    Named by the UTC second the run started, with -2, -3... for runs started within the
    same second: each run's folder is its own."""
    logs = project.path(project.LOGS_DIR)
    logs.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for number in itertools.count(1):
        folder = logs / (started if number == 1 else f"{started}-{number}")
        try:
            folder.mkdir()
            break
        except FileExistsError:
            continue
    running = os.open(folder / RUNNING, os.O_RDONLY | os.O_CREAT, 0o600)
    fcntl.flock(running, fcntl.LOCK_SH)
    _running.append(running)
    for older in sorted(logs.iterdir())[:-LOGS_KEPT]:
        if not _in_use(older):
            shutil.rmtree(older, ignore_errors=True)
    return folder


# The file a run's log folder holds locked (shared) while the run goes on; its descriptors.
RUNNING = ".running"
_running: list[int] = []


def _in_use(folder: Path) -> bool:
    """Whether a run still holds the folder (a folder from before RUNNING was written: not)."""
    try:
        held = os.open(folder / RUNNING, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(held)
    return False

"""
pyinfra, one process per host, each host's outcome read back as data: what `awd deploy`,
`awd check`, `awd status` and `awd rollback` run.

pyinfra stops only a failing host's own operations when a command fails, but pyinfra
3.10 aborts the whole run, every host with it, when a host's SSH connection drops in the
middle of an operation (paramiko's EOFError escapes its greenlet). So each host gets its
own `pyinfra --limit <host>` process, at most `concurrency` at once: nothing one host
does can stop or half-apply another. The command validates every host's settings first,
once (apache_wsgi_deploy.hosts). The run ends with one line per host (converged; failed
at which operation, and why; or not reached); each host's pyinfra output is kept under
the project folder's .logs/.

The processes are forked from this one once it has imported pyinfra and the deploy's
modules: a fresh interpreter would spend about 0.45 s of CPU on those imports per host,
most of a no-change rerun's cost. Each child records its host's outcome
(`apache_wsgi_deploy.outcome`) in a file its parent reads.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from pyinfra.api import State
from pyinfra.context import ctx_state

from apache_wsgi_deploy import progress, project
from apache_wsgi_deploy.outcome import HostOutcome, Recorder

# Each run's output per host, for the runs kept (the oldest go first).
LOGS_KEPT = 20


def _run_pyinfra(host: str, arguments: list[str], result: Path, progress_fd: int) -> int:
    """pyinfra's CLI on one host, in this (forked) process, its state recording the run
    and reporting its progress to progress_fd."""
    import click
    import pyinfra_cli.cli
    import pyinfra_cli.main
    from pyinfra_cli.main import main as pyinfra_main

    class RecordingState(State):
        # init() is where pyinfra (re)sets the callback handlers, before connecting.
        def init(self, *args, **kwargs):
            super().init(*args, **kwargs)
            self.add_callback_handler(Recorder())
            self.add_callback_handler(progress.Reporter(progress_fd))

    pyinfra_cli.cli.State = RecordingState
    failures = []

    def cli_keeping_its_error():
        # As click's standalone mode does (show the error, exit with its code), keeping
        # the error pyinfra wrapped: the cause of the run's end.
        try:
            return pyinfra_cli.cli.cli.main(standalone_mode=False)
        except click.ClickException as error:
            failures.append(getattr(error, "exception", error))
            error.show()
            sys.exit(error.exit_code)

    pyinfra_cli.main.cli = cli_keeping_its_error
    sys.argv = ["pyinfra", "--limit", host, *arguments]
    try:
        pyinfra_main()
        status = 0
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
    except BaseException as unexpected:
        traceback.print_exc()
        status = 1
        failures.append(unexpected)
    error = failures[0] if failures else None
    state = ctx_state.get() if ctx_state.isset() else State()
    outcome = HostOutcome.from_state(state, host, status, dry="--dry" in arguments, error=error)
    result.write_text(json.dumps(outcome.as_dict()))
    return status


def _fork(host: str, arguments: list[str], log: Path, result: Path) -> tuple[int, int]:
    """Start pyinfra for one host in a child: its pid, and the end of a pipe its progress
    lines come out of (progress.Reporter)."""
    progress_out, progress_in = os.pipe()
    pid = os.fork()
    if pid:
        os.close(progress_in)
        return pid, progress_out
    os.close(progress_out)
    status = 1
    try:
        output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(os.open(os.devnull, os.O_RDWR), 0)
        # --json (non-interactive): pyinfra's own JSON on stdout is not needed, the state it
        # is built from is read once the run ends.
        os.dup2(os.open(os.devnull, os.O_RDWR), 1)
        os.dup2(output, 2)
        # Whatever Python's streams were (a test's capture), they are these files now.
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        status = _run_pyinfra(host, arguments, result, progress_in)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


# Hosts run at once, by default: with each pyinfra process's peak memory
# (docs/benchmarks.md), 32 stay under 2 GiB even with nothing shared after the fork.
CONCURRENCY = 32


def bounded(hosts: list[str], start, wait, concurrency: int) -> dict[str, int]:
    """Run start(host) (a child's pid) for each host, at most `concurrency` at once, the
    next started as soon as one ends; wait() reaps any one child: (pid, wait status).
    Each host's wait status."""
    pending, running, statuses = list(hosts), {}, {}
    while pending or running:
        while pending and len(running) < concurrency:
            host = pending.pop(0)
            running[start(host)] = host
        pid, wait_status = wait()
        statuses[running.pop(pid)] = wait_status
    return statuses


def run_hosts(
    hosts: list[str],
    arguments: list[str],
    logs: Path | None = None,
    concurrency: int = CONCURRENCY,
    shown: progress.Plain | None = None,
    result_line=None,
) -> dict[str, tuple[HostOutcome, str]]:
    """Each host's outcome and pyinfra output, from `pyinfra --json --limit <host> <arguments>`,
    `concurrency` hosts at a time; logs: the folder that keeps each host's output as
    <host>.log (none: it is not kept). shown: where the progress goes (none: nowhere), each
    ended host told with result_line(host, outcome) (host_line by default)."""
    shown = shown or progress.Silent(len(hosts))
    result_line = result_line or host_line
    with tempfile.TemporaryDirectory(prefix="apache-wsgi-deploy-") as folder:
        files = {
            host: ((logs or Path(folder)) / f"{host.replace('/', '_')}.log", Path(folder) / f"{index}.json")
            for index, host in enumerate(hosts)
        }
        # A pidfd per child, readable once it ends: wait for ours alone (os.wait would reap
        # any child of this process, a caller's own subprocesses too).
        children: dict[int, tuple[int, str]] = {}
        # Each child's progress pipe: its host, and what came of its last line so far.
        pipes: dict[int, list] = {}
        started: dict[str, float] = {}
        outcomes: dict[str, HostOutcome] = {}

        def start(host: str) -> int:
            pid, progress_out = _fork(host, ["--json", *arguments], *files[host])
            children[os.pidfd_open(pid)] = (pid, host)
            pipes[progress_out] = [host, b""]
            started[host] = time.monotonic()
            shown.started(host)
            return pid

        def read_progress(fd: int) -> None:
            host, pending = pipes[fd]
            data = os.read(fd, 65536)
            if not data:
                os.close(fd)
                del pipes[fd]
                return
            *lines, pipes[fd][1] = (pending + data).split(b"\n")
            if lines:
                shown.update(host, lines[-1].decode(errors="replace"))

        def wait() -> tuple[int, int]:
            while True:
                ready, _, _ = select.select([*children, *pipes], [], [])
                for fd in ready:
                    if fd in pipes:
                        read_progress(fd)
                ended = [fd for fd in ready if fd in children]
                if ended:
                    break
            pid, host = children.pop(ended[0])
            os.close(ended[0])
            waited = os.waitpid(pid, 0)
            for fd in [fd for fd, (owner, _) in pipes.items() if owner == host]:
                os.close(fd)
                del pipes[fd]
            outcome = outcomes[host] = _outcome(host, files[host][1], os.waitstatus_to_exitcode(waited[1]))
            took = time.monotonic() - started[host]
            shown.ended_host(host, f"{result_line(host, outcome)} ({took:.1f} s)", failed=outcome.exit_status != 0)
            return waited

        try:
            bounded(hosts, start, wait, concurrency)
        finally:
            shown.close()
        return {host: (outcomes[host], files[host][0].read_text(errors="replace")) for host in hosts}


def _outcome(host: str, result: Path, exit_status: int) -> HostOutcome:
    """What a child recorded of its host's run, with its exit status."""
    try:
        outcome = HostOutcome(**json.loads(result.read_text()))
    except (OSError, ValueError):  # the child died before it could record
        outcome = HostOutcome(host)
    outcome.exit_status = exit_status
    return outcome


def prepare() -> None:
    """Import pyinfra's CLI and the deploy's modules once, here, before the forks: each
    host's process then starts with them (pyinfra_cli patches ssl for gevent on import)."""
    import pyinfra_cli.main  # noqa: F401

    import apache_wsgi_deploy.deploys  # noqa: F401


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


def read_only_runs(hosts: list[str], arguments: list[str], concurrency: int = CONCURRENCY) -> dict[str, HostOutcome]:
    """Each host's outcome of `pyinfra --dry <arguments>`, the pyinfra output of those it
    could not read printed."""
    prepare()
    # On a terminal only: the report is a read-only run's output (cron mails it).
    shown = progress.for_stream(len(hosts), plain=False)
    runs = run_hosts(hosts, ["--dry", *arguments], concurrency=concurrency, shown=shown, result_line=read_line)
    for host, (outcome, output) in runs.items():
        if not_read(outcome) and not outcome.unreachable:
            print(f"=== {host} ===\n{output.rstrip()}\n", file=sys.stderr)
    return {host: outcome for host, (outcome, _) in runs.items()}


def host_line(host: str, outcome: HostOutcome) -> str:
    """How a host's run ended, in one line."""
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
        lines += [f"      apache2ctl configtest fails on the files on disk: {error}" for error in outcome.config_errors]
        lines += [f"      {notice}" for notice in outcome.notices]
    return "\n".join(lines)


def run_logs() -> Path:
    """This run's folder under .logs/, the older runs beyond the newest LOGS_KEPT removed."""
    logs = project.path(project.LOGS_DIR)
    folder = logs / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    folder.mkdir(parents=True, exist_ok=True)
    for older in sorted(logs.iterdir())[:-LOGS_KEPT]:
        shutil.rmtree(older, ignore_errors=True)
    return folder

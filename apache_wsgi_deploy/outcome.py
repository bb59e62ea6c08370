"""
What one host's pyinfra run came to, as data: which operations changed, which one
failed, whether the host was reached at all, and, in a dry run, what would change and
the diffs. The deploy runner, the drift check and the end-to-end tests read it; none of
them parses pyinfra's text output.

It comes from the pyinfra state the run leaves (each operation's outcome on the host,
read through pyinfra's API) and from a `Recorder`, a pyinfra state callback that keeps
what the state does not hold: why a host was not reached, and what the deploy reported
along the way (`record`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from pyinfra.api import BaseStateCallback, OperationError
from pyinfra.api.exceptions import PyinfraError
from pyinfra.context import ctx_host, ctx_state

# What the deploy reports besides operations (record()): sites on the host it does not
# know, a dry run's diffs, lines the summary shows under the host's (a rollback's
# releases), and what `./run.sh status` prints of each site; files in Apache's *-enabled
# folders it would not have made, what Apache runs with that neither the deploy nor
# Debian declares, why the config on disk fails its configtest, and what on the host made
# it refuse to go on (an app's account with privileges); the release each site's run
# made live or went back to (its install_path, release, and the release live before it),
# which the hooks tell and a rolling deploy puts back; the
# host's audit trail, read by `awd status --history`.
UNDECLARED_SITES, DIFFS, NOTICES, SITES = "undeclared_sites", "diffs", "notices", "sites"
FOREIGN_ENTRIES, UNDECLARED_CONFIG = "foreign_entries", "undeclared_config"
CONFIG_ERRORS, REFUSALS, RELEASES, HISTORY = "config_errors", "refusals", "releases", "history"
KINDS = (
    UNDECLARED_SITES,
    DIFFS,
    NOTICES,
    SITES,
    FOREIGN_ENTRIES,
    UNDECLARED_CONFIG,
    CONFIG_ERRORS,
    REFUSALS,
    RELEASES,
    HISTORY,
)


# The packaged whole_server deploy's name, which pyinfra puts before each of its
# operations' names: the reports leave it out ("Apache | Modules ... are enabled").
PACKAGED_DEPLOY = "apache-wsgi-deploy"

# What pyinfra raises once its last host failed (pyinfra.api.state.State.fail_hosts).
NO_HOSTS_REMAINING = "No hosts remaining!"

# Lines of a failed command's error output a one-line cause shows.
CAUSE_LINES = 2


# Terminal colours, which pyinfra puts in its messages.
_STYLE = re.compile(r"\x1b\[[0-9;]*m")


def unstyled(text: str) -> str:
    return _STYLE.sub("", text)


def op_name(meta) -> str:
    """An operation's name as pyinfra prints it (pyinfra.api.state.StateOperationMeta):
    its name, then its arguments in brackets."""
    name = sorted(meta.names)[0]
    return f"{name} ({', '.join(str(arg) for arg in meta.args)})" if meta.args else name


class Recorder(BaseStateCallback):
    """Kept on a pyinfra state, by host: connection errors, the operation running (one
    that never ends was cut off), and what the deploy recorded."""

    def __init__(self):
        self.unreachable: dict[str, str] = {}
        self.running: dict[str, str] = {}
        self.lost: set[str] = set()
        self.notes: dict[str, dict[str, list]] = {}

    def host_connect_error(self, state, host, error):
        self.unreachable[host.name] = unstyled(str(error.args[0] if error.args else error))

    def operation_host_start(self, state, host, op_hash):
        self.running[host.name] = op_hash

    def operation_host_success(self, state, host, op_hash, retry_count=0):
        self.running.pop(host.name, None)

    def operation_host_error(self, state, host, op_hash, retry_count=0, max_retries=0):
        self.running.pop(host.name, None)
        # Asked now: pyinfra closes every connection once the run ends.
        if not _connected(host):
            self.lost.add(host.name)


def _connected(host) -> bool:
    client = getattr(host.connector, "client", None)
    transport = client.get_transport() if client is not None else None
    # Connectors without an SSH transport (@local) do not lose their connection.
    return transport is None or transport.is_active()


def _failure(state, host_name: str, recorder: Recorder, error: BaseException | None) -> tuple[str | None, str | None]:
    """The operation a run was stopped in (a lost connection, an operation's refusal), and
    why; or the failed operation's own last error lines."""
    host = next((host for host in state.inventory if host.name == host_name), None)
    if host is None:
        return None, None
    if host_name in recorder.running:
        op_hash = recorder.running[host_name]
        if isinstance(error, (EOFError, OSError)):
            reason = f"connection lost ({type(error).__name__})"
        elif isinstance(error, PyinfraError) and str(error) == NO_HOSTS_REMAINING:
            # pyinfra gave the host up inside an operation that never ended, error or not:
            # its connection went away under it (an upload cut off, say).
            reason = "connection lost"
        else:
            reason = str(error).strip().splitlines()[0] if error and str(error).strip() else "pyinfra stopped in it"
        return short_name(op_name(state.op_meta[op_hash])), reason
    for op_hash in state.get_op_order():
        meta = state.ops[host].get(op_hash)
        if meta is not None and meta.operation_meta.is_complete() and meta.operation_meta.did_error():
            if host_name in recorder.lost:
                return None, "connection lost"
            lines = [unstyled(line).strip() for line in meta.operation_meta.stderr_lines]
            # Python's traceback marks the failing expression with a line of carets.
            lines = [line for line in lines if line.strip("^~ ")]
            return None, " / ".join(lines[-CAUSE_LINES:]) or None
    # Stopped before any operation ran: while the deploy was being prepared (the deploy
    # lock, the facts), where a lost connection shows as whatever was reading from it.
    if host_name not in recorder.unreachable and not _connected(host):
        return None, "connection lost"
    message = str(error).strip() if error else ""
    return None, message.splitlines()[0] if message else None


def short_name(name: str) -> str:
    """An operation's name as the reports show it: without the packaged deploy's name."""
    return name.removeprefix(f"{PACKAGED_DEPLOY} | ")


def _recorder_of(state) -> Recorder | None:
    return next((handler for handler in state.callback_handlers if isinstance(handler, Recorder)), None)


def refused(host_name: str, refusal: str, advice: str) -> OperationError:
    """The error an operation raises when what the host holds makes the deploy refuse to
    go on; the refusal is recorded, a finding of the drift check, which stops there too."""
    record(host_name, REFUSALS, [refusal])
    return OperationError(f"{refusal} {advice}")


def record(host_name: str, kind: str, items: list) -> None:
    """Add to what a host's run reports (one of KINDS); nothing when no
    runner of ours records the run (plain `pyinfra`, whose text output says it)."""
    recorder = _recorder_of(ctx_state.get()) if ctx_state.isset() else None
    if recorder is not None:
        recorder.notes.setdefault(host_name, {}).setdefault(kind, []).extend(items)


@dataclass
class HostOutcome:
    host: str
    exit_status: int = 0
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed_at: str | None = None
    unreachable: str | None = None
    # A dry run: the operations that would change something, and the diffs of the files.
    would_change: list[str] = field(default_factory=list)
    diffs: list[str] = field(default_factory=list)
    undeclared_sites: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    sites: list[dict] = field(default_factory=list)
    foreign_entries: list[str] = field(default_factory=list)
    undeclared_config: list[str] = field(default_factory=list)
    config_errors: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    releases: list[dict] = field(default_factory=list)
    # The audit trail's last runs (audit.history), for `awd status --history`.
    history: list[dict] = field(default_factory=list)
    # Why it failed, in a line: the failed command's last error output, "connection lost".
    cause: str | None = None
    # Why the run never started on the host: a rolling deploy stopped before its batch.
    skipped: str | None = None

    @classmethod
    def from_state(
        cls, state, host: str, exit_status: int, dry: bool, error: BaseException | None = None
    ) -> HostOutcome:
        """From a pyinfra state after its run; error: what stopped the run, if an exception did."""
        recorder = _recorder_of(state) or Recorder()
        notes = recorder.notes.get(host, {})
        outcome = cls(
            host,
            exit_status=exit_status,
            unreachable=recorder.unreachable.get(host),
            **{kind: notes.get(kind, []) for kind in KINDS},
        )
        if not getattr(state, "initialised", False):
            return outcome
        pyinfra_host = next(entry for entry in state.inventory if entry.name == host)
        operations = [
            (short_name(op_name(state.op_meta[op_hash])), state.ops[pyinfra_host][op_hash])
            for op_hash in state.get_op_order()
            if op_hash in state.ops[pyinfra_host]
        ]
        if dry:
            # Guarded operations (_if: the reload, the daemon restart) only follow a change.
            with ctx_state.use(state), ctx_host.use(pyinfra_host):
                outcome.would_change = [
                    name
                    for name, data in operations
                    if data.operation_meta.will_change and not data.global_arguments["_if"]
                ]
        elif state.is_executing:
            # Each operation: None if it did not run to success (it failed, or never ran
            # after a failure), else whether it changed something.
            ran = [
                (name, meta.did_change() if meta.is_complete() and meta.did_succeed() else None)
                for name, meta in ((name, data.operation_meta) for name, data in operations)
            ]
            outcome.changed = [name for name, changed in ran if changed]
            outcome.unchanged = sum(1 for _, changed in ran if changed is False)
            outcome.failed_at = next((name for name, changed in ran if changed is None), None)
        if exit_status != 0:
            stopped_in, outcome.cause = _failure(state, host, recorder, error)
            outcome.failed_at = stopped_in or outcome.failed_at
        return outcome

    @property
    def drifted(self) -> bool:
        """In a dry run: something would change, the host holds what the deploy would not
        have made or Apache runs what no one declared, or what a deploy would refuse to go on with."""
        return bool(
            self.would_change or self.foreign_entries or self.undeclared_config or self.config_errors or self.refusals
        )

    def as_dict(self) -> dict:
        return asdict(self)

"""
The audit trail: every deploy, rollback and app command that changes a host is recorded
on it (layout.AUDIT_LOG, root's alone), a JSON line as it starts and one as it ends:
when (the host's clock), who on which control machine, what, and how it ended. A
deploy's and a rollback's lines are written by the deploy lock's holder (lock.py), so
they cost no pyinfra operation; an app command's by the root shell that runs it. A run
that never said how it ended (killed, its connection lost, pyinfra's own command line)
is recorded as such. `awd status --history` reads it back.
"""

from __future__ import annotations

import getpass
import json
import posixpath
import shlex
import socket
import uuid

from apache_wsgi_deploy.layout import AUDIT_LOG

# The runs `awd status --history` shows by default, per host.
HISTORY_RUNS = 20
# How a run that never said how it ended is shown.
UNTOLD = "ended without saying how (killed, its connection lost, or pyinfra's own command line)"
SILENT = "ended: its control machine went silent (no heartbeat)"


def deployer() -> str:
    """Who runs the command, on which control machine."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


def new_run() -> str:
    """Names one run's records, so its start and its end are read together."""
    return uuid.uuid4().hex[:12]


def record(run: str, event: str, **facts) -> str:
    """A record as the control machine writes it (the host adds the time): one JSON line."""
    return json.dumps({"run": run, "event": event, **facts}, sort_keys=True)


def append_function(audit_log: str = AUDIT_LOG) -> str:
    """POSIX shell defining `awd_audit RECORD`: appends the record, the host's UTC time
    first, to the audit log, which only root reads."""
    log, folder = shlex.quote(audit_log), shlex.quote(posixpath.dirname(audit_log))
    return (
        # The folder as the deploy makes it (the tools in it are run as the app's user); the log root's alone.
        "awd_audit() { ( mkdir -p -m 755 "
        f"{folder} && umask 077"
        ' && printf \'{"at": "%s", %s\\n\' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${1#\\{}" >> '
        f"{log} ); }}"
    )


def around(what: dict, command: str, audit_log: str = AUDIT_LOG) -> str:
    """POSIX shell, run as root, that records a run of `command` in the audit trail: its
    start (what it is, who ran it), then its exit status, which stays the shell's."""
    run = new_run()
    started = record(run, "started", by=deployer(), **what)
    # The record with its exit status, which only the shell knows: '{...' "$status" '}'.
    ended = shlex.quote(record(run, "ended")[:-1] + ', "exit_status": ') + '"$status"' + "'}'"
    return (
        f"{append_function(audit_log)}; awd_audit {shlex.quote(started)}; {command}; status=$?;"
        f' awd_audit {ended}; exit "$status"'
    )


def history(lines: list[str], runs: int | None = None) -> list[dict]:
    """The runs of the audit log's last lines, each run's start and end read together,
    oldest first, the last `runs` of them: at, action, what (the sites, the command), by,
    and outcome (None while the run goes on, or if it was cut off). An end whose start is
    not among the lines, and a line that is no record, are left out."""
    started: dict[str, dict] = {}
    for line in lines:
        try:
            item = json.loads(line)
            run, event = item["run"], item["event"]
        except (ValueError, KeyError, TypeError):
            continue
        if event == "started":
            started[run] = {
                "outcome": None,
                **{key: value for key, value in item.items() if key not in ("run", "event")},
            }
        elif run in started:
            said = f"exit status {item['exit_status']}" if "exit_status" in item else item.get("outcome") or UNTOLD
            started[run]["outcome"] = said
    return list(started.values())[-runs:] if runs else list(started.values())


def history_line(entry: dict) -> str:
    """One run of the audit trail, as `awd status --history` prints it."""
    what = entry.get("what") or ""
    outcome = entry["outcome"] or "no end recorded (still running, or cut off)"
    return f"  {entry['at']}  {entry.get('action') or '?'} {what}".rstrip() + f" by {entry.get('by', '?')}: {outcome}"

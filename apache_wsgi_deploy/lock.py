"""
One deploy at a time per host: a lock on the host that a deploy holds from before its
first fact until its run ends, and that drift checks share (they only read, but a deploy
halfway through its changes would show as drift).

The lock is flock(1) on layout.DEPLOY_LOCK, held by a shell on the host for as long as
this run lives: it runs on a channel of the run's own SSH connection and reads this
run's heartbeat. However the run ends (done, failed, killed, its connection dropped),
the shell ends with it, and the kernel releases a dead holder's flock: a stale lock
cannot outlive its run, it is taken over by the next one. A control machine that
vanished without closing its connection (a laptop's network gone) stops sending the
heartbeat, and the holder gives the lock up after HEARTBEAT_TIMEOUT.

Holding it is no pyinfra operation: a no-change rerun still reports no change.
"""

from __future__ import annotations

import inspect
import os
import secrets
import shlex
import subprocess
import time

import gevent
from paramiko import SSHException
from pyinfra import logger
from pyinfra.api.arguments import pop_global_arguments
from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.host import Host
from pyinfra.connectors.local import LocalConnector
from pyinfra.connectors.ssh import SSHConnector
from pyinfra.connectors.util import make_unix_command, make_unix_command_for_host

from apache_wsgi_deploy import audit, readonly
from apache_wsgi_deploy.layout import AUDIT_LOG, DEPLOY_LOCK

# The holder's shell gives the lock up when no heartbeat came for this long. Long enough
# for a run busy on the control machine (a large folder's digest, another run's git
# fetch) to send none for minutes.
HEARTBEAT_TIMEOUT = 300
HEARTBEAT_INTERVAL = 15

# The shells holding this process's locks, by host: each lives as long as its channel.
_held: dict[str, object] = {}
# The audited runs' names, by host: their end is told to the holder.
_audited: dict[str, str] = {}
# How long the end of a run waits for its holder to have recorded it.
RECORDED_TIMEOUT = 10


class DeployLockError(PyinfraError):
    """Another run holds the host's lock beyond the wait allowed, or it could not be taken.

    A PyinfraError, so pyinfra's CLI prints the message rather than a traceback."""


def run_sent(length: int) -> str:
    """sh: the next length bytes of stdin read whole, then run by sh with /dev/null as its
    stdin: sent so, a command is not on the command line sudo runs, which sudo logs whole
    at every run (and ps shows for as long as a lock's holder lives). head reads no
    further than its bytes: what follows them on stdin stays for the caller."""
    return f'sent=$(head -c {int(length)}) && sh -c "$sent" </dev/null'


def holder_script(
    path: str,
    shared: bool,
    timeout: int,
    holder: str,
    heartbeat_timeout: float,
    audited: tuple[str, str] | None = None,
    audit_log: str = AUDIT_LOG,
    then_bytes: int | None = None,
    then_done: str = "THEN-DONE",
) -> str:
    """bash on the host: takes the lock (waiting at most timeout s), says so, and holds it
    while heartbeats arrive on stdin. Prints BUSY <holder> before it waits, TIMEOUT
    <holder> when the wait ran out, LOCKED once it holds it. audited: the run's name and
    its start's record (audit.py), written to the audit log once the lock is held; a line
    `END <record>` on stdin is the run's end, written before RECORDED is printed and the
    lock let go; a run that ends without one is recorded as such. then_bytes: the length
    of an sh command the run sends on stdin before any heartbeat, read once the lock is
    held and run, its output after LOCKED and ended by a line then_done."""
    mode = "-s" if shared else "-x"
    lock, who = shlex.quote(path), shlex.quote(holder)
    taken = (
        f"umask 077 && exec 9<>{lock} || exit 1",
        f"if ! flock -n {mode} 9; then",
        f"  echo BUSY $(head -c 300 {lock})",
        f"  flock -w {int(timeout)} {mode} 9 || {{ echo TIMEOUT $(head -c 300 {lock}); exit 1; }}",
        "fi",
        f"printf '%s\\n' {who} >{lock}",
    )
    # On stdin (the facts' batch: else on the holder's command line for as long as the
    # lock is held), before the heartbeats, which stay the holder's. What it prints on
    # stderr is its own business. A newline first: its output's last line may have none.
    then_run = (f"{run_sent(then_bytes or 0)} 2>/dev/null 9>&-", f"printf '\\n%s\\n' {shlex.quote(then_done)}")
    locked = ("echo LOCKED", *(then_run if then_bytes else ()))
    if audited is None:
        return "\n".join((*taken, *locked, f"while read -r -t {float(heartbeat_timeout)} _; do :; done"))
    run, started = audited
    untold, silent = (shlex.quote(audit.record(run, "ended", outcome=said)) for said in (audit.UNTOLD, audit.SILENT))
    return "\n".join(
        (
            *taken,
            audit.append_function(audit_log),
            f"awd_audit {shlex.quote(started)}",
            *locked,
            "while :; do",
            f"  read -r -t {float(heartbeat_timeout)} line; status=$?",
            '  [ "$status" -eq 0 ] || break',
            '  case $line in "END "*) awd_audit "${line#END }"; echo RECORDED; exit 0;; esac',
            "done",
            # read's status past 128: the heartbeat's wait ran out; else the run's stdin closed.
            f'if [ "$status" -gt 128 ]; then awd_audit {silent}; else awd_audit {untold}; fi',
        )
    )


def _this_run(shared: bool) -> str:
    """Who holds the lock, in the words a waiting run prints."""
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    run = "a drift check" if shared else "a deploy"
    return f"{run} by {audit.deployer()} (pid {os.getpid()}), started {started}"


class _Received:
    """A stream read a chunk at a time, by line or up to a line: paramiko's file reads a
    line at a time in Python, and the facts' batch answers in hundreds of them."""

    def __init__(self, receive):
        self.receive, self.pending = receive, b""

    def _more(self) -> bool:
        chunk = self.receive(65536)
        self.pending += chunk
        return bool(chunk)

    def readline(self) -> bytes:
        """The next line with its newline; what is left at the end of the stream; b"" after it."""
        while (end := self.pending.find(b"\n")) < 0 and self._more():
            pass
        line, self.pending = (self.pending[: end + 1], self.pending[end + 1 :]) if end >= 0 else (self.pending, b"")
        return line

    def until(self, line: bytes) -> bytes:
        """Everything before the next `line` (a whole line, newline included), which is
        read too; everything left when the stream ends first."""
        searched = 0
        while (at := self.pending.find(line, searched)) < 0 or (at and self.pending[at - 1 : at] != b"\n"):
            if at >= 0:  # within a line: look further
                searched = at + 1
            elif not self._more():
                before, self.pending = self.pending, b""
                return before
        before, self.pending = self.pending[:at], self.pending[at + len(line) :]
        return before


class _Shell:
    """The holder's shell: its output (_Received), its stdin, its error output."""

    # The greenlet sending its heartbeats, once the lock is held.
    beating = None

    def __init__(self, host: Host, command: str):
        if isinstance(host.connector, SSHConnector):
            self.channel = host.connector.client.get_transport().open_session()
            self.channel.exec_command(command)
            self.stdout, self.stderr = _Received(self.channel.recv), self.channel.makefile_stderr("rb")
            self.send = self.channel.sendall
        else:
            self.process = subprocess.Popen(  # noqa: S602 - pyinfra's own command line, as its @local runs it
                command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            self.stdout, self.stderr = _Received(self.process.stdout.read1), self.process.stderr

            def send(data: bytes) -> None:
                self.process.stdin.write(data)
                self.process.stdin.flush()

            self.send = send

    # What writing to the holder raises once its shell or the connection is gone: paramiko
    # raises EOFError when the socket breaks before its transport has noticed.
    GONE = (OSError, EOFError, SSHException)

    def heartbeat(self) -> None:
        try:
            while True:
                self.send(b"\n")
                gevent.sleep(HEARTBEAT_INTERVAL)
        except self.GONE:  # nothing left to hold
            return


def hold_deploy_lock(
    host: Host,
    timeout: int,
    path: str = DEPLOY_LOCK,
    audited: dict | None = None,
    audit_log: str = AUDIT_LOG,
    then: str | None = None,
) -> list[str] | None:
    """Take the host's lock for this run (shared when the process only reads: readonly),
    waiting at most timeout s; DeployLockError naming its holder when the wait runs out.
    audited: what a run that changes the host records in its audit trail once it holds the
    lock ({"action": "deploy", "what": "shop, blog"}); its end is `tell_end`'s. then: an sh
    command run on the host, as the host's commands run, in the same round trip once the
    lock is held (prefetch's facts); its output lines, None when it was not run (none
    given, a connector with no lock, or output that is not UTF-8)."""
    if not isinstance(host.connector, (SSHConnector, LocalConnector)):
        logger.warning(f"{host.name}: no deploy lock over a {type(host.connector).__name__}")
        return None
    shared = readonly.declared()
    started = None
    if audited is not None and not shared:
        run = _audited[host.name] = audit.new_run()
        started = (run, audit.record(run, "started", by=audit.deployer(), **audited))
    arguments, _ = pop_global_arguments(host.state, host, {})
    accepted = inspect.signature(make_unix_command).parameters
    escalation = {key: value for key, value in arguments.items() if key in accepted}
    escalation["_shell_executable"] = "bash"
    # Whatever the command prints, it cannot end its own output early.
    then_done = f"THEN-DONE-{secrets.token_hex(8)}"

    sent = then.encode() if then else b""
    script = holder_script(
        path, shared, timeout, _this_run(shared), HEARTBEAT_TIMEOUT, started, audit_log, len(sent), then_done
    )
    command = make_unix_command_for_host(host.state, host, StringCommand(script), **escalation).get_raw_value()
    shell = _Shell(host, command)
    if sent:
        shell.send(sent)
    for raw in iter(shell.stdout.readline, b""):
        line = raw.decode(errors="replace").strip()
        word, _, holder = line.partition(" ")
        if word == "LOCKED":
            _held[host.name] = shell
            output = _then_output(shell, then_done) if then else None
            shell.beating = gevent.spawn(shell.heartbeat)
            return output
        if word == "BUSY":
            logger.warning(f"{host.name}: waiting up to {timeout} s for the deploy lock, held by {holder or 'a run'}")
        elif word == "TIMEOUT":
            raise DeployLockError(
                f"{host.name}: the deploy lock {path} is held by {holder or 'another run'}; gave up after"
                f" {timeout} s (deploy_lock_timeout)"
            )
    error = shell.stderr.read().decode(errors="replace").strip().splitlines()
    raise DeployLockError(
        f"{host.name}: could not take the deploy lock {path}: {' / '.join(error[-2:]) or 'no answer'}"
    )


def _then_output(shell: _Shell, then_done: str) -> list[str] | None:
    """The lines the holder's `then` command printed, as pyinfra reads a command's output."""
    try:
        text = shell.stdout.until(f"{then_done}\n".encode())[:-1].decode()  # without the newline put before the end
    except UnicodeDecodeError:
        return None
    return text.removesuffix("\n").split("\n") if text else []


def tell_end(host_name: str, outcome: str, **facts) -> None:
    """Record how an audited run on the host ended (its summary line, its releases), and
    let the lock go. A run that holds it unaudited (a read-only one) only stops its
    heartbeats: the lock goes with its connection."""
    run, shell = _audited.pop(host_name, None), _held.pop(host_name, None)
    if shell is not None and shell.beating is not None:
        shell.beating.kill(block=False)
    if run is None or shell is None:
        return
    try:
        with gevent.Timeout(RECORDED_TIMEOUT):
            shell.send(f"END {audit.record(run, 'ended', outcome=outcome, **facts)}\n".encode())
            for raw in iter(shell.stdout.readline, b""):
                if raw.strip() == b"RECORDED":
                    return
    except (*_Shell.GONE, gevent.Timeout):
        pass
    logger.warning(f"{host_name}: the end of this run could not be written to the audit trail")

"""
The deploy, one pyinfra process per host, with a per-host summary: what `./run.sh deploy` runs.

    .venv/bin/python -m apache_wsgi_deploy.summary [--inventory FILE] [pyinfra options...]

pyinfra stops only a failing host's own operations when a command fails, but pyinfra
3.10 aborts the whole run, every host with it, when a host's SSH connection drops in the
middle of an operation (paramiko's EOFError escapes its greenlet). So each host gets its
own `pyinfra --limit <host>` process, all at once: nothing one host does can stop or
half-apply another. Settings are validated for every host first, once. Each host's
output is printed when its run ends, then one line per host (converged, failed at which
operation, or not reached); the exit status is non-zero when any host did not converge.

The processes are forked from this one once it has imported pyinfra and the deploy's
modules: a fresh interpreter would spend about 0.45 s of CPU on those imports per host,
most of a no-change rerun's cost.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from pyinfra.api import State
from pyinfra.context import ctx_state

from apache_wsgi_deploy.facts.apache import UNDECLARED_SITE
from apache_wsgi_deploy.settings import SettingsError, validate_inventory

PROJECT = Path(__file__).resolve().parent.parent
OPERATION_START = "--> Starting operation: "


@dataclass
class HostOutcome:
    changed: int = 0
    unchanged: int = 0
    failed_at: str | None = None
    unreachable: str | None = None
    exit_status: int = 0
    undeclared_sites: list[str] = field(default_factory=list)


def read_outcome(host: str, lines) -> HostOutcome:
    """One host's run, from pyinfra's progress lines: '[host] Success', '[host] No changes',
    '[host] Error: ...', '[host] Could not connect ...' under '--> Starting operation: X';
    and the deploy's warning 'host: site 'name' ... was deployed here but is not in `sites`'."""
    outcome = HostOutcome()
    operation = None
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(OPERATION_START):
            operation = stripped[len(OPERATION_START) :].strip()
            continue
        if stripped.startswith(f"{host}: site '") and UNDECLARED_SITE in stripped:
            outcome.undeclared_sites.append(stripped.split("'")[1])
            continue
        if not stripped.startswith(f"[{host}]"):
            continue
        message = stripped[len(host) + 2 :].strip()  # pyinfra pads short host names
        if message == "Success":
            outcome.changed += 1
        elif message == "No changes":
            outcome.unchanged += 1
        elif message.startswith("Error:") and operation and outcome.failed_at is None:
            outcome.failed_at = operation
        elif message.startswith("Could not connect"):
            outcome.unreachable = message
    return outcome


def summary(outcomes: dict[str, HostOutcome]) -> str:
    lines = ["--> Per host:"]
    for host, outcome in sorted(outcomes.items()):
        if outcome.unreachable:
            lines.append(f"    {host}: NOT REACHED, {outcome.unreachable}")
        elif outcome.failed_at:
            lines.append(f"    {host}: FAILED at '{outcome.failed_at}' ({outcome.changed} changed before)")
        elif outcome.exit_status != 0:
            lines.append(f"    {host}: FAILED, pyinfra exited {outcome.exit_status} ({outcome.changed} changed)")
        else:
            lines.append(f"    {host}: converged, {outcome.changed} changed, {outcome.unchanged} unchanged")
        if outcome.undeclared_sites:
            lines[-1] += f"; left as they are, not in `sites`: {', '.join(outcome.undeclared_sites)}"
    return "\n".join(lines)


def _fork_deploy(host: str, inventory: str, options: list[str], log: Path) -> int:
    """Start `pyinfra -y --limit <host> <inventory> deploy.py` in a child; its pid."""
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.chdir(PROJECT)
        sys.argv = ["pyinfra", "-y", "--limit", host, inventory, "deploy.py", *options]
        from pyinfra_cli.main import main as pyinfra_main

        pyinfra_main()
        status = 0
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _deploy_all(hosts: list[str], inventory: str, options: list[str]) -> dict[str, tuple[HostOutcome, str]]:
    with tempfile.TemporaryDirectory(prefix="apache-wsgi-deploy-") as folder:
        logs = {host: Path(folder) / f"{index}.log" for index, host in enumerate(hosts)}
        pids = {host: _fork_deploy(host, inventory, options, logs[host]) for host in hosts}
        results = {}
        for host, pid in pids.items():
            _, wait_status = os.waitpid(pid, 0)
            output = logs[host].read_text(errors="replace")
            outcome = read_outcome(host, output.splitlines())
            outcome.exit_status = os.waitstatus_to_exitcode(wait_status)
            results[host] = (outcome, output)
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Deploy every host in its own pyinfra process.")
    parser.add_argument("--inventory", default="inventory.py", help="pyinfra inventory file (default: inventory.py)")
    args, options = parser.parse_known_args(argv)
    # pyinfra_cli patches ssl (gevent) when imported: only the command itself pays for it.
    # pyinfra's CLI and the deploy's modules are imported once, here, for every host's run.
    import pyinfra_cli.main  # noqa: F401
    from pyinfra_cli.inventory import make_inventory

    import apache_wsgi_deploy.deploys  # noqa: F401

    with ctx_state.use(State()):
        inventory = make_inventory(args.inventory, cwd=str(PROJECT))
    try:
        validate_inventory(inventory, PROJECT)
    except SettingsError as error:
        print(f"--> pyinfra error: {error}", file=sys.stderr)
        return 1
    hosts = [host.name for host in inventory]
    outcomes = {}
    for host, (outcome, output) in _deploy_all(hosts, args.inventory, options).items():
        print(f"=== {host} ===\n{output.rstrip()}\n", file=sys.stderr, flush=True)
        outcomes[host] = outcome
    print(summary(outcomes), file=sys.stderr)
    return 0 if all(outcome.exit_status == 0 for outcome in outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

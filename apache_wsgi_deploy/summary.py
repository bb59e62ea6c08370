"""
The deploy with a per-host summary at the end: what `./run.sh deploy` runs.

    .venv/bin/python -m apache_wsgi_deploy.summary [pyinfra arguments...]

pyinfra already isolates hosts: a host that fails or cannot be reached stops only its
own operations. Its output, though, is per operation; this streams it unchanged and then
prints one line per host (converged, failed at which operation, or not reached) and exits
with pyinfra's status, non-zero when any host did not converge.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
OPERATION_START = "--> Starting operation: "


@dataclass
class HostOutcome:
    changed: int = 0
    unchanged: int = 0
    failed_at: str | None = None
    unreachable: str | None = None


def read_outcomes(lines) -> dict[str, HostOutcome]:
    """Per host, from pyinfra's progress lines: '[host] Success', '[host] No changes',
    '[host] Error...', '[host] Could not connect...' under '--> Starting operation: X'."""
    outcomes: dict[str, HostOutcome] = {}
    operation = None
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(OPERATION_START):
            operation = stripped[len(OPERATION_START):].strip()
            continue
        if not stripped.startswith("["):
            continue
        host, _, message = stripped[1:].partition("] ")
        message = message.strip()  # pyinfra pads short host names
        outcome = outcomes.setdefault(host, HostOutcome())
        if message == "Success":
            outcome.changed += 1
        elif message == "No changes":
            outcome.unchanged += 1
        elif message.startswith("Error") and operation and outcome.failed_at is None:  # "Error: ..."
            outcome.failed_at = operation
        elif message.startswith("Could not connect"):
            outcome.unreachable = message
    return outcomes


def summary(outcomes: dict[str, HostOutcome]) -> str:
    lines = ["--> Per host:"]
    for host, outcome in sorted(outcomes.items()):
        if outcome.unreachable:
            lines.append(f"    {host}: NOT REACHED, {outcome.unreachable}")
        elif outcome.failed_at:
            lines.append(f"    {host}: FAILED at '{outcome.failed_at}' ({outcome.changed} changed before)")
        elif outcome.changed or outcome.unchanged:
            lines.append(f"    {host}: converged, {outcome.changed} changed, {outcome.unchanged} unchanged")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    command = [str(Path(sys.executable).parent / "pyinfra"), *argv]
    with subprocess.Popen(command, cwd=PROJECT, stderr=subprocess.PIPE, text=True) as pyinfra:
        seen = []
        for line in pyinfra.stderr:
            sys.stderr.write(line)
            seen.append(line)
    outcomes = read_outcomes(seen)
    if outcomes:
        print(summary(outcomes), file=sys.stderr)
    return pyinfra.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

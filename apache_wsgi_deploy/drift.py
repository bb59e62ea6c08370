"""
Drift check: the deploy in pyinfra's dry mode against an inventory, changing nothing.

    .venv/bin/python -m apache_wsgi_deploy.drift [--inventory FILE]     (./run.sh check)

Prints, per host, the operations that would change something and pyinfra's diff of each
file that would be rewritten; exits 0 when every host matches, 2 when any host drifted,
1 when the check itself failed (bad settings, a host unreachable). No prompt, and no
colour: the output is the same on a terminal, in cron mail and in a CI log.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
MATCHES, DRIFTED, FAILED = 0, 2, 1


@dataclass
class HostDrift:
    changes: list[str] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)


def diffs_by_host(stderr: str) -> dict[str, list[str]]:
    """pyinfra's --diff blocks: '    [host] Will modify <path>' and the indented lines after."""
    diffs: dict[str, list[str]] = {}
    current = None
    for line in stderr.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and "] " in stripped:
            host, _, message = stripped[1:].partition("] ")
            message = message.strip()  # pyinfra pads short host names
            current = host if message.startswith("Will ") else None
            if current:
                diffs.setdefault(host, []).append(message)
        elif current and line.startswith("      "):
            diffs[current].append(line[6:])
        elif not stripped:
            continue
        else:
            current = None
    return diffs


def analyse(plan: list[dict], stderr: str) -> dict[str, HostDrift]:
    """Per host with something to change: what, and the diffs. Operations guarded by _if
    (the reload, the daemon restart) only follow such a change and are not listed."""
    drift: dict[str, HostDrift] = {}
    for operation in plan:
        for host in operation["hosts_with_change"]:
            drift.setdefault(host, HostDrift()).changes.append(operation["name"])
    for host, lines in diffs_by_host(stderr).items():
        if host in drift:
            drift[host].diff = lines
    return drift


def report(hosts: list[str], drift: dict[str, HostDrift], unreachable: dict[str, str]) -> str:
    lines = [f"{host}: NOT CHECKED, {reason}" for host, reason in sorted(unreachable.items())]
    for host in hosts:
        if host not in drift:
            lines.append(f"{host}: matches")
            continue
        found = drift[host]
        lines.append(f"{host}: DRIFTED, {len(found.changes)} operation(s) would change:")
        lines += [f"  - {name}" for name in found.changes]
        lines += [f"    {line}" for line in found.diff]
    drifted = len([host for host in hosts if host in drift])
    total = len(hosts) + len(unreachable)
    lines.append(
        f"drift check: {len(hosts) - drifted} of {total} host(s) match, {drifted} drifted,"
        f" {len(unreachable)} not checked"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Report what a deploy would change, changing nothing.")
    parser.add_argument("--inventory", default="inventory.py", help="pyinfra inventory file (default: inventory.py)")
    args = parser.parse_args(argv)
    dry_run = subprocess.run(
        [str(Path(sys.executable).parent / "pyinfra"), "--dry", "--diff", "--json", args.inventory, "deploy.py"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        plan = json.loads(dry_run.stdout)["plan"]
    except (json.JSONDecodeError, KeyError):
        plan = None
    connected, unreachable = connections(dry_run.stderr)
    # pyinfra exits 1 when a host is unreachable, yet plans for the others.
    if plan is None or (dry_run.returncode != 0 and not unreachable):
        print(dry_run.stderr.rstrip(), file=sys.stderr)
        print(f"drift check: could not check (pyinfra exited {dry_run.returncode})", file=sys.stderr)
        return FAILED
    drift = analyse(plan, dry_run.stderr)
    print(report(sorted(connected), drift, unreachable))
    if unreachable:
        return FAILED
    return DRIFTED if drift else MATCHES


def connections(stderr: str) -> tuple[set[str], dict[str, str]]:
    """Hosts pyinfra reached ('[host] Connected') and those it could not, with its reason."""
    connected, unreachable = set(), {}
    for line in stderr.splitlines():
        stripped = line.strip()
        if not stripped.startswith("["):
            continue
        host, _, message = stripped[1:].partition("] ")
        message = message.strip()  # pyinfra pads short host names
        if message == "Connected":
            connected.add(host)
        elif message.startswith("Could not connect"):
            unreachable[host] = message
    return connected, unreachable


if __name__ == "__main__":
    sys.exit(main())

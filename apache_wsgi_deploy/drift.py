"""
Drift check: the deploy in pyinfra's dry mode against an inventory, changing nothing.

    .venv/bin/python -m apache_wsgi_deploy.drift [--inventory FILE]     (./run.sh check)

Prints, per host, the operations that would change something and the diff of each file
that would be rewritten, a config on disk that fails its configtest, and each file in
Apache's *-enabled folders the deploy would not have made; exits 0 when every host matches, 2 when any host drifted, 1
when the check itself failed (bad settings, a host unreachable or failing). No prompt,
and no colour: the output is the same on a terminal, in cron mail and in a CI log. Each
host is checked in its own pyinfra process, as the deploy runs (apache_wsgi_deploy.runner).
"""

from __future__ import annotations

import argparse
import sys

from apache_wsgi_deploy.outcome import HostOutcome
from apache_wsgi_deploy.runner import CONCURRENCY, not_read, positive, read_only_runs

MATCHES, DRIFTED, FAILED = 0, 2, 1


def report(outcomes: dict[str, HostOutcome]) -> str:
    """One block per host (what would change, with the diffs), then a total."""
    lines = []
    failed = {host: not_read(outcome) for host, outcome in outcomes.items() if not_read(outcome)}
    lines += [f"{host}: NOT CHECKED, {reason}" for host, reason in sorted(failed.items())]
    checked = [host for host in outcomes if host not in failed]
    for host in checked:
        outcome = outcomes[host]
        if not outcome.drifted:
            lines.append(f"{host}: matches")
            continue
        changes = f", {len(outcome.would_change)} operation(s) would change:" if outcome.would_change else ""
        lines.append(f"{host}: DRIFTED{changes}")
        lines += [f"  - {name}" for name in outcome.would_change]
        lines += [f"    {line}" for line in outcome.diffs]
        lines += [f"  - apache2ctl configtest fails on the files on disk: {error}" for error in outcome.config_errors]
        lines += [f"  - not made by the deploy: {entry}" for entry in outcome.foreign_entries]
        if outcome.foreign_entries:
            lines.append("    (there on purpose? list it in expected_foreign_entries)")
    drifted = len([host for host in checked if outcomes[host].drifted])
    lines.append(
        f"drift check: {len(checked) - drifted} of {len(outcomes)} host(s) match, {drifted} drifted,"
        f" {len(failed)} not checked"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Report what a deploy would change, changing nothing.")
    parser.add_argument("--inventory", default="inventory.py", help="pyinfra inventory file (default: inventory.py)")
    parser.add_argument("--concurrency", type=positive, default=CONCURRENCY, help=f"hosts read at once ({CONCURRENCY})")
    args = parser.parse_args(argv)
    outcomes = read_only_runs(args.inventory, ["--diff", args.inventory, "deploy.py"], args.concurrency)
    if outcomes is None:
        print("drift check: could not check (bad settings)", file=sys.stderr)
        return FAILED
    print(report(outcomes))
    if any(not_read(outcome) for outcome in outcomes.values()):
        return FAILED
    return DRIFTED if any(outcome.drifted for outcome in outcomes.values()) else MATCHES


if __name__ == "__main__":
    sys.exit(main())

"""
Drift check (`awd check`): the deploy in pyinfra's dry mode, changing nothing, and its report.

Per host: the operations that would change something and the diff of each file that would
be rewritten, a config on disk that fails its configtest, each file in Apache's *-enabled
folders the deploy would not have made, and each directive and module Apache runs with
that neither the deploy nor Debian declares (apache_wsgi_deploy.effective). No colour: the report is the same on a
terminal, in cron mail and in a CI log.
"""

from __future__ import annotations

from apache_wsgi_deploy.outcome import HostOutcome
from apache_wsgi_deploy.runner import not_read

MATCHES, DRIFTED, FAILED = 0, 2, 1


def not_checked(outcome: HostOutcome) -> bool:
    """Not read, save for a refusal: what the deploy refused on the host is a finding."""
    return bool(not_read(outcome)) and not outcome.refusals


def report(outcomes: dict[str, HostOutcome]) -> str:
    """One block per host (what would change, with the diffs), then a total."""
    lines = []
    failed = {host: not_read(outcome) for host, outcome in outcomes.items() if not_checked(outcome)}
    lines += [f"{host}: NOT CHECKED, {reason}" for host, reason in sorted(failed.items())]
    checked = [host for host in outcomes if host not in failed]
    for host in checked:
        outcome = outcomes[host]
        if not outcome.drifted:
            lines.append(f"{host}: matches")
            lines += [f"  note: {notice}" for notice in outcome.notices]
            continue
        changes = f", {len(outcome.would_change)} operation(s) would change:" if outcome.would_change else ""
        lines.append(f"{host}: DRIFTED{changes}")
        lines += [f"  - {name}" for name in outcome.would_change]
        lines += [f"    {line}" for line in outcome.diffs]
        lines += [f"  - apache2ctl configtest fails on the files on disk: {error}" for error in outcome.config_errors]
        lines += [f"  - not made by the deploy: {entry}" for entry in outcome.foreign_entries]
        lines += [f"  - declared by neither the deploy nor Debian: {found}" for found in outcome.undeclared_config]
        lines += [f"  - {refusal}" for refusal in outcome.refusals]
        if outcome.refusals:
            lines.append("    (a deploy stops there: nothing after it was compared)")
        if outcome.foreign_entries:
            lines.append("    (there on purpose? list it in expected_foreign_entries)")
        if outcome.undeclared_config:
            lines.append(
                "    (a deploy puts back its own files; anything else there on purpose belongs in a conf of its own"
                " in conf-enabled, listed in expected_foreign_entries)"
            )
        lines += [f"  note: {notice}" for notice in outcome.notices]
    drifted = len([host for host in checked if outcomes[host].drifted])
    lines.append(
        f"drift check: {len(checked) - drifted} of {len(outcomes)} host(s) match, {drifted} drifted,"
        f" {len(failed)} not checked"
    )
    return "\n".join(lines)

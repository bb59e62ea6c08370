"""
What is live on each host (`awd status`), as read by the read_status deploy in pyinfra's
dry mode: for each host and site, the live release, where its code came from, when it
went live and how (a deploy, a rollback), the releases kept (rolled-back ones marked),
the snapshots of its data,
and what Apache on the host answers for the site's health_check_path now.
"""

from __future__ import annotations

import re

from apache_wsgi_deploy.audit import history_line
from apache_wsgi_deploy.facts.releases import by_age
from apache_wsgi_deploy.runner import not_read

STATUS_LINE = re.compile(r"HTTP/\d(?:\.\d)? (\d{3})")


def answers(site: dict) -> bool:
    status = STATUS_LINE.match(site["answer"])
    return status is not None and int(status.group(1)) < 400


def _source(site: dict, release: str) -> str:
    came_from = site["deployed_from"].get(release)
    # <time>-<code>[-<settings>]
    content = release.split("-")[1]
    if came_from is None:
        return f"content {content}"
    if came_from.startswith("git "):
        return f"{came_from}, commit {content}"
    return f"{came_from}, digest {content}"


def site_lines(site: dict) -> list[str]:
    current = site["current"]
    answer = f"GET {site['health_check_path']}: {site['answer']}"
    if current is None:
        return [f"  {site['app_name']}: no live release; {answer}"]
    when, _, how = site["went_live"].get(current, "").partition(" ")
    since = f"live since {when} ({how})" if when else "live (since before the history kept times)"
    kept = [
        release + (" (live)" if release == current else " (rolled back)" if release in site["rolled_back"] else "")
        for release in site["releases"]
    ]
    lines = [
        f"  {site['app_name']}: {current}, {since}; {_source(site, current)}",
        f"    {answer}",
        f"    releases kept: {', '.join(kept)}",
    ]
    for name in reversed(by_age(site["snapshots"])):
        taken = site["snapshots"][name]
        lines.append(f"    snapshot {name}: taken {taken['taken']}, with {taken['live']} live")
    return lines


def report(outcomes: dict) -> tuple[str, bool]:
    """The printed status, and whether every host was read and every site answers."""
    lines, healthy = [], True
    for host, outcome in outcomes.items():
        reason = not_read(outcome)
        if reason:
            lines.append(f"{host}: NOT READ, {reason}")
            healthy = False
            continue
        lines.append(f"{host}:")
        for site in outcome.sites:
            lines += site_lines(site)
            healthy = healthy and answers(site)
        if outcome.history:
            lines += ["  history:", *(f"  {history_line(entry)}" for entry in outcome.history)]
    return "\n".join(lines), healthy

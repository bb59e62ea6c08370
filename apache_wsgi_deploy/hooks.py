"""
What `awd deploy` and `awd rollback` tell the team as each host's run starts and ends:
the shell commands of the host's `deploy_hooks` for the event, run on the control
machine with the facts in AWD_* environment variables, and a JSON post to its
`deploy_webhook` (Slack-compatible: a "text" field). They run beside the deploy, each
within HOOK_TIMEOUT; one that fails is reported and never changes the run's outcome.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor

from apache_wsgi_deploy import audit, project, sources
from apache_wsgi_deploy.outcome import HostOutcome
from apache_wsgi_deploy.runner import host_line
from apache_wsgi_deploy.settings import Settings

HOOK_TIMEOUT = 30
DEPLOY, ROLLBACK, RESTORE = "deploy", "rollback", "restore"
# Hooks and posts of one run at once: a fleet's events do not wait for each other.
WORKERS = 8


def event_facts(event: str, action: str, host: str, settings: Settings, run: str, ended: HostOutcome | None) -> dict:
    """An event as the hooks and the webhook get it. ended: the host's outcome (None when
    it starts): its line, and the release each site's run made live or went back to."""
    made = {entry["install_path"]: entry["release"] for entry in ended.releases} if ended else {}
    sites = [
        {
            "app_name": site.app_name,
            "server_name": site.server_name,
            "release": made.get(site.app_install_path),
            "commit": sources.release_commit(made.get(site.app_install_path)),
        }
        for site in settings.present_sites
    ]
    facts = {"event": event, "action": action, "host": host, "sites": sites, "user": audit.deployer(), "run": run}
    if ended is not None:
        facts["outcome"] = host_line(host, ended)
    facts["text"] = _text(facts)
    return facts


def _text(facts: dict) -> str:
    """The event in one line, as a chat shows it."""
    released = ", ".join(
        f"{site['app_name']} {site['release']}" if site["release"] else site["app_name"] for site in facts["sites"]
    )
    said = {"started": "started", "succeeded": "succeeded", "failed": "FAILED", "rolled_back": "done"}[facts["event"]]
    line = f"awd {facts['action']} {said} on {facts['host']} by {facts['user']}: {released or 'no site'}"
    return f"{line} ({facts['outcome']})" if "outcome" in facts else line


def environment(facts: dict) -> dict[str, str]:
    """The facts as a hook's AWD_* variables: one a field, sites as "app=value" words, and
    the whole event as JSON in AWD_EVENT_JSON."""

    def each(field: str) -> str:
        return " ".join(f"{site['app_name']}={site[field]}" for site in facts["sites"] if site[field])

    return {
        "AWD_EVENT": facts["event"],
        "AWD_ACTION": facts["action"],
        "AWD_HOST": facts["host"],
        "AWD_SITES": " ".join(site["app_name"] for site in facts["sites"]),
        "AWD_RELEASES": each("release"),
        "AWD_COMMITS": each("commit"),
        "AWD_USER": facts["user"],
        "AWD_RUN": facts["run"],
        "AWD_OUTCOME": facts.get("outcome", ""),
        "AWD_EVENT_JSON": json.dumps(facts),
    }


def run_hook(command: str, facts: dict) -> str | None:
    """One hook command, in the project folder; why it failed, or None."""
    try:
        ran = subprocess.run(
            ["sh", "-c", command],
            cwd=project.folder(),
            env={**os.environ, **environment(facts)},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=HOOK_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return f"did not end within {HOOK_TIMEOUT} s"
    if ran.returncode:
        said = (ran.stderr.strip() or ran.stdout.strip()).splitlines()
        return f"failed with exit status {ran.returncode}" + (f": {said[-1][:300]}" if said else "")
    return None


def post(url: str, facts: dict) -> str | None:
    """The event posted as JSON; why it was not taken, or None. The URL is never shown
    (a chat's webhook URL is its credential): only its host."""
    request = urllib.request.Request(
        url, data=json.dumps(facts).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=HOOK_TIMEOUT) as answer:
            answer.read()
    except urllib.error.HTTPError as error:
        return f"answered {error.code}"
    except (urllib.error.URLError, OSError) as error:
        return f"could not be reached ({getattr(error, 'reason', error)})"
    return None


class Hooks:
    """A run's events, told as each host starts and ends: a host's in the order they came,
    hosts beside each other; `failures()` waits for every hook and post, and says which failed."""

    def __init__(self, settings: dict[str, Settings], action: str, run: str):
        self.settings, self.action, self.run = settings, action, run
        self.pool = ThreadPoolExecutor(WORKERS)
        # Each host's last event told: the next waits for it.
        self.last: dict[str, Future] = {}

    def any(self) -> bool:
        return any(settings.deploy_hooks or settings.deploy_webhook for settings in self.settings.values())

    def started(self, host: str) -> None:
        self._tell("started", host, None)

    def ended(self, host: str, outcome: HostOutcome) -> None:
        if outcome.exit_status != 0:
            event = "failed"
        else:
            event = "rolled_back" if self.action == ROLLBACK else "succeeded"
        self._tell(event, host, outcome)

    def _tell(self, event: str, host: str, ended: HostOutcome | None) -> None:
        settings = self.settings[host]
        commands = settings.deploy_hooks.get(event, [])
        if not commands and not settings.deploy_webhook:
            return
        facts = event_facts(event, self.action, host, settings, self.run, ended)
        before = self.last.get(host)

        def tell() -> list[str]:
            failed = [*before.result()] if before is not None else []
            for command in commands:
                if (why := run_hook(command, facts)) is not None:
                    failed.append(f"hook {command!r} at {host} {event} {why}")
            if settings.deploy_webhook and (why := post(settings.deploy_webhook, facts)) is not None:
                shown = urllib.parse.urlsplit(settings.deploy_webhook).hostname
                failed.append(f"webhook to {shown} at {host} {event} {why}")
            return failed

        # The pool takes tasks in order: the one waited for has started already.
        self.last[host] = self.pool.submit(tell)

    def failures(self) -> list[str]:
        """Once every hook and post has ended: a line for each that failed, host by host."""
        self.pool.shutdown(wait=True)
        return [failure for host in self.settings if host in self.last for failure in self.last[host].result()]

"""
Maintenance mode (`awd maintenance on|off APP`): the flag file a site's HTTPS vhost tests
on every request (layout.MAINTENANCE_FLAG). While it exists, every request but those of
`maintenance_allowed` is answered 503 with the site's page and Retry-After; switching is
a file made or removed, over OpenSSH as root, with no reload of Apache, and recorded in
the host's audit trail.
"""

from __future__ import annotations

import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor

from apache_wsgi_deploy import audit
from apache_wsgi_deploy.connection import openssh_command

# Hosts switched at once.
CONCURRENCY = 8
# The remote command's exit status when the site was never deployed on the host.
NOT_DEPLOYED = 3


def switch_command(site, on: bool) -> str:
    """The shell command, run as root on the host, that puts the site in maintenance or
    takes it out, recorded in the audit trail."""
    flag, page = (shlex.quote(path) for path in (site.paths.maintenance_flag, site.paths.maintenance_page))
    deployed = f"test -f {page} || {{ echo 'no maintenance page: deploy the site first' >&2; exit {NOT_DEPLOYED}; }}"
    # The operator's now: a deploy that held it for its release commands leaves it on.
    marker = shlex.quote(site.paths.maintenance_by_deploy)
    switch = f"touch {flag} && rm -f {marker}" if on else f"rm -f {flag} {marker}"
    what = {"action": "maintenance", "what": f"{site.app_name}: {'on' if on else 'off'}"}
    return audit.around(what, f"( {deployed} && {switch} )")


def said(site, on: bool) -> str:
    """What a host in (or out of) maintenance now does for the site."""
    if not on:
        return f"{site.app_name} serves every request again"
    allowed = f" but {', '.join(site.maintenance_allowed)}'s" if site.maintenance_allowed else ""
    return f"{site.app_name} answers every request{allowed} 503 (Retry-After {site.maintenance_retry_after} s)"


def switch(hosts: dict[str, tuple[dict, object]], on: bool, concurrency: int = CONCURRENCY) -> int:
    """Switch each host's site (host name -> (its inventory data, the site)), a line per
    host; 0 when every host switched, 1 otherwise."""

    def run(name: str) -> subprocess.CompletedProcess:
        data, site = hosts[name]
        command = openssh_command(name, data, switch_command(site, on), tty=False)
        return subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)

    with ThreadPoolExecutor(concurrency) as pool:
        results = dict(zip(hosts, pool.map(run, hosts), strict=True))
    for name, result in results.items():
        if result.returncode == 0:
            print(f"{name}: {said(hosts[name][1], on)}")
        else:
            lines = result.stderr.strip().splitlines()
            print(f"{name}: NOT SWITCHED, {lines[-1] if lines else f'exit {result.returncode}'}")
    return 0 if all(result.returncode == 0 for result in results.values()) else 1

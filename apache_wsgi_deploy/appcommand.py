"""
A command in a site's live release (`awd app APP -- COMMAND`): it runs as the app's
user, in the live release's code folder, its virtualenv first on PATH, with the app's
environment (host_tools/inapp.py, as release commands run), over OpenSSH with the
inventory's connection data. With one host and a terminal it is
interactive (`python manage.py createsuperuser`); otherwise each host's output is
printed under its name.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from apache_wsgi_deploy import audit, layout
from apache_wsgi_deploy.connection import openssh_command

# Hosts a command runs on at once.
CONCURRENCY = 8
# How much of a command its audit record keeps.
AUDITED_CHARS = 300
# OpenSSH's exit status when it could not connect or authenticate.
UNREACHABLE = 255


def in_live_release(site, command: list[str]) -> str:
    """The shell command, run as root on the host, that runs `command` in the live release,
    recorded in the host's audit trail."""
    paths = site.paths
    release = f'"$(readlink -f {shlex.quote(paths.current_dir)})"'
    runner = shlex.join(["runuser", "-u", site.wsgi_user, "--"])
    tool = shlex.join([layout.IN_APP])
    arguments = shlex.join([site.data_dir, "--umask", site.wsgi_umask, "--", *command])
    # From /: the SSH user's home may be closed to the app's user (Debian 13's HOME_MODE 0700).
    run = f'cd / && release={release} && {runner} "$release/venv/bin/python" {tool} "$release" {arguments}'
    return audit.around({"action": "app", "what": f"{site.app_name}: {shlex.join(command)}"[:AUDITED_CHARS]}, run)


def run_on_hosts(commands: dict[str, tuple[dict, str]], concurrency: int = CONCURRENCY) -> int:
    """Run each host's remote command (host name -> (its inventory data, the command)):
    with one host, on this terminal, its exit status the command's (1 when the host was
    not reached); otherwise `concurrency` at once, each host's output printed under its
    name, 0 when it succeeded everywhere and 1 otherwise."""
    if len(commands) == 1:
        ((name, (data, remote)),) = commands.items()
        status = subprocess.call(openssh_command(name, data, remote, tty=sys.stdin.isatty()))
        return 1 if status == UNREACHABLE else status

    def run(name: str) -> subprocess.CompletedProcess:
        data, remote = commands[name]
        return subprocess.run(
            openssh_command(name, data, remote, tty=False), stdin=subprocess.DEVNULL, capture_output=True, text=True
        )

    with ThreadPoolExecutor(concurrency) as pool:
        results = dict(zip(commands, pool.map(run, commands), strict=True))
    for name, result in results.items():
        if result.returncode == UNREACHABLE:
            print(f"{name}: NOT REACHED, {last_line(result.stderr)}", file=sys.stderr)
            continue
        print(f"=== {name}: exit {result.returncode} ===")
        print(result.stdout, end="")
        print(result.stderr, end="", file=sys.stderr)
    return 0 if all(result.returncode == 0 for result in results.values()) else 1


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no answer"

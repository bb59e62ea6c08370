"""
A command in a site's live release, on the inventory's hosts: `./run.sh app APP_NAME
[--inventory FILE] [--limit HOST]... -- COMMAND [ARGS...]`.

It runs as the app's user, in the live release's code folder, its virtualenv first on
PATH, with the app's environment (host_tools/inapp.py, as release commands run), over
OpenSSH with the inventory's connection data. With one host and a terminal it is
interactive (`python manage.py createsuperuser`); otherwise each host's output is
printed under its name. Exit status 0 when the command succeeded on every host.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from apache_wsgi_deploy import PROJECT, layout
from apache_wsgi_deploy.connection import openssh_command
from apache_wsgi_deploy.settings import SettingsError, validate_inventory

# Hosts a command runs on at once.
CONCURRENCY = 8


def in_live_release(site, command: list[str]) -> str:
    """The shell command, run as root on the host, that runs `command` in the live release."""
    paths = site.paths
    release = f'"$(readlink -f {shlex.quote(paths.current_dir)})"'
    runner = shlex.join(["runuser", "-u", site.wsgi_user, "--"])
    tool = shlex.join([layout.IN_APP])
    arguments = shlex.join([site.data_dir, "--", *command])
    # From /: the SSH user's home may be closed to the app's user (Debian 13's HOME_MODE 0700).
    return f'cd / && release={release} && exec {runner} "$release/venv/bin/python" {tool} "$release" {arguments}'


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="./run.sh app", description="Run a command in a site's live release.")
    parser.add_argument("app_name")
    parser.add_argument("--inventory", default="inventory.py", help="pyinfra inventory file (default: inventory.py)")
    parser.add_argument("--limit", action="append", help="only this host (repeatable)")
    # Everything after "--" is the command's, its options included.
    split = argv.index("--") if "--" in argv else len(argv)
    args, command = parser.parse_args(argv[:split]), argv[split + 1 :]
    if not command:
        parser.error("no command: ./run.sh app APP_NAME [--inventory=FILE] [--limit=HOST] -- COMMAND [ARGS...]")

    from pyinfra.api import State
    from pyinfra.context import ctx_state
    from pyinfra_cli.inventory import make_inventory

    with ctx_state.use(State()):
        inventory = make_inventory(args.inventory, cwd=str(PROJECT))
    try:
        settings = validate_inventory(inventory, PROJECT)
    except SettingsError as error:
        print(f"--> pyinfra error: {error}", file=sys.stderr)
        return 1
    hosts = [host for host in inventory if not args.limit or host.name in args.limit]
    runs = {}
    for host in hosts:
        site = next((site for site in settings[host.name].present_sites if site.app_name == args.app_name), None)
        if site is None:
            print(f"{host.name}: no site named {args.app_name!r}", file=sys.stderr)
            return 1
        runs[host.name] = (host.data.dict(), in_live_release(site, command))
    if not runs:
        print(f"no host of {args.inventory} matches --limit {' '.join(args.limit or [])}", file=sys.stderr)
        return 1
    if len(runs) == 1:
        ((name, (data, remote)),) = runs.items()
        return subprocess.call(openssh_command(name, data, remote, tty=sys.stdin.isatty()), cwd=PROJECT)

    def run(name: str) -> subprocess.CompletedProcess:
        data, remote = runs[name]
        return subprocess.run(
            openssh_command(name, data, remote, tty=False),
            cwd=PROJECT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = dict(zip(runs, pool.map(run, runs), strict=True))
    for name, result in results.items():
        print(f"=== {name}: exit {result.returncode} ===")
        print(result.stdout, end="")
        print(result.stderr, end="", file=sys.stderr)
    return 0 if all(result.returncode == 0 for result in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""awd app APP -- COMMAND: a command in a site's live release, as the app's user."""

from __future__ import annotations

import sys

from apache_wsgi_deploy import appcommand
from apache_wsgi_deploy.cli.common import NOT_RUN, add_host_options, hosts_of

HELP = "run COMMAND in the site APP's live release, as its user (python manage.py createsuperuser)"


def add_arguments(parser) -> None:
    parser.add_argument("app_name", metavar="APP", help="the site's app_name")
    add_host_options(parser, appcommand.CONCURRENCY, json_output=False)
    parser.usage = "awd app APP [options] -- COMMAND [ARGS...]"


def run(args, extra: list[str]) -> int:
    if not args.rest:
        print("awd app: no command: awd app APP [options] -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    selection = hosts_of(args, deploys=False)
    if selection is None:
        return NOT_RUN
    commands = {}
    for host in selection.names:
        site = next((s for s in selection.settings[host].present_sites if s.app_name == args.app_name), None)
        if site is None:
            print(f"awd app: {host} has no site named {args.app_name!r}", file=sys.stderr)
            return NOT_RUN
        commands[host] = (selection.data[host], appcommand.in_live_release(site, args.rest))
    return appcommand.run_on_hosts(commands, args.concurrency)

"""awd maintenance on|off APP: a site answers 503 with its maintenance page, or serves again."""

from __future__ import annotations

import sys

from apache_wsgi_deploy import maintenance
from apache_wsgi_deploy.cli.common import NOT_RUN, add_host_options, hosts_of

HELP = "put the site APP in maintenance (503 with its page, no reload) or take it out (exit 0 all switched)"


def add_arguments(parser) -> None:
    parser.add_argument("switch", choices=("on", "off"))
    parser.add_argument("app_name", metavar="APP", help="the site's app_name")
    add_host_options(parser, maintenance.CONCURRENCY, json_output=False)


def run(args, extra: list[str]) -> int:
    # The switch needs none of the app's secrets on this machine.
    selection = hosts_of(args, deploys=False, app_values=False)
    if selection is None:
        return NOT_RUN
    hosts = {}
    for host in selection.names:
        site = next((s for s in selection.settings[host].present_sites if s.app_name == args.app_name), None)
        if site is None:
            print(f"awd maintenance: {host} has no site named {args.app_name!r}", file=sys.stderr)
            return NOT_RUN
        hosts[host] = (selection.data[host], site)
    return maintenance.switch(hosts, args.switch == "on", args.concurrency)

"""awd logs APP: a site's access and error logs from every selected host, each line
prefixed with its host and its log's kind; --follow prints lines as they are written."""

from __future__ import annotations

import sys

from apache_wsgi_deploy import sitelogs
from apache_wsgi_deploy.cli.common import NOT_RUN, add_host_options, hosts_of, not_negative
from apache_wsgi_deploy.connection import openssh_command

HELP = "print a site's access and error logs from every selected host, each line under its host (--follow)"
CONCURRENCY = 8


def add_arguments(parser) -> None:
    parser.add_argument("app_name", metavar="APP", help="the site's app_name")
    parser.add_argument("-f", "--follow", action="store_true", help="print lines as they are written, until Ctrl-C")
    parser.add_argument("--errors", action="store_true", help="the error logs only (Apache's and the app's own)")
    parser.add_argument(
        "-n", "--lines", type=not_negative, default=20, help="the last lines of each log (default: 20; 0 with --follow)"
    )
    add_host_options(parser, CONCURRENCY, json_output=False)


def run(args, extra: list[str]) -> int:
    # The logs need none of the app's secrets on this machine.
    selection = hosts_of(args, deploys=False, app_values=False)
    if selection is None:
        return NOT_RUN
    commands = {}
    for host in selection.names:
        site = next((s for s in selection.settings[host].present_sites if s.app_name == args.app_name), None)
        if site is None:
            print(f"awd logs: {host} has no site named {args.app_name!r}", file=sys.stderr)
            return NOT_RUN
        logs = sitelogs.site_logs(site, args.errors)
        remote = sitelogs.tail_command(logs, args.lines, args.follow)
        commands[host] = (openssh_command(host, selection.data[host], remote, tty=False), logs)
    # Followed, every host's lines come at once: none waits for another's to end.
    concurrency = len(commands) if args.follow else args.concurrency
    try:
        return sitelogs.stream(commands, concurrency)
    except KeyboardInterrupt:
        return 0

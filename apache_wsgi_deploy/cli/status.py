"""awd status: what is live on each selected host, changing nothing."""

from __future__ import annotations

import functools

from apache_wsgi_deploy import audit, live_status, runner
from apache_wsgi_deploy.cli.common import NOT_RUN, add_data_option, add_host_options, at_least, hosts_of, print_json

HELP = "each site's live release, its history and health now (exit 0 all read and healthy, 1 otherwise)"


def add_arguments(parser) -> None:
    parser.add_argument(
        "--history",
        nargs="?",
        type=functools.partial(at_least, 1),
        const=audit.HISTORY_RUNS,
        default=0,
        metavar="N",
        help=f"and each host's audit trail: who deployed, rolled back or ran what, when, and how it ended"
        f" (the last N, default {audit.HISTORY_RUNS})",
    )
    add_host_options(parser, runner.CONCURRENCY)
    add_data_option(parser)


def run(args, extra: list[str]) -> int:
    selection = hosts_of(args, deploys=False)
    if selection is None:
        return NOT_RUN
    job = runner.Job("apache_wsgi_deploy.deploys.read_status", {"history": args.history}, verbosity=args.verbose)
    outcomes = runner.read_only_runs(runner.run_hosts_of(selection), job, args.concurrency)
    text, healthy = live_status.report(outcomes)
    if args.json:
        print_json(
            {
                host: {
                    "read": runner.not_read(o) is None,
                    "sites": o.sites,
                    **({"history": o.history} if args.history else {}),
                }
                for host, o in outcomes.items()
            }
        )
    else:
        print(text)
    return 0 if healthy else 1

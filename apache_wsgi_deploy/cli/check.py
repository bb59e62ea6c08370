"""awd check: the drift check, what a deploy would change, changing nothing."""

from __future__ import annotations

from apache_wsgi_deploy import drift, runner
from apache_wsgi_deploy.cli.common import NOT_RUN, add_data_option, add_host_options, hosts_of, print_json
from apache_wsgi_deploy.cli.deploy import deploy_target

HELP = "what a deploy would change, changing nothing (exit 0 all match, 2 drifted, 1 not checked)"
MATCHES, DRIFTED, NOT_CHECKED = 0, 2, NOT_RUN


def add_arguments(parser) -> None:
    parser.add_argument("--deploy", help="pyinfra deploy file (default: as awd deploy)")
    add_host_options(parser, runner.CONCURRENCY)
    add_data_option(parser)


def run(args, extra: list[str]) -> int:
    # The app's values (app_env, secret files) this machine lacks are compared as the host has them.
    selection = hosts_of(args, app_values=False)
    if selection is None:
        print("drift check: could not check (bad settings)")
        return NOT_CHECKED
    job = runner.Job(deploy_target(args), verbosity=args.verbose)
    outcomes = runner.read_only_runs(runner.run_hosts_of(selection), job, args.concurrency)
    if args.json:
        print_json({host: {**outcome.as_dict(), "drifted": outcome.drifted} for host, outcome in outcomes.items()})
    else:
        print(drift.report(outcomes))
    if any(drift.not_checked(outcome) for outcome in outcomes.values()):
        return NOT_CHECKED
    return DRIFTED if any(outcome.drifted for outcome in outcomes.values()) else MATCHES

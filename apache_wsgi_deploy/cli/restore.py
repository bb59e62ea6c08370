"""awd restore APP [--snapshot NAME]: a site's data back from a snapshot, with its release, on every selected host."""

from __future__ import annotations

from apache_wsgi_deploy import hooks, runner
from apache_wsgi_deploy.cli.common import add_data_option, add_host_options
from apache_wsgi_deploy.cli.deploy import run_deploy

HELP = (
    "put the site APP's data back from its newest snapshot (or --snapshot NAME), with the release then live,"
    " the site in maintenance meanwhile (exit 0 done, 1 otherwise)"
)


def add_arguments(parser) -> None:
    parser.add_argument("app_name", metavar="APP", help="the site's app_name")
    parser.add_argument("--snapshot", default="", metavar="NAME", help="the snapshot, as awd status lists it")
    add_host_options(parser, runner.CONCURRENCY)
    add_data_option(parser)


def run(args, extra: list[str]) -> int:
    arguments = {"app_name": args.app_name, "snapshot": args.snapshot}
    job = runner.Job("apache_wsgi_deploy.deploys.restore", arguments, verbosity=args.verbose)
    return run_deploy(args, job, deploys=False, action=hooks.RESTORE)

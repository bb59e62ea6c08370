"""awd rollback APP: one site back to its previous release on every selected host."""

from __future__ import annotations

from apache_wsgi_deploy import hooks, runner
from apache_wsgi_deploy.cli.common import add_data_option, add_host_options
from apache_wsgi_deploy.cli.deploy import run_deploy

HELP = "put the site APP (its app_name) back to its previous release (exit 0 done, 1 otherwise)"


def add_arguments(parser) -> None:
    parser.add_argument("app_name", metavar="APP", help="the site's app_name")
    add_host_options(parser, runner.CONCURRENCY)
    add_data_option(parser)


def run(args, extra: list[str]) -> int:
    job = runner.Job("apache_wsgi_deploy.deploys.rollback", {"app_name": args.app_name}, verbosity=args.verbose)
    return run_deploy(args, job, deploys=False, action=hooks.ROLLBACK)

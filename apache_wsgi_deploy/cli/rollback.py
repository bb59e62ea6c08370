"""awd rollback APP: one site back to its previous release on every selected host."""

from __future__ import annotations

import json

from apache_wsgi_deploy import runner
from apache_wsgi_deploy.cli.common import add_host_options
from apache_wsgi_deploy.cli.deploy import run_deploy

HELP = "put the site APP (its app_name) back to its previous release (exit 0 done, 1 otherwise)"


def add_arguments(parser) -> None:
    parser.add_argument("app_name", metavar="APP", help="the site's app_name")
    add_host_options(parser, runner.CONCURRENCY)


def run(args, extra: list[str]) -> int:
    args.deploy = None
    # pyinfra's command line takes a deploy function's arguments as one JSON [args, kwargs].
    arguments = json.dumps([[], {"app_name": args.app_name}])
    return run_deploy(args, extra, ["apache_wsgi_deploy.deploys.rollback", arguments], deploys=False)

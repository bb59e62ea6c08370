"""awd verify: the verification suite against every selected host."""

from __future__ import annotations

import sys

from apache_wsgi_deploy import project, runner, verify
from apache_wsgi_deploy.cli.common import NOT_RUN, add_host_options, hosts_of, print_json

HELP = "run the verification suite against the selected hosts (exit 0 all passed, 1 otherwise)"


def add_arguments(parser) -> None:
    add_host_options(parser, verify.CONCURRENCY)
    parser.epilog = (
        "Other options and paths go to pytest: -k http picks checks, a folder of your own adds"
        " checks that take the suite's fixtures (docs/cli.md)."
    )


def run(args, extra: list[str]) -> int:
    selection = hosts_of(args, deploys=False)
    if selection is None:
        return NOT_RUN
    if len(selection.names) == 1 and not args.json:
        (host,) = selection.names
        verified = verify.verify_host(host, selection.data[host], args.inventory, extra, capture=False)
        if not verified.reached:
            print(f"{host}: {verified.result}", file=sys.stderr)
        return verified.exit_status
    logs = runner.run_logs()
    results = verify.verify_hosts(selection.data, args.inventory, extra, args.concurrency, logs, quiet=args.json)
    if args.json:
        print_json({result.host: result.as_dict() for result in results})
    else:
        print(verify.summary(results))
        print(f"--> Each host's pytest output: {logs.relative_to(project.folder())}/verify-<host>.log")
    return 0 if all(result.exit_status == 0 for result in results) else 1

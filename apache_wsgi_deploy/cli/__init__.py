"""
awd: the command line of apache-wsgi-deploy, one subcommand a module. Each command's
front end is thin: what it runs is a library function the tests call directly.

    awd [--version] COMMAND [options] [-- ...]
"""

from __future__ import annotations

import argparse
import gc
import sys

from apache_wsgi_deploy import __version__
from apache_wsgi_deploy.cli import (
    app,
    check,
    deploy,
    init,
    logs,
    maintenance,
    restore,
    rollback,
    status,
    testhost,
    verify,
)

COMMANDS = {
    "init": init,
    "deploy": deploy,
    "check": check,
    "verify": verify,
    "status": status,
    "rollback": rollback,
    "restore": restore,
    "app": app,
    "logs": logs,
    "maintenance": maintenance,
    "testhost": testhost,
}
# Commands whose unknown options go on to the tool they run (pytest).
PASS_THROUGH = {"verify"}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="awd",
        description="Deploy WSGI apps behind Apache with mod_wsgi on Debian servers, and prove the result.",
        epilog="Every command: awd COMMAND --help. Reference: docs/cli.md.",
    )
    top.add_argument("--version", action="version", version=f"apache-wsgi-deploy {__version__}")
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        command = commands.add_parser(name, help=module.HELP, description=module.__doc__.strip())
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return top


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # What follows "--" is a command's own (awd app's COMMAND, pytest's paths for verify).
    split = argv.index("--") if "--" in argv else len(argv)
    args, extra = parser().parse_known_args(argv[:split])
    args.rest = argv[split + 1 :]
    if extra and args.command not in PASS_THROUGH:
        parser().error(f"unknown options for {args.command}: {' '.join(extra)}")
    if args.command == "verify":
        extra += args.rest
    return args.run(args, extra)


def command() -> int:
    """The `awd` executable: main, its objects then left out of the collections the
    interpreter makes as it exits (what is still alive then is freed with the process)."""
    status = main()
    gc.freeze()
    return status

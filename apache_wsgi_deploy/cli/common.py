"""What every command of `awd` shares: the host options, one selection of hosts, and how
a command reports bad settings or no host in one line."""

from __future__ import annotations

import argparse
import json
import sys

from apache_wsgi_deploy.hosts import Selected, SelectionError, selected
from apache_wsgi_deploy.settings import SettingsError

# The exit status of a command that could not act: bad settings, no host selected, an
# unreadable inventory (the drift check's "not checked" too).
NOT_RUN = 1


def positive(value: str) -> int:
    """An argparse type: a whole number of 1 or more."""
    return at_least(1, value)


def not_negative(value: str) -> int:
    """An argparse type: a whole number of 0 or more."""
    return at_least(0, value)


def at_least(least: int, value: str) -> int:
    number = int(value)
    if number < least:
        raise argparse.ArgumentTypeError(f"{value} is not {least} or more")
    return number


def add_host_options(parser: argparse.ArgumentParser, concurrency: int, json_output: bool = True) -> None:
    """--inventory, --limit, --exclude, --concurrency, -v (and --json) on a command."""
    hosts = parser.add_argument_group("hosts")
    hosts.add_argument(
        "--inventory", "-i", default="inventory.py", help="pyinfra inventory file (default: inventory.py)"
    )
    hosts.add_argument(
        "--limit", action="append", metavar="PATTERN", help="only these hosts: a group, or a glob over host names"
    )
    hosts.add_argument(
        "--exclude", action="append", metavar="PATTERN", help="leave these hosts out: a group, or a glob"
    )
    hosts.add_argument(
        "--concurrency", type=positive, default=concurrency, help=f"hosts at once (default: {concurrency})"
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="print each host's whole output")
    if json_output:
        parser.add_argument("--json", action="store_true", help="each host's outcome as JSON on standard output")


def data_value(text: str) -> tuple[str, object]:
    """An argparse type: KEY=VALUE, the value read as pyinfra's --data reads it (true,
    false, a whole number, JSON such as null or ["a", "b"], else the text itself)."""
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    if value.lower() in ("true", "false"):
        return key, value.lower() == "true"
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def add_data_option(parser: argparse.ArgumentParser) -> None:
    """--data KEY=VALUE: a setting for this run, over the inventory's and group_data's."""
    parser.add_argument(
        "--data",
        action="append",
        type=data_value,
        default=[],
        metavar="KEY=VALUE",
        help="a setting for this run on every selected host, over the inventory's (repeatable)",
    )


def hosts_of(args: argparse.Namespace, deploys: bool = True, app_values: bool = True) -> Selected | None:
    """The hosts the options select, their settings valid; None, the reason printed,
    otherwise. deploys, app_values: as hosts.selected."""
    data = dict(getattr(args, "data", [])) or None
    try:
        return selected(args.inventory, args.limit, args.exclude, deploys, data, app_values)
    except (SettingsError, SelectionError) as error:
        print(f"awd {args.command}: {error}", file=sys.stderr)
        return None


def print_json(hosts: dict[str, dict]) -> None:
    print(json.dumps({"hosts": hosts}, indent=2))

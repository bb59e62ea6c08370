"""
The inventory every command reads, loaded once with pyinfra's own loader (group_data/
beside it and in the project folder, as pyinfra reads them), and the hosts a command acts
on: `--limit` and `--exclude` match as pyinfra's do, each pattern a group name or a
glob over host names, so every command picks the same hosts.
"""

from __future__ import annotations

import contextlib
import io
import runpy
import sys
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from apache_wsgi_deploy import project
from apache_wsgi_deploy.settings import Settings, SettingsError, validate_host


class SelectionError(ValueError):
    """No host left to act on, or an inventory that cannot be read."""


@dataclass
class Selected:
    """The hosts a command acts on, in inventory order: each one's data and validated settings."""

    inventory_file: str
    data: dict[str, dict]
    settings: dict[str, Settings]

    @property
    def names(self) -> list[str]:
        return list(self.data)


def hosts_given_data_twice(inventory_file: str) -> list[str]:
    """The hosts a Python inventory gives data of their own in more than one entry, which
    pyinfra merges silently (the last entry's values win)."""
    if not inventory_file.endswith(".py") or not Path(inventory_file).is_file():
        return []
    # Read as pyinfra reads it (every list or tuple at its top level is a group), quietly:
    # pyinfra runs it again, and what it prints is said once.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        names = runpy.run_path(inventory_file)
    seen, twice = set(), []
    for name, group in names.items():
        if name.startswith("_") or not isinstance(group, (list, tuple)):
            continue
        entries = group[0] if isinstance(group, tuple) and len(group) == 2 and isinstance(group[1], dict) else group
        for entry in entries:
            if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], dict) and entry[1]:
                if entry[0] in seen and entry[0] not in twice:
                    twice.append(entry[0])
                seen.add(entry[0])
    return twice


def load_inventory(inventory_file: str):
    """pyinfra's Inventory of a file, its group data merged as pyinfra merges it; an
    inventory that gives a host its own data twice is refused (which would win?)."""
    try:
        twice = hosts_given_data_twice(inventory_file)
    except Exception as error:  # what the inventory file raised
        raise SelectionError(f"cannot read the inventory {inventory_file}: {error}") from error
    if twice:
        raise SelectionError(
            f"{inventory_file} lists {', '.join(twice)} more than once with data of its own:"
            " merge them into one entry (pyinfra would silently keep the last one's values)"
        )
    # pyinfra_cli patches ssl (gevent) when imported: only the commands that load an
    # inventory pay for it, once.
    from pyinfra.api import State
    from pyinfra.context import ctx_state
    from pyinfra_cli.inventory import make_inventory

    with ctx_state.use(State()):
        try:
            return make_inventory(inventory_file, cwd=str(project.folder()))
        except Exception as error:  # pyinfra's CliError, or what the inventory file raised
            raise SelectionError(f"cannot read the inventory {inventory_file}: {error}") from error


def matching(inventory, patterns: list[str]) -> set[str]:
    """The names of the hosts pyinfra's --limit would pick for these patterns: a group's
    hosts, or the hosts whose name matches the glob."""
    names: set[str] = set()
    for pattern in patterns:
        group = inventory.get_group(pattern, default=None)
        found = (
            {host.name for host in group}
            if group is not None
            else {host.name for host in inventory if fnmatch(host.name, pattern)}
        )
        if not found:
            print(f"--> no host matches {pattern!r}", file=sys.stderr)
        names |= found
    return names


def select(inventory, limit: list[str] | None = None, exclude: list[str] | None = None) -> list:
    """The inventory's hosts that --limit picks (all without it) and --exclude does not."""
    picked = matching(inventory, limit) if limit else {host.name for host in inventory}
    left_out = matching(inventory, exclude) if exclude else set()
    return [host for host in inventory if host.name in picked and host.name not in left_out]


def selected(
    inventory_file: str, limit: list[str] | None = None, exclude: list[str] | None = None, deploys: bool = True
) -> Selected:
    """The hosts a command acts on, each one's settings validated (one SettingsError
    naming every problem of every host selected); SelectionError when none is left.
    deploys: the command reads what the settings name on the control machine (the app's
    code, certificates, secrets), which must then exist; a command that only reads the
    hosts does not need them."""
    inventory = load_inventory(inventory_file)
    hosts = select(inventory, limit, exclude)
    if not hosts:
        raise SelectionError(f"no host of {inventory_file} is left by --limit and --exclude")
    data = {host.name: host.data.dict() for host in hosts}
    settings, problems = {}, []
    for name, host_data in data.items():
        try:
            settings[name] = validate_host(name, host_data) if deploys else Settings.from_data(name, host_data)
        except SettingsError as error:
            problems.append(str(error))
    if problems:
        raise SettingsError("\n".join(problems))
    return Selected(inventory_file, data, settings)

"""
The inventory every command reads, loaded once as pyinfra's command line loads it
(group_data/ in the project folder and beside it) into pyinfra's Inventory, and the
hosts a command acts on: `--limit` and `--exclude` match as pyinfra's do, each pattern
a group name or a glob over host names, so every command picks the same hosts.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from apache_wsgi_deploy import project, startup
from apache_wsgi_deploy.settings import Settings, SettingsError, validate_host


class SelectionError(ValueError):
    """No host left to act on, or an inventory that cannot be read."""


@dataclass
class Selected:
    """The hosts a command acts on, in inventory order: each one's data (merged as pyinfra
    merges it), groups and validated settings."""

    inventory_file: str
    data: dict[str, dict]
    groups: dict[str, list[str]]
    settings: dict[str, Settings]

    @property
    def names(self) -> list[str]:
        return list(self.data)


def _file_values(path: Path) -> dict:
    """A Python file's top-level names and values, run as pyinfra runs inventory and
    group data files (a namespace of its own with __file__ set)."""
    code = compile(path.read_text(encoding="utf-8"), str(path), "exec")
    values = {"__file__": str(path)}
    exec(code, values)  # noqa: S102 - the team's own inventory and group data, as pyinfra runs them
    return values


def _imported_names(path: Path) -> set[str]:
    """The names a file's top-level imports bind: modules are no group data."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names if alias.name != "*"}
    return names


def _group_data(folder: Path) -> dict[str, dict]:
    """Each group's data from a group_data folder, one file a group (all.py: every host):
    the file's __all__, else its top-level names but those of its imports and dunders."""
    found = {}
    for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        values = _file_values(path)
        keys = values["__all__"] if "__all__" in values else set(values) - _imported_names(path)
        found[path.stem] = {key: values[key] for key in keys if not key.startswith("__")}
    return found


def _is_group(name: str, value) -> bool:
    """A top-level value of an inventory file that pyinfra reads as a group: a list of
    hosts, or a (hosts, data) tuple; each host a name or a (name, data) tuple."""
    if name.startswith("_"):
        return False
    hosts = value[0] if isinstance(value, tuple) and value else value
    return isinstance(value, (list, tuple)) and all(isinstance(host, (str, tuple)) for host in hosts)


def _name(entry) -> str:
    return entry[0] if isinstance(entry, tuple) else entry


def hosts_given_data_twice(groups: dict) -> list[str]:
    """The hosts an inventory gives data of their own in more than one entry, which
    pyinfra merges silently (the last entry's values win)."""
    seen, twice = set(), []
    for group in groups.values():
        entries = group[0] if isinstance(group, tuple) else group
        for entry in entries:
            if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], dict) and entry[1]:
                if entry[0] in seen and entry[0] not in twice:
                    twice.append(entry[0])
                seen.add(entry[0])
    return twice


def _inventory_groups(inventory_file: str) -> tuple[dict, str | None]:
    """The groups an inventory names, and the group its file name makes (inventory.py:
    "inventory"): a Python inventory file, else a comma-separated list of hosts
    (`@local`, `web1,web2`), all in group "all"."""
    path = Path(inventory_file)
    if path.is_file():
        values = _file_values(path)
        return {name: value for name, value in values.items() if _is_group(name, value)}, path.stem
    if inventory_file.endswith(".py"):
        raise SelectionError(f"no inventory file {inventory_file}")
    return {"all": [name.strip() for name in inventory_file.split(",") if name.strip()]}, None


def load_inventory(inventory_file: str, override_data: dict | None = None):
    """pyinfra's Inventory of an inventory file and the group data beside it and in the
    project folder, merged as pyinfra's command line merges them (host data over its
    groups' over all.py's; override_data, `--data`, over everything); an inventory that
    gives a host its own data twice is refused (which would win?)."""
    from pyinfra.api import Inventory
    from pyinfra.context import ctx_inventory

    startup.pyinfra_read_once()
    try:
        groups, file_group = _inventory_groups(inventory_file)
        twice = hosts_given_data_twice(groups)
        if twice:
            raise SelectionError(
                f"{inventory_file} lists {', '.join(twice)} more than once with data of its own:"
                " merge them into one entry (pyinfra would silently keep the last one's values)"
            )
        all_group = groups.pop("all", None)
        all_hosts, all_data = all_group if isinstance(all_group, tuple) else (all_group, {})
        groups = {name: group if isinstance(group, tuple) else (group, {}) for name, group in groups.items()}
        if all_hosts is None:
            all_hosts = list(dict.fromkeys(_name(entry) for hosts, _ in groups.values() for entry in hosts))
        if file_group and file_group not in groups:
            groups[file_group] = (all_hosts, {})
        folders = [project.folder() / "group_data", Path(inventory_file).resolve().parent / "group_data"]
        data: dict[str, dict] = {}
        # Group data files may read the inventory (`from pyinfra import inventory`), as under pyinfra.
        with ctx_inventory.use(Inventory((all_hosts, all_data), **groups)):
            for folder in dict.fromkeys(folder.resolve() for folder in folders):
                for group, values in _group_data(folder).items():
                    data.setdefault(group, {}).update(values)
        all_data = {**all_data, **data.pop("all", {})}
        groups = {name: (hosts, {**group_data, **data.pop(name, {})}) for name, (hosts, group_data) in groups.items()}
        groups.update({name: ([], values) for name, values in data.items()})
        return Inventory((all_hosts, all_data), override_data=override_data, **groups)
    except SelectionError:
        raise
    except Exception as error:  # what the inventory or a group data file raised
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
    inventory_file: str,
    limit: list[str] | None = None,
    exclude: list[str] | None = None,
    deploys: bool = True,
    override_data: dict | None = None,
    app_values: bool = True,
) -> Selected:
    """The hosts a command acts on, each one's settings validated (one SettingsError
    naming every problem of every host selected); SelectionError when none is left.
    deploys: the command reads what the settings name on the control machine (the app's
    code, certificates, secrets), which must then exist; a command that only reads the
    hosts does not need them; app_values: as settings.validate_host. override_data:
    `--data`, over every host's data."""
    inventory = load_inventory(inventory_file, override_data)
    hosts = select(inventory, limit, exclude)
    if not hosts:
        raise SelectionError(f"no host of {inventory_file} is left by --limit and --exclude")
    data = {host.name: host.data.dict() for host in hosts}
    settings, problems = {}, []
    for name, host_data in data.items():
        try:
            settings[name] = (
                validate_host(name, host_data, app_values) if deploys else Settings.from_data(name, host_data)
            )
        except SettingsError as error:
            problems.append(str(error))
    if problems:
        raise SettingsError("\n".join(problems))
    groups = {host.name: list(host.groups) for host in hosts}
    return Selected(inventory_file, data, groups, settings)

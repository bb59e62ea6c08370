"""
What an awd process would otherwise pay for again and again: a module it imports but
never uses, the installed packages' metadata read for every plugin lookup, pyinfra's
global arguments evaluated from their annotations for every operation, the SSH files read
for every host. Each is done once per process here; every function is idempotent.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import os
import sys
import types
from importlib import metadata


class _ImportedWhenFirstUsed(types.ModuleType):
    """Stands in sys.modules for a module until one of its attributes is read, then
    imports it. (The standard library's LazyLoader imports as soon as an `import`
    statement reads the module's __spec__.)"""

    def __getattr__(self, attribute: str):
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attribute)


def imported_when_first_used(name: str) -> None:
    """Module `name`, if installed and not imported yet, imported when first used."""
    if name in sys.modules or (spec := importlib.util.find_spec(name)) is None:
        return
    stand_in = _ImportedWhenFirstUsed(name)
    stand_in.__spec__ = spec
    sys.modules[name] = stand_in


@functools.cache
def entry_points():
    """importlib.metadata.entry_points, every installed package's metadata read once."""
    read = metadata.entry_points()
    return lambda **selection: read.select(**selection) if selection else read


@contextlib.contextmanager
def entry_points_read_once():
    """While it lasts, importlib.metadata.entry_points reads once: gevent asks for its
    plugins before each module it patches."""
    before = metadata.entry_points
    metadata.entry_points = entry_points()
    try:
        yield
    finally:
        metadata.entry_points = before


def pyinfra_read_once() -> None:
    """pyinfra's connectors listed from the entry points read once (each pyinfra
    Inventory lists them twice: the command's, and each host's run's), and its global
    arguments (`_sudo`, `_env`...) listed once (evaluated from their TypedDicts'
    annotations for every operation and fact)."""
    from pyinfra.api import arguments, connectors

    connectors.entry_points = entry_points()
    if not isinstance(arguments.all_global_arguments, functools.partial):
        arguments.all_global_arguments = functools.partial(list, arguments.all_global_arguments())


def connection_modules_imported() -> None:
    """Import what each host's connection imports on first use, so that a forked host
    process starts with it: gevent's resolver and its thread pool (paramiko asks for this
    machine's name at each SSH config lookup), the IDNA codec host names are encoded with
    for it, and pyinfra's connect step."""
    import encodings.idna  # noqa: F401

    import gevent
    import gevent.threadpool  # noqa: F401
    import pyinfra.api.connect  # noqa: F401

    gevent.config.resolver  # noqa: B018 (the setting imports the resolver's module)


def ssh_files_read_once(datas: list[dict]) -> None:
    """Read the SSH config and known_hosts files the hosts' connections will read: pyinfra
    reads each once per process (memoized), so each host's process, forked after this,
    starts with them. The files are those the hosts' data names, the user's own where it
    names none (a known_hosts file named by the SSH config alone is read by each host's
    process, as before)."""
    from pyinfra.connectors.sshuserclient import client

    for config in {data.get("ssh_config_file") for data in datas}:
        client.get_ssh_config(config)
    for known in {data.get("ssh_known_hosts_file") or "~/.ssh/known_hosts" for data in datas}:
        if os.path.isfile(expanded := os.path.expanduser(known)):
            client.get_host_keys((expanded,))

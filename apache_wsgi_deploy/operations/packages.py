"""
Debian packages, with apt's cache refreshed only when something must be installed.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import operation
from pyinfra.facts.deb import DebPackages
from pyinfra.operations import apt


@operation()
def installed(packages: list[str], cache_time: int):
    """
    Install the packages that are missing, without recommends.

    + packages: Debian package names
    + cache_time: refresh apt's cache first when it is older than this (seconds)

    Unlike ``apt.packages(update=True)``, a host that already has every package reports
    no change, however old its cache is.

    **Example:**

    .. code:: python

        packages.installed(packages=["apache2"], cache_time=86400)
    """
    current = host.get_fact(DebPackages)
    missing = [package for package in packages if package not in current]
    if not missing:
        host.noop(f"packages {', '.join(packages)} are installed")
        return
    yield from apt.update._inner(cache_time=cache_time)
    yield from apt.packages._inner(packages=missing, no_recommends=True)

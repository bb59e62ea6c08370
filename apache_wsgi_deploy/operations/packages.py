"""
Debian packages, with apt's cache refreshed only when something must be installed, and
a package's file kept out of its way.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation
from pyinfra.operations import apt

from apache_wsgi_deploy.facts.packages import Diversion, InstalledPackages

# apt-get update fails at once while another apt holds its lists' lock (install waits,
# with DPkg::Lock::Timeout): it is tried again, until the deadline, for that cause only.
WAITING_UPDATE = (
    "deadline=$(( $(date +%s) + {timeout} )); until output=$(apt-get update 2>&1); do"
    ' case "$output" in *"Could not get lock"*) ;; *) echo "$output" >&2; exit 1 ;; esac;'
    ' [ "$(date +%s)" -lt "$deadline" ] || {{ echo "$output" >&2; exit 1; }};'
    ' echo "apache-wsgi-deploy: another apt holds apt\'s lock; waiting up to {timeout} s" >&2; sleep 2; done'
)


@operation()
def installed(packages: list[str], cache_time: int, lock_timeout: int):
    """
    Install the packages that are missing, without recommends.

    + packages: Debian package names
    + cache_time: refresh apt's cache first when it is older than this (seconds)
    + lock_timeout: how long to wait for apt's and dpkg's locks held by another apt

    Unlike ``apt.packages(update=True)``, a host that already has every package reports
    no change, however old its cache is.

    **Example:**

    .. code:: python

        packages.installed(packages=["apache2"], cache_time=86400, lock_timeout=300)
    """
    installed = host.get_fact(InstalledPackages, packages=packages)
    missing = [package for package in packages if package not in installed]
    if not missing:
        host.noop(f"packages {', '.join(packages)} are installed")
        return
    # pyinfra's update, whose cache check is kept, with a wait for the lists' lock.
    for command in apt.update._inner(cache_time=cache_time):
        yield WAITING_UPDATE.format(timeout=lock_timeout) if command == "apt-get update" else command
    yield from apt.packages._inner(
        packages=missing, no_recommends=True, extra_install_args=f"-o DPkg::Lock::Timeout={lock_timeout}"
    )


@operation()
def diverted(path: str, to: str):
    """
    Keep a package's file out of its way: dpkg-divert renames it, and every upgrade of
    the package writes its new version under the diverted name too.

    + path: the package's file
    + to: the name it goes to (one the software that reads the folder skips)

    **Example:**

    .. code:: python

        packages.diverted(path="/etc/logrotate.d/apache2", to="/etc/logrotate.d/apache2.disabled")
    """
    if host.get_fact(Diversion, path=path) == to:
        host.noop(f"{path} is diverted to {to}")
        return
    yield StringCommand("dpkg-divert", "--local", "--rename", "--divert", QuoteString(to), "--add", QuoteString(path))

"""
Debian packages, with apt's cache refreshed only when something must be installed.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import operation
from pyinfra.facts.deb import DebPackages
from pyinfra.operations import apt

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
    current = host.get_fact(DebPackages)
    missing = [package for package in packages if package not in current]
    if not missing:
        host.noop(f"packages {', '.join(packages)} are installed")
        return
    # pyinfra's update, whose cache check is kept, with a wait for the lists' lock.
    for command in apt.update._inner(cache_time=cache_time):
        yield WAITING_UPDATE.format(timeout=lock_timeout) if command == "apt-get update" else command
    yield from apt.packages._inner(
        packages=missing, no_recommends=True, extra_install_args=f"-o DPkg::Lock::Timeout={lock_timeout}"
    )

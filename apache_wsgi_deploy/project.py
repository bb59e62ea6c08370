"""
Where things are on the control machine: the team's project folder, and the files this
package ships.

The project folder is the current folder, as for pyinfra itself: `inventory.py`,
`group_data/` and `deploy.py` are there, settings name control-machine files relative to
it, and the runs' logs (`.logs/`) and caches (`.cache/`) are kept in it. What the package
ships (templates, the tools it copies to hosts, the scaffold of `awd init`) is read where
it is installed, never through a checkout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

# Each run's output per host, the newest runs kept.
LOGS_DIR = ".logs"
CACHE_DIR = ".cache"
# Local test hosts' state (keys, certificates, ssh_config) of `awd testhost`.
TESTHOSTS_DIR = ".testhosts"


def folder() -> Path:
    """The team's project folder: the current one."""
    return Path.cwd()


def path(name: str) -> Path:
    """A control-machine file a setting names, relative to the project folder."""
    return folder() / name


def shipped(name: str) -> Path:
    """A file or folder this package ships (templates, host_tools, scaffold...)."""
    return Path(str(files("apache_wsgi_deploy") / name))

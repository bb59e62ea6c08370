"""
The releases of a site: their folders, which were rolled back, and which is live.
"""

from __future__ import annotations

import shlex
from typing import Optional, TypedDict

from pyinfra.api import FactBase

ROLLED_BACK = ".rolled-back"
CURRENT = "current"


class ReleasesDict(TypedDict):
    releases: list[str]
    rolled_back: list[str]
    current: Optional[str]


class Releases(FactBase[ReleasesDict]):
    """
    Returns the release folders under ``<install_path>/releases`` (oldest first: names
    start with their UTC creation time), those marked as rolled back, and the one the
    ``<install_path>/current`` link names (None without a link).

    .. code:: python

        {"releases": ["20261125T101500Z-3f2a9c1b7d4e", "20261125T113000Z-9b1c0d2e3f4a"],
         "rolled_back": ["20261125T113000Z-9b1c0d2e3f4a"],
         "current": "20261125T101500Z-3f2a9c1b7d4e"}
    """

    @staticmethod
    def command(install_path: str) -> str:
        quoted = shlex.quote(install_path)
        return f"ls -1 {quoted}/releases 2>/dev/null; echo \"{CURRENT}=$(readlink {quoted}/{CURRENT})\""

    @staticmethod
    def process(output: list[str]) -> ReleasesDict:
        entries = [line for line in output if not line.startswith(f"{CURRENT}=")]
        link = next((line for line in output if line.startswith(f"{CURRENT}=")), f"{CURRENT}=")
        target = link.partition("=")[2]
        return {
            "releases": sorted(entry for entry in entries if not entry.endswith(ROLLED_BACK)),
            "rolled_back": sorted(entry[: -len(ROLLED_BACK)] for entry in entries if entry.endswith(ROLLED_BACK)),
            "current": target.rsplit("/", 1)[-1] if target else None,
        }

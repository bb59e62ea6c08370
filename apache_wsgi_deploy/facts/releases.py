"""
The releases of a site: their folders, which were rolled back, and which is live.
"""

from __future__ import annotations

import shlex
from typing import TypedDict

from pyinfra.api import FactBase

ROLLED_BACK = ".rolled-back"
CURRENT = "current"
# Every release made live, one name per line, in order: what a rollback goes back along.
HISTORY = "live-history"
# History lines read: far more switches than releases are ever kept.
HISTORY_READ = 200
# Folders of the layout before releases (code, venv and static files in place).
FORMER_LAYOUT = ("app", "venv", "static")


class ReleasesDict(TypedDict):
    releases: list[str]
    rolled_back: list[str]
    current: str | None
    history: list[str]
    former_layout: list[str]


class Releases(FactBase[ReleasesDict]):
    """
    Returns the release folders under ``<install_path>/releases`` (oldest first: names
    start with their UTC creation time), those marked as rolled back, the one the
    ``<install_path>/current`` link names (None without a link), and the releases made
    live, in order (``<install_path>/live-history``, its last lines), and the folders of
    the layout before releases still there.

    .. code:: python

        {"releases": ["20261125T101500Z-3f2a9c1b7d4e", "20261125T113000Z-9b1c0d2e3f4a"],
         "rolled_back": ["20261125T113000Z-9b1c0d2e3f4a"],
         "current": "20261125T101500Z-3f2a9c1b7d4e",
         "history": ["20261125T101500Z-3f2a9c1b7d4e", "20261125T113000Z-9b1c0d2e3f4a",
                     "20261125T101500Z-3f2a9c1b7d4e"],
         "former_layout": []}
    """

    @staticmethod
    def command(install_path: str) -> str:
        quoted = shlex.quote(install_path)
        return (
            f'ls -1 {quoted}/releases 2>/dev/null; echo "{CURRENT}=$(readlink {quoted}/{CURRENT})";'
            f" tail -n {HISTORY_READ} {quoted}/{HISTORY} 2>/dev/null | sed 's/^/live=/';"
            f' for folder in {" ".join(FORMER_LAYOUT)}; do [ ! -d {quoted}/$folder ] || echo "former=$folder"; done'
        )

    @staticmethod
    def process(output: list[str]) -> ReleasesDict:
        history = [line[len("live=") :] for line in output if line.startswith("live=")]
        former = [line[len("former=") :] for line in output if line.startswith("former=")]
        entries = [line for line in output if not line.startswith((f"{CURRENT}=", "live=", "former="))]
        link = next((line for line in output if line.startswith(f"{CURRENT}=")), f"{CURRENT}=")
        target = link.partition("=")[2]
        return {
            "history": history,
            "former_layout": former,
            "releases": sorted(entry for entry in entries if not entry.endswith(ROLLED_BACK)),
            "rolled_back": sorted(entry[: -len(ROLLED_BACK)] for entry in entries if entry.endswith(ROLLED_BACK)),
            "current": target.rsplit("/", 1)[-1] if target else None,
        }

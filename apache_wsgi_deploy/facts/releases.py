"""
The releases of a site: their folders, which were rolled back, and which is live; and
whether a release's copy of its static files is what its code holds.
"""

from __future__ import annotations

import shlex
from typing import TypedDict

from pyinfra.api import FactBase

from apache_wsgi_deploy.facts.files import B2SUM
from apache_wsgi_deploy.layout import (
    COMMANDS_DONE,
    CURRENT,
    ENTRY_FILE,
    FORMER_LAYOUT,
    HISTORY,
    HOST_PYTHON,
    RELEASES,
    ROLLED_BACK,
    SETUP_DONE,
    SNAPSHOT_LIVE,
    SNAPSHOTS,
)

# History lines read: far more switches than releases are ever kept.
HISTORY_READ = 200


class SnapshotDict(TypedDict):
    live: str
    taken: str


def by_age(snapshots: dict[str, SnapshotDict]) -> list[str]:
    """The snapshots' names, oldest first."""
    return sorted(snapshots, key=lambda name: (snapshots[name]["taken"], name))


class ReleasesDict(TypedDict):
    releases: list[str]
    rolled_back: list[str]
    current: str | None
    history: list[str]
    former_layout: list[str]
    venvs: dict[str, str]
    commands_done: dict[str, str]
    # For each release, its last history line's words after its name: when, and how.
    went_live: dict[str, str]
    # For each release deployed since history lines say how: where its code came from.
    deployed_from: dict[str, str]
    # The releases the .wsgi file can load: their own settings (environment and entry
    # point) and a virtualenv built by the host's Python as it is now (someone may have
    # deleted it; an upgrade of Debian replaces the Python).
    loadable: list[str]
    # The snapshots of the data folder, each named by the release and the digest of the
    # commands it preceded: the release live when it was taken, and when (UTC).
    snapshots: dict[str, SnapshotDict]


class Releases(FactBase[ReleasesDict]):
    """
    Returns the release folders under ``<install_path>/releases`` (oldest first: names
    start with their UTC creation time), those marked as rolled back, the one the
    ``<install_path>/current`` link names (None without a link), and the releases made
    live, in order (``<install_path>/live-history``, its last lines), what is left of
    the layouts before releases and before releases held their settings, the target of
    each release's ``venv`` link, the digest of the release commands that ran in each
    release, for each release when and how it last went live and where its code came
    from (history lines: ``<release> <UTC time> deploy folder|deploy git <url>
    <ref>|rollback from <release>``), and the releases that hold their own settings and a
    virtualenv of the host's current Python (``venv/lib/python3.X`` of the version
    ``/usr/bin/python3`` links to), and the snapshots of the data folder with the release
    live when each was taken, and when.

    .. code:: python

        {"releases": ["20261125T101500Z-3f2a9c1b7d4e", "20261125T113000Z-9b1c0d2e3f4a"],
         "rolled_back": ["20261125T113000Z-9b1c0d2e3f4a"],
         "current": "20261125T101500Z-3f2a9c1b7d4e",
         "history": ["20261125T101500Z-3f2a9c1b7d4e", "20261125T113000Z-9b1c0d2e3f4a",
                     "20261125T101500Z-3f2a9c1b7d4e"],
         "former_layout": [],
         "venvs": {"20261125T101500Z-3f2a9c1b7d4e": "../../venvs/aa12b31ce288"},
         "commands_done": {"20261125T101500Z-3f2a9c1b7d4e": "5d41402abc4b"},
         "went_live": {
             "20261125T101500Z-3f2a9c1b7d4e": "2026-11-25T12:00:00Z rollback from 20261125T113000Z-9b1c0d2e3f4a",
             "20261125T113000Z-9b1c0d2e3f4a": "2026-11-25T11:30:05Z deploy folder",
         },
         "deployed_from": {"20261125T113000Z-9b1c0d2e3f4a": "folder"},
         "loadable": ["20261125T101500Z-3f2a9c1b7d4e", "20261125T113000Z-9b1c0d2e3f4a"],
         "snapshots": {"20261125T113000Z-9b1c0d2e3f4a-5d41402abc4b": {
             "live": "20261125T101500Z-3f2a9c1b7d4e", "taken": "2026-11-25T11:29:58Z"}}}
    """

    @staticmethod
    def command(install_path: str) -> str:
        quoted = shlex.quote(install_path)
        return (
            f'ls -1 {quoted}/{RELEASES} 2>/dev/null; echo "{CURRENT}=$(readlink {quoted}/{CURRENT})";'
            f" tail -n {HISTORY_READ} {quoted}/{HISTORY} 2>/dev/null | sed 's/^/live=/';"
            f' for entry in {" ".join(FORMER_LAYOUT)}; do [ ! -e {quoted}/$entry ] || echo "former=$entry"; done;'
            f" ( ! cd {quoted}/{SNAPSHOTS} 2>/dev/null || for live in */{SNAPSHOT_LIVE}; do"
            ' [ ! -f "$live" ] ||'
            ' echo "snapshot=${live%/*} $(cat "$live") $(date -u -r "$live" +%Y-%m-%dT%H:%M:%SZ)"; done );'
            f" ! cd {quoted}/{RELEASES} 2>/dev/null ||"
            ' { for link in */venv; do [ ! -L "$link" ] || echo "venv=${link%/venv} $(readlink "$link")"; done;'
            f' for done in */{COMMANDS_DONE}; do [ ! -f "$done" ] || echo "done=${{done%/*}} $(cat "$done")"; done;'
            f' python=$(readlink -e {HOST_PYTHON}); for entry in */{ENTRY_FILE}; do [ ! -f "$entry" ] ||'
            ' [ ! -x "${entry%/*}/venv/bin/python" ] || [ ! -d "${entry%/*}/venv/lib/${python##*/}" ] ||'
            ' echo "loadable=${entry%/*}"; done; }'
        )

    @staticmethod
    def process(output: list[str]) -> ReleasesDict:
        history_lines = [line[len("live=") :].split(" ", 1) for line in output if line.startswith("live=")]
        history = [words[0] for words in history_lines]
        went_live = {words[0]: words[1] if len(words) > 1 else "" for words in history_lines}
        deployed_from = {
            words[0]: words[1].split(" ", 2)[2]
            for words in history_lines
            if len(words) > 1 and words[1].split(" ")[1:2] == ["deploy"] and words[1].count(" ") >= 2
        }
        former = [line[len("former=") :] for line in output if line.startswith("former=")]
        venvs = dict(line[len("venv=") :].split(" ", 1) for line in output if line.startswith("venv="))
        done = dict(line[len("done=") :].split(" ", 1) for line in output if line.startswith("done="))
        snapshots = {
            name: {"live": live, "taken": taken}
            for name, live, taken in (
                line[len("snapshot=") :].split(" ") for line in output if line.startswith("snapshot=")
            )
        }
        prefixes = (f"{CURRENT}=", "live=", "former=", "venv=", "done=", "loadable=", "snapshot=")
        entries = [line for line in output if not line.startswith(prefixes)]
        link = next((line for line in output if line.startswith(f"{CURRENT}=")), f"{CURRENT}=")
        target = link.partition("=")[2]
        return {
            "history": history,
            "former_layout": former,
            "releases": sorted(entry for entry in entries if not entry.endswith(ROLLED_BACK)),
            "rolled_back": sorted(entry[: -len(ROLLED_BACK)] for entry in entries if entry.endswith(ROLLED_BACK)),
            "current": target.rsplit("/", 1)[-1] if target else None,
            "venvs": venvs,
            "commands_done": done,
            "went_live": went_live,
            "deployed_from": deployed_from,
            "loadable": sorted(line[len("loadable=") :] for line in output if line.startswith("loadable=")),
            "snapshots": snapshots,
        }


class SetupDone(FactBase[list[str]]):
    """
    Returns the digests of the setup commands that ran for a site's data
    (``<data_dir>/.apache-wsgi-deploy-setup-done``, a line each).

    .. code:: python

        ["5d41402abc4b"]
    """

    @staticmethod
    def command(data_dir: str) -> str:
        return f"cat {shlex.quote(f'{data_dir}/{SETUP_DONE}')} 2>/dev/null || true"

    @staticmethod
    def default() -> list[str]:
        return []

    @staticmethod
    def process(output: list[str]) -> list[str]:
        return [line.strip() for line in output if line.strip()]


class StaticFilesDict(TypedDict):
    source: str
    copy: str
    public: bool


class StaticFiles(FactBase[StaticFilesDict | None]):
    """
    Returns digests of a release's static files as its code holds them
    (``app/<static_dir>``) and as Apache serves them (``static/``), and whether every entry
    of the copy is root's and world-readable (files 644, folders 755, nothing else);
    None when the release has no copy.

    .. code:: python

        {"source": "9f2c...", "copy": "9f2c...", "public": True}
    """

    @staticmethod
    def command(release: str, static_dir: str) -> str:
        release, source = shlex.quote(release), shlex.quote(f"app/{static_dir}")
        listing = f"find . -type f -exec {B2SUM} -- {{}} + | LC_ALL=C sort | {B2SUM} | cut -d' ' -f1"
        wrong = (
            "find static ! -user root -o ! -group root -o ! \\( -type f -perm 644 -o -type d -perm 755 \\) | head -n 1"
        )
        return (
            f"cd {release} 2>/dev/null && [ -d static ] && ! [ -L static ] && {{"
            f' echo "source=$(cd {source} 2>/dev/null && {listing})"; echo "copy=$(cd static && {listing})";'
            f" {wrong} | sed 's/^/wrong=/'; }} || true"
        )

    @staticmethod
    def process(output: list[str]) -> StaticFilesDict | None:
        fields = dict(line.split("=", 1) for line in output if "=" in line)
        if "copy" not in fields:
            return None
        return {"source": fields["source"], "copy": fields["copy"], "public": "wrong" not in fields}

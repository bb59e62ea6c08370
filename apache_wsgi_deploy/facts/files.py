"""
Facts about the files the deploy manages, each in one command: pyinfra's File and
Sha1File take two for one file (and files.put asks for its folder too), files.sync two
per file it holds.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from typing import TypedDict

from pyinfra.api import FactBase

KINDS = {"regular file": "file", "regular empty file": "file", "directory": "directory", "symbolic link": "link"}
# A file's content is compared by its BLAKE2b digest: coreutils' b2sum on the host (which
# on Debian 13, unlike sha1sum and md5sum, does not load OpenSSL's libcrypto at each
# start), hashlib's blake2b on the control machine.
DIGEST_BITS = 128
B2SUM = f"b2sum -l {DIGEST_BITS}"
DIGEST_LINE = re.compile(rf"^\\?([0-9a-f]{{{DIGEST_BITS // 4}}})  (.*)$")


def digest(content: bytes) -> str:
    """What B2SUM prints of a file holding content."""
    return hashlib.blake2b(content, digest_size=DIGEST_BITS // 8).hexdigest()


# A path whose FileState may be read with others' in one command (FileState.gathered):
# absolute, and printed by stat's %n and b2sum as it is, on one line.
GATHERABLE = re.compile(r"/[^\x00-\x1f\x7f\\]*")
# stat's format for what `stated` reads: owner, group, mode and kind.
STATED = "%U %G %a %F"


def stated(status: str) -> dict:
    """Kind, owner, group and mode from `stat -c STATED`."""
    user, group, mode, kind = status.split(" ", 3)
    return {"kind": KINDS.get(kind, "other"), "user": user, "group": group, "mode": int(mode, 8)}


class FileStateDict(TypedDict):
    kind: str
    user: str
    group: str
    mode: int
    digest: str | None


class FileState(FactBase[FileStateDict | None]):
    """
    Returns what is at a path, itself (a link is not followed): its kind (``file``,
    ``directory``, ``link`` or ``other``), owner, group, mode and, for a file, its digest.
    None when nothing is there.

    .. code:: python

        {"kind": "file", "user": "root", "group": "root", "mode": 0o644, "digest": "0a1e7c3b..."}
    """

    @staticmethod
    def command(path: str) -> str:
        quoted = shlex.quote(path)
        return (
            f"if [ -e {quoted} ] || [ -L {quoted} ]; then stat -c '{STATED}' -- {quoted};"
            f" if [ -f {quoted} ] && [ ! -L {quoted} ]; then {B2SUM} -- {quoted}; fi; fi"
        )

    @staticmethod
    def process(output: list[str]) -> FileStateDict | None:
        if not output:
            return None
        hashed = DIGEST_LINE.match(output[1]) if len(output) > 1 else None
        return {**stated(output[0]), "digest": hashed.group(1) if hashed else None}

    # Several paths' states in one command (prefetch.py): one stat and one b2sum in
    # all, where each path's own command runs both.
    @staticmethod
    def gathers(path: str) -> bool:
        return GATHERABLE.fullmatch(path) is not None

    @staticmethod
    def gathered(arguments: list[dict]) -> str:
        quoted = " ".join(shlex.quote(each["path"]) for each in arguments)
        return (
            f"stat --printf '%n\\t{STATED}\\n' -- {quoted} 2>/dev/null; set --;"
            f' for path in {quoted}; do if [ -f "$path" ] && [ ! -L "$path" ]; then set -- "$@" "$path"; fi; done;'
            f' [ "$#" -eq 0 ] || {B2SUM} -- "$@"'
        )

    @staticmethod
    def scattered(arguments: list[dict], output: list[str]) -> list[list[str]]:
        """Each path's output as its own command prints it, from the gathered command's."""
        own: dict[str, list[str]] = {each["path"]: [] for each in arguments}
        for line in output:
            path, tab, status = line.partition("\t")
            hashed = DIGEST_LINE.match(line)
            if tab and path in own and not own[path]:
                own[path].append(status)
            elif not tab and hashed and len(own.get(hashed.group(2), ())) == 1:
                own[hashed.group(2)].append(line)
        return [own[each["path"]] for each in arguments]


class Tree(FactBase[dict[str, FileStateDict] | None]):
    """
    Returns every entry of a folder, at any depth, by path relative to it ("" is the
    folder itself): kind (``file``, ``directory``, ``link`` or ``other``), owner, group,
    mode and, for files, digest. None when the path is not a folder.

    .. code:: python

        {
            "": {"kind": "directory", "user": "root", "group": "root", "mode": 0o755, "digest": None},
            "app.py": {"kind": "file", "user": "root", "group": "root", "mode": 0o644, "digest": "0a1e..."},
        }
    """

    @staticmethod
    def command(path: str) -> str:
        quoted = shlex.quote(path)
        # "/%P": the folder itself is "/", and no name is mistaken for a digest line. One
        # find lists and hashes: it flushes its own output before each b2sum it starts.
        return (
            f"if [ -d {quoted} ] && [ ! -L {quoted} ]; then cd {quoted} &&"
            f" find . -printf '%y %u %g %m /%P\\n' -type f -exec {B2SUM} -- {{}} +; fi"
        )

    @staticmethod
    def process(output: list[str]) -> dict[str, FileStateDict] | None:
        if not output:
            return None
        kinds = {"f": "file", "d": "directory", "l": "link"}
        entries: dict[str, FileStateDict] = {}
        sums: dict[str, str] = {}
        for line in output:
            hashed = DIGEST_LINE.match(line)
            if hashed:
                sums[hashed.group(2).removeprefix("./")] = hashed.group(1)
                continue
            kind, user, group, mode, path = line.split(" ", 4)
            entries[path[1:]] = {
                "kind": kinds.get(kind, "other"),
                "user": user,
                "group": group,
                "mode": int(mode, 8),
                "digest": None,
            }
        for path, hashed in sums.items():
            if path in entries:
                entries[path]["digest"] = hashed
        return entries


class FolderEntries(FactBase[list[str] | None]):
    """
    Returns the names in a folder (hidden ones included), or None when the path is not
    a folder.

    .. code:: python

        ["current", "environment.json", "releases", "vendor-data"]
    """

    @staticmethod
    def command(path: str) -> str:
        quoted = shlex.quote(path)
        return f"if [ -d {quoted} ] && [ ! -L {quoted} ]; then echo folder; ls -A -- {quoted}; fi"

    @staticmethod
    def process(output: list[str]) -> list[str] | None:
        if not output or output[0] != "folder":
            return None
        return sorted(output[1:])


class PathStateDict(TypedDict):
    kind: str
    user: str
    group: str
    mode: int
    # Where a link leads (None for anything else).
    target: str | None


class PathStates(FactBase[dict[str, PathStateDict | None]]):
    """
    Returns what is at each of several paths, itself (a link is not followed): its kind
    (``file``, ``directory``, ``link`` or ``other``), owner, group, mode and, for a link,
    its target. None for a path where nothing is.

    .. code:: python

        {"/var/lib/blog": {"kind": "directory", "user": "blog", "group": "blog", "mode": 0o750, "target": None},
         "/var/lib/blog/instance": None}
    """

    @staticmethod
    def command(paths: list[str]) -> str:
        quoted = " ".join(shlex.quote(path) for path in paths)
        return (
            f'for path in {quoted}; do printf "%s\\t%s\\t%s\\n" "$path" "$(stat -c "{STATED}" -- "$path"'
            ' 2>/dev/null)" "$(readlink -- "$path")"; done'
        )

    @staticmethod
    def process(output: list[str]) -> dict[str, PathStateDict | None]:
        states: dict[str, PathStateDict | None] = {}
        for line in output:
            path, status, target = line.split("\t", 2)
            if not status:
                states[path] = None
                continue
            state = stated(status)
            states[path] = {**state, "target": target if state["kind"] == "link" else None}
        return states

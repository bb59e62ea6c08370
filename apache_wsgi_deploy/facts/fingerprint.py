"""
What a costly fact's answer is read from, cheaply. A fact that hashes a virtualenv's
files or has Apache parse its configuration may say, by a `fingerprint` method (a shell
command), which files and folders its answer depends on. A no-change rerun then asks the
host for their inodes, sizes, modes, owners and change times, as git's index does, and
runs the fact's own command only when they differ from those its last answer was read
with (prefetch.py keeps both on the control machine). No ordinary write leaves a change
time as it was, so an edit that keeps the size and puts the modification time back is
still seen. An entry changed within the last seconds is racy, as in git: another write
within the clock's granularity could leave its times as they are, so the fact is read
again, then and at the next run.

A fingerprint is a shell command: what it prints, on standard output and error, is
digested as it is printed (prefetch.py); it says RACY on RACY_FD (MARK_RACY), which is
never digested.
"""

from __future__ import annotations

# A fingerprint's mark: its answer must be read again (never kept).
RACY = "racy"
# Where a fingerprint writes RACY, apart from what is digested; sh, and a path for find and awk.
RACY_FD = 3
RACY_PATH = f"/dev/fd/{RACY_FD}"
MARK_RACY = f"echo {RACY} >&{RACY_FD}"
RACY_SECONDS = 2
# Each entry itself (a link is not followed): where it is (device, inode), what it is,
# its size, mode, owner, group, change and modification times (nanoseconds), a link's target.
ENTRY = r"%p\t%D %i %y %s %m %U %G %C@ %T@ %l\n"


def entries(tops: str, racy_when: str = "", each: bool = False) -> str:
    """sh: find's line for each of tops (shell words: followed when a link, as opening a
    path below it would) and everything below them, or with each, for each top alone,
    read through every link; RACY (on RACY_FD) for each changed within the last
    RACY_SECONDS or with a change time ahead of the clock, and for each that also meets
    racy_when (find's tests: what the fingerprint cannot follow)."""
    racy = f"-newerct '{RACY_SECONDS} seconds ago'"
    if racy_when:
        racy = f"\\( {racy} -o {racy_when} \\)"
    walk = f"-L {tops} -maxdepth 0" if each else f"-H {tops}"
    return f"find {walk} -printf '{ENTRY}' {racy} -fprintf {RACY_PATH} '{RACY}\\n'"

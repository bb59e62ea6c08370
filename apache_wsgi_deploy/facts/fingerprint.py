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
"""

from __future__ import annotations

# A line of a fingerprint's output: its answer must be read again (never kept).
RACY = "racy"
RACY_SECONDS = 2
# Each entry itself (a link is not followed): where it is (device, inode), what it is,
# its size, mode, owner, group, change and modification times (nanoseconds), a link's target.
ENTRY = r"%p\t%D %i %y %s %m %U %G %C@ %T@ %l\n"


def entries(tops: str, racy_when: str = "", each: bool = False, digested: bool = False) -> str:
    """sh: find's line for each of tops (shell words: followed when a link, as opening a
    path below it would) and everything below them, or with each, for each top alone,
    read through every link; then RACY for each changed within the last RACY_SECONDS or
    with a change time ahead of the clock, and for each that also meets racy_when (find's
    tests: what the fingerprint cannot follow). digested: the lines' md5 in their stead,
    the RACY lines still their own (on standard error): for a walk of thousands of
    entries, whose lines the batch's shell would otherwise hold and hash."""
    racy = f"-newerct '{RACY_SECONDS} seconds ago'"
    if racy_when:
        racy = f"\\( {racy} -o {racy_when} \\)"
    walk = f"-L {tops} -maxdepth 0" if each else f"-H {tops}"
    if digested:
        return f"{{ find {walk} -printf '{ENTRY}' {racy} -fprintf /dev/stderr '{RACY}\\n' | md5sum; }}"
    return f"find {walk} -printf '{ENTRY}' {racy} -printf '{RACY}\\n'"

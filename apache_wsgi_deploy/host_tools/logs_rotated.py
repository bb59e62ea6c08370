#!/usr/bin/python3
"""
rotatelogs' -p program: run each time it opens a log file, its path first, then the file
it closed when it rotated. The closed file is compressed, and so is every earlier file of
that log left uncompressed that nothing wrote for a while (one Apache wrote itself before
it was set aside, reload.py); files older than the retention are deleted: Debian's
policy for Apache's logs (14 days, compressed), with nothing reloaded. rotatelogs does
not wait for it, and several logs' hooks may run at once: one at a time per folder.

    logs_rotated.py <opened> [<closed>]
"""

import fcntl
import grp
import gzip
import os
import re
import shutil
import sys
import time

# layout.LOG_RETENTION_DAYS: Debian's logrotate rule kept 14 days.
RETENTION_DAYS = 14
# layout.LOG_GROUP: who reads logs on Debian.
LOG_GROUP = "adm"
# What rotatelogs appends to a log's name (layout.rotated_suffix), or logrotate did (.1).
ROTATED = re.compile(r"\.\d[\dT]*(\.gz)?$")
# A file set aside as Apache's old generation closes its log: written to still a moment.
QUIET_SECONDS = 60


def compressed(path: str) -> None:
    """path replaced by path.gz, its time kept (the retention counts from it)."""
    with open(path, "rb") as source, open(f"{path}.gz.new", "wb") as target:
        with gzip.GzipFile(fileobj=target, mode="wb", filename="", mtime=0) as packed:
            shutil.copyfileobj(source, packed)
    stat = os.stat(path)
    os.chown(f"{path}.gz.new", -1, stat.st_gid)
    os.chmod(f"{path}.gz.new", stat.st_mode & 0o777)
    os.utime(f"{path}.gz.new", (stat.st_atime, stat.st_mtime))
    os.replace(f"{path}.gz.new", f"{path}.gz")
    os.unlink(path)


def readable_by_log_readers(path: str) -> None:
    """The file rotatelogs opened (640 by its umask, root's group) given Debian's log
    group, and its mode again (a file an earlier start made)."""
    try:
        os.chown(path, -1, grp.getgrnam(LOG_GROUP).gr_gid)
        os.chmod(path, 0o640)
    except (KeyError, OSError):  # no such group; not root (a test), or the file gone already
        pass


def main(opened: str, closed: str | None = None) -> None:
    readable_by_log_readers(opened)
    folder, name = os.path.split(opened)
    log = ROTATED.sub("", name)
    now = time.time()
    cutoff = now - RETENTION_DAYS * 86400
    descriptor = os.open(folder or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        for entry in sorted(os.listdir(folder or ".")):
            path = os.path.join(folder, entry)
            if not ROTATED.search(entry) or ROTATED.sub("", entry) != log or path == opened:
                continue
            if not entry.endswith(".gz") and os.path.isfile(path):
                if path != closed and os.stat(path).st_mtime > now - QUIET_SECONDS:
                    continue
                compressed(path)
                path += ".gz"
            if os.path.isfile(path) and os.stat(path).st_mtime < cutoff:
                os.unlink(path)
    finally:
        os.close(descriptor)


if __name__ == "__main__":
    main(*sys.argv[1:3])

"""
A snapshot of a site's data folder, taken and put back on the host as the app's user
(so nothing it makes or opens is another account's, and it reads only what the app can).

    python3 snapshot.py take <data folder> <tar file>
    python3 snapshot.py restore <tar file> <data folder>

take: every entry of the data folder into a tar file, modes and links kept. A SQLite
database is copied through SQLite's backup API, consistent while the app writes it, its
committed write-ahead log included; its -wal, -shm and -journal files are left out.

restore: the tar file unpacked beside the data, then the folder's entries replaced by
it; a failure before the swap leaves the data as it was.
"""

import os
import shutil
import sqlite3
import stat
import sys
import tarfile
import tempfile

SQLITE_HEADER = b"SQLite format 3\0"
# What SQLite keeps beside a database it has open: the backup holds what they commit.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
# In the data folder while a restore unpacks, removed once it ends.
RESTORING = ".awd-restoring"
# How long a backup waits for a writer's lock, in seconds.
BUSY_TIMEOUT = 30


def _is_database(path: str) -> bool:
    with open(path, "rb") as file:
        return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def _side_file(name: str, names: set) -> bool:
    return any(name.endswith(suffix) and name[: -len(suffix)] in names for suffix in SQLITE_SIDE_FILES)


def _database_copy(source: str, scratch: str) -> str:
    """A consistent copy of a database, made in scratch: its path."""
    fd, copy_path = tempfile.mkstemp(dir=scratch)
    os.close(fd)
    live = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
    copy = sqlite3.connect(copy_path)
    try:
        live.backup(copy)
    finally:
        copy.close()
        live.close()
    return copy_path


def _add(archive: tarfile.TarFile, folder: str, relative: str, scratch: str) -> None:
    path = os.path.join(folder, relative)
    names = set(os.listdir(path))
    for name in sorted(names):
        if relative == "" and name == RESTORING or _side_file(name, names):
            continue
        entry, arcname = os.path.join(path, name), os.path.join(relative, name)
        try:
            info = archive.gettarinfo(entry, arcname)
            if stat.S_ISDIR(info.mode):
                archive.addfile(info)
                _add(archive, folder, arcname, scratch)
            elif info.isreg() and _is_database(entry):
                copy = _database_copy(entry, scratch)
                info.size = os.path.getsize(copy)
                with open(copy, "rb") as content:
                    archive.addfile(info, content)
                os.unlink(copy)
            elif info.isreg():
                with open(entry, "rb") as content:
                    archive.addfile(info, content)
            elif info.issym():
                archive.addfile(info)
            # Sockets and pipes are the running app's, not data.
        except FileNotFoundError:
            # Removed by the app while the snapshot was taken.
            continue


def take(data_dir: str, tar_path: str) -> int:
    scratch = tempfile.mkdtemp(dir=os.path.dirname(tar_path))
    try:
        with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as archive:
            _add(archive, data_dir, "", scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


def _removed(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def restore(tar_path: str, data_dir: str) -> int:
    staging = os.path.join(data_dir, RESTORING)
    if os.path.lexists(staging):
        _removed(staging)
    os.mkdir(staging, 0o700)
    try:
        with tarfile.open(tar_path) as archive:
            # Where this Python has filters: no path out of the folder, no setuid bit; links as they were.
            extra = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
            archive.extractall(staging, **extra)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    # A database's -wal beside another's content would be applied to it: everything goes.
    for name in os.listdir(data_dir):
        if name != RESTORING:
            _removed(os.path.join(data_dir, name))
    for name in os.listdir(staging):
        os.rename(os.path.join(staging, name), os.path.join(data_dir, name))
    os.rmdir(staging)
    return 0


def main(action: str = "", source: str = "", dest: str = "") -> int:
    if action not in ("take", "restore") or not source or not dest:
        print(__doc__.strip().splitlines()[4].strip(), file=sys.stderr)
        return 2
    try:
        return take(source, dest) if action == "take" else restore(source, dest)
    except (OSError, sqlite3.Error, tarfile.TarError) as error:
        print(f"snapshot {action} failed: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

"""
A snapshot of a site's data folder, taken and put back on the host as the app's user
(so nothing it makes or opens is another account's, and it reads only what the app can).

    python3 snapshot.py take <data folder> <tar file> [--command <output> <timeout> -- COMMAND...]
    python3 snapshot.py restore <tar file> <data folder> [--command <output> <timeout> -- COMMAND...]

take: every entry of the data folder into a tar file, modes and links kept. A SQLite
database is copied through SQLite's backup API, consistent while the app writes it, its
committed write-ahead log included; its -wal, -shm and -journal files are left out.
Then COMMAND (a database's dump) runs, its standard output into <output>.

restore: COMMAND runs first with <output> on its standard input (where the snapshot has
one), then the tar file is unpacked beside the data and the folder's entries replaced by
it; a failure before the swap leaves the data as it was.

COMMAND runs in a process group of its own, killed whole past <timeout> seconds; its
standard error is this tool's.
"""

import os
import shutil
import signal
import sqlite3
import stat
import subprocess
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


def run_command(command: list[str], timeout: float, stdin=None, stdout=None) -> int:
    """Run command in a group of its own; its exit status, or 124 (as timeout(1)) once
    timeout seconds passed, the whole group killed."""
    child = subprocess.Popen(command, stdin=stdin or subprocess.DEVNULL, stdout=stdout, start_new_session=True)
    try:
        return child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"snapshot command timed out after {timeout:g} s, killed", file=sys.stderr)
        return 124
    finally:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child.wait()


def _with_command(action: str, output: str, timeout: float, command: list[str]) -> int:
    if action == "take":
        with open(output, "wb") as written:
            status = run_command(command, timeout, stdout=written)
    elif not os.path.exists(output):
        print("the snapshot holds no command output: its command is not run", file=sys.stderr)
        return 0
    else:
        with open(output, "rb") as read:
            status = run_command(command, timeout, stdin=read)
    if status != 0:
        print(f"snapshot command exited {status}", file=sys.stderr)
    return status


def main(action: str = "", source: str = "", dest: str = "", *rest: str) -> int:
    command = rest[4:] if rest[:1] == ("--command",) and len(rest) > 4 and rest[3] == "--" else None
    if action not in ("take", "restore") or not source or not dest or (rest and command is None):
        print("\n".join(line.strip() for line in __doc__.strip().splitlines()[4:6]), file=sys.stderr)
        return 2
    try:
        if action == "take":
            status = take(source, dest)
            return _with_command(action, rest[1], float(rest[2]), list(command)) if command else status
        if command:
            status = _with_command(action, rest[1], float(rest[2]), list(command))
            if status != 0:
                return status
        return restore(source, dest)
    except (OSError, sqlite3.Error, tarfile.TarError) as error:
        print(f"snapshot {action} failed: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

"""The snapshot host tool, run here as on a host: a data folder with a SQLite database in
use taken consistently, and put back whole."""

import os
import sqlite3
import subprocess
import sys
import tarfile

from tests.unit.harness import HOST_TOOLS, host_tool

snapshot = host_tool("snapshot")


def _database(path) -> sqlite3.Connection:
    """A database in WAL mode, left open as an app leaves it: its -wal and -shm beside it."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.execute("INSERT INTO notes VALUES ('kept')")
    connection.commit()
    return connection


def _notes(path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[0] for row in connection.execute("SELECT text FROM notes")]


def test_a_database_in_use_is_copied_with_what_it_committed_and_without_its_side_files(tmp_path):
    data = tmp_path / "data"
    (data / "uploads").mkdir(parents=True)
    (data / "uploads" / "a.png").write_bytes(b"png")
    os.chmod(data / "uploads" / "a.png", 0o600)
    (data / "latest").symlink_to("uploads/a.png")
    app = _database(data / "notes.db")
    # Committed to the write-ahead log only: a file copy of notes.db would miss it.
    app.execute("INSERT INTO notes VALUES ('in the wal')")
    app.commit()
    assert (data / "notes.db-wal").stat().st_size > 0
    # A write not committed when the snapshot is taken is not in it.
    app.execute("INSERT INTO notes VALUES ('uncommitted')")

    tar = tmp_path / "data.tar"
    assert snapshot.main("take", str(data), str(tar)) == 0
    app.rollback()
    app.close()

    with tarfile.open(tar) as archive:
        members = {member.name: member for member in archive.getmembers()}
        assert sorted(members) == ["latest", "notes.db", "uploads", "uploads/a.png"]
        assert members["latest"].issym() and members["latest"].linkname == "uploads/a.png"
        assert members["uploads/a.png"].mode & 0o777 == 0o600
        archive.extract("notes.db", tmp_path / "out")
    assert _notes(tmp_path / "out" / "notes.db") == ["kept", "in the wal"]
    assert not list(tmp_path.glob("tmp*")), "the scratch folder is gone"


def test_a_restore_replaces_the_whole_folder_and_a_stale_wal_goes_with_it(tmp_path):
    data, tar = tmp_path / "data", tmp_path / "data.tar"
    data.mkdir()
    _database(data / "notes.db").close()
    (data / "uploads").mkdir()
    (data / "uploads" / "a.png").write_bytes(b"png")
    assert snapshot.main("take", str(data), str(tar)) == 0

    # What a release command did after: the table emptied, an upload gone, a file added.
    app = sqlite3.connect(data / "notes.db")
    app.execute("PRAGMA journal_mode=WAL")
    app.execute("DELETE FROM notes")
    app.commit()
    (data / "uploads" / "a.png").unlink()
    (data / "new.txt").write_text("made after")
    assert (data / "notes.db-wal").exists()

    assert snapshot.main("restore", str(tar), str(data)) == 0
    app.close()
    assert sorted(os.listdir(data)) == ["notes.db", "uploads"]
    assert (data / "uploads" / "a.png").read_bytes() == b"png"
    assert _notes(data / "notes.db") == ["kept"]


def test_a_restore_that_cannot_unpack_leaves_the_data_as_it_was(tmp_path):
    data, broken = tmp_path / "data", tmp_path / "broken.tar"
    data.mkdir()
    (data / "keep.txt").write_text("as it was")
    broken.write_bytes(b"not a tar file")
    result = subprocess.run(
        [sys.executable, "-I", str(HOST_TOOLS / "snapshot.py"), "restore", str(broken), str(data)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("snapshot restore failed: ")
    assert os.listdir(data) == ["keep.txt"]

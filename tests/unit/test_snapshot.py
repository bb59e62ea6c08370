"""The snapshot host tool, run here as on a host: a data folder with a SQLite database in
use taken consistently, and put back whole; a database's own dump command beside it; and
the commands the snapshot operations run it with."""

import os
import sqlite3
import subprocess
import sys
import tarfile

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.operations.releases import SnapshotCommand
from tests.unit.harness import HOST_TOOLS, gone, host_tool, run_operation

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


def test_a_snapshot_command_keeps_its_output_and_a_restore_command_reads_it_first(tmp_path):
    data, tar, output = tmp_path / "data", tmp_path / "data.tar", tmp_path / "command.out"
    data.mkdir()
    (data / "kept.txt").write_text("as it was")
    dump = ["--command", str(output), "10", "--", "sh", "-c", "echo 'the database, dumped'"]
    assert snapshot.main("take", str(data), str(tar), *dump) == 0
    assert output.read_text() == "the database, dumped\n"

    (data / "kept.txt").write_text("changed")
    loaded = tmp_path / "loaded"
    load = ["--command", str(output), "10", "--", "sh", "-c", f"cat > {loaded}"]
    assert snapshot.main("restore", str(tar), str(data), *load) == 0
    assert loaded.read_text() == "the database, dumped\n"
    assert (data / "kept.txt").read_text() == "as it was"


def test_a_restore_command_that_fails_leaves_the_data_as_it_was(tmp_path, capfd):
    data, tar, output = tmp_path / "data", tmp_path / "data.tar", tmp_path / "command.out"
    data.mkdir()
    (data / "kept.txt").write_text("as it was")
    assert snapshot.main("take", str(data), str(tar)) == 0
    (data / "kept.txt").write_text("changed")
    output.write_text("dump")
    assert (
        snapshot.main("restore", str(tar), str(data), "--command", str(output), "10", "--", "sh", "-c", "exit 3") == 3
    )
    assert (data / "kept.txt").read_text() == "changed"
    assert "snapshot command exited 3" in capfd.readouterr().err


def test_a_snapshot_command_past_its_timeout_is_killed_with_what_it_started(tmp_path, capfd):
    started = tmp_path / "started.pid"
    command = ["sh", "-c", f"sleep 60 & echo $! > {started}; wait"]
    assert snapshot.run_command(command, 0.5) == 124
    assert "snapshot command timed out after 0.5 s, killed" in capfd.readouterr().err
    assert gone(int(started.read_text()))


def test_the_snapshot_operations_run_the_commands_in_the_right_release_as_the_apps_user():
    live, new = "20261102T100000Z-bbbbbbbbbbbb", "20261103T100000Z-cccccccccccc"
    state = {
        "releases": [live, new], "rolled_back": [], "current": live, "history": [live], "former_layout": [],
        "venvs": {}, "commands_done": {}, "went_live": {}, "deployed_from": {}, "loadable": [live, new],
        "snapshots": {},
    }  # fmt: skip
    dump = SnapshotCommand("pg_dump --format=custom shop", "/var/lib/shop", "0027", 900)
    kwargs = {"install_path": "/srv/shop", "data_dir": "/var/lib/shop", "user": "shop"}
    commands, _ = run_operation(
        "releases.snapshot_taken",
        {
            "kwargs": {**kwargs, "release": new, "commands": ["migrate"], "group": "shop", "keep": 3, "command": dump},
            "facts": {"releases.Releases": state},
        },
    )
    take = next(command for command in commands if " take " in command)
    assert take.startswith("runuser -u shop -- /usr/bin/python3 -I ")
    assert (
        f" --command /srv/shop/snapshots/.taking/command.out 900 -- /srv/shop/releases/{live}/venv/bin/python"
        f" {layout.IN_APP} /srv/shop/releases/{live} /var/lib/shop --umask 0027 -- sh -c 'pg_dump --format=custom shop'"
    ) in take
    sealed = commands[-1]
    assert "! -name data.tar ! -name command.out" in sealed
    assert "chmod 640 /srv/shop/snapshots/.taking/command.out" in sealed

    name = f"{new}-5d41402abc4b"
    taken = {**state, "current": new, "snapshots": {name: {"live": live, "taken": "2026-11-03T10:00:00Z"}}}
    load = SnapshotCommand("pg_restore --clean --dbname=shop", "/var/lib/shop", "0027", 900)
    (restore,), _ = run_operation(
        "releases.restored",
        {
            "kwargs": {
                **kwargs, "snapshot": None, "restart": ["touch", "/srv/shop/shop.wsgi"],
                "maintenance_flag": "/srv/shop/maintenance-on", "command": load,
            },
            "facts": {"releases.Releases": taken},
        },
    )  # fmt: skip
    assert f" --command /srv/shop/snapshots/{name}/command.out 900 -- /srv/shop/releases/{live}/venv/bin/python" in (
        restore
    )

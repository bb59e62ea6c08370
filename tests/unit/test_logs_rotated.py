"""rotatelogs' hook, run here as on a host: a log's closed files compressed, those past
the retention deleted, the open one and every other file left as they are."""

import gzip
import os
import subprocess
import sys
import time

from apache_wsgi_deploy import layout
from tests.unit.harness import HOST_TOOLS, host_tool

logs_rotated = host_tool("logs_rotated")
DAY = 86400


def test_closed_files_are_compressed_and_expired_the_open_one_and_others_kept(tmp_path):
    assert logs_rotated.RETENTION_DAYS == layout.LOG_RETENTION_DAYS
    log = tmp_path / "shop-access.log"
    old = time.time() - (layout.LOG_RETENTION_DAYS + 1) * DAY
    files = {
        "shop-access.log.20261201": b"yesterday\n",
        "shop-access.log.20261110.gz": gzip.compress(b"long ago\n"),
        "shop-access.log.1": b"rotated by logrotate before\n",
        "shop-access.log.20261202": b"today\n",
        "shop-error.log.20261201": b"another log's\n",
        "shop-access.log.bak": b"not a rotation\n",
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    os.utime(tmp_path / "shop-access.log.20261110.gz", (old, old))
    yesterday = time.time() - DAY
    os.utime(tmp_path / "shop-access.log.1", (yesterday, yesterday))
    os.link(tmp_path / "shop-access.log.20261202", log)

    # As rotatelogs runs it: a program, the file it opened, then the one it closed.
    hook = [str(HOST_TOOLS / "logs_rotated.py"), f"{log}.20261202", f"{log}.20261201"]
    subprocess.run([sys.executable, *hook], check=True)

    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "shop-access.log",
        "shop-access.log.1.gz",
        "shop-access.log.20261201.gz",
        "shop-access.log.20261202",
        "shop-access.log.bak",
        "shop-error.log.20261201",
    ]
    assert gzip.decompress((tmp_path / "shop-access.log.20261201.gz").read_bytes()) == b"yesterday\n"
    assert log.read_bytes() == b"today\n"


def test_a_first_start_only_tidies(tmp_path):
    """rotatelogs runs the hook when it starts, with the file it opened alone."""
    (tmp_path / "error.log.20261202").write_bytes(b"today\n")
    logs_rotated.main(str(tmp_path / "error.log.20261202"))
    assert [path.name for path in tmp_path.iterdir()] == ["error.log.20261202"]


def test_a_file_still_written_to_waits_for_the_next_rotation(tmp_path):
    """A file set aside by reload.py while Apache's old generation may still write to it."""
    set_aside = tmp_path / "error.log.20261202T101500"
    set_aside.write_bytes(b"before rotatelogs\n")
    logs_rotated.main(str(tmp_path / "error.log.20261202"))
    assert set_aside.exists()
    quiet = time.time() - logs_rotated.QUIET_SECONDS - 1
    os.utime(set_aside, (quiet, quiet))
    logs_rotated.main(str(tmp_path / "error.log.20261202"))
    assert [path.name for path in tmp_path.iterdir()] == ["error.log.20261202T101500.gz"]


def test_reload_sets_aside_a_log_apache_wrote_itself_and_leaves_rotatelogs_own(tmp_path):
    reload = host_tool("reload")
    plain, current = tmp_path / "error.log", tmp_path / "shop-access.log.20261202"
    plain.write_bytes(b"written by Apache\n")
    current.write_bytes(b"written by rotatelogs\n")
    os.link(current, tmp_path / "shop-access.log")
    reload.set_aside([str(plain), str(tmp_path / "shop-access.log"), str(tmp_path / "missing.log")])
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names[0].startswith("error.log.2") and names[1:] == ["shop-access.log", "shop-access.log.20261202"]
    assert (tmp_path / names[0]).read_bytes() == b"written by Apache\n"


def test_the_reload_reads_apaches_notice_from_the_new_file_a_rotation_linked(tmp_path):
    """After a reload that starts new rotatelogs, the error log's name leads to another
    file, which may be longer than the one before: read whole, not from the old size."""
    reload = host_tool("reload")
    log = tmp_path / "error.log"
    log.write_text("x" * 300 + "\n")
    end = reload.end(log)
    newer = tmp_path / "error.log.20261202T101500"
    newer.write_text(f"[notice] {reload.RESUMED}\n" + "y" * 600 + "\n")
    log.unlink()
    os.link(newer, log)
    assert reload.RESUMED in reload.logged_since(log, end)
    with log.open("a") as more:
        more.write("appended\n")
    assert reload.logged_since(log, reload.end(log)) == ""

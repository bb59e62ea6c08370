"""
managed.file/template/tree against real files here: the fact command reads them, the
operation's commands change them, and a second pass finds nothing to do.
"""

import hashlib
import logging
import os
import stat
from io import StringIO

import pytest
from pyinfra.api import OperationValueError

from apache_wsgi_deploy.facts.files import FileState, Tree
from apache_wsgi_deploy.operations import managed
from apache_wsgi_deploy.outcome import Recorder
from tests.unit.harness import LocalHost, operation_commands, render

ROOT = {"user": "root", "group": "root"}


def converge(operation, *args, **kwargs) -> list[str]:
    """Apply the operation here; the commands it ran, as text."""
    host = LocalHost()
    commands = operation_commands(host, operation, *args, **kwargs)
    host.execute(commands)
    return [render(command) for command in commands]


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture(autouse=True)
def as_root():
    if os.geteuid() != 0:
        pytest.fail("these tests chown files to root: run them as root (./run.sh test does)")


def test_file_state_reads_kind_owner_mode_and_checksum(tmp_path):
    path = tmp_path / "f"
    assert LocalHost().get_fact(FileState, path=str(path)) is None
    path.write_text("hello\n")
    path.chmod(0o640)
    assert LocalHost().get_fact(FileState, path=str(path)) == {
        "kind": "file",
        "user": "root",
        "group": "root",
        "mode": 0o640,
        "digest": hashlib.blake2b(b"hello\n", digest_size=16).hexdigest(),
    }
    link = tmp_path / "link"
    link.symlink_to(path)
    assert LocalHost().get_fact(FileState, path=str(link))["kind"] == "link"
    assert LocalHost().get_fact(FileState, path=str(tmp_path))["kind"] == "directory"


def test_a_file_is_written_once_then_left_alone_and_only_its_mode_repaired(tmp_path):
    dest = str(tmp_path / "sub" / "app.conf")
    first = converge(managed.file, StringIO("one\n"), dest, mode="640", **ROOT)
    staging = f"{tmp_path}/sub/.app.conf.apache-wsgi-deploy-new"
    assert first[0] == f"mkdir -p {tmp_path}/sub" and f"upload {staging} through /tmp" in first
    assert (tmp_path / "sub" / "app.conf").read_text() == "one\n" and mode(dest) == 0o640

    assert converge(managed.file, StringIO("one\n"), dest, mode="640", **ROOT) == []

    os.chmod(dest, 0o666)
    assert converge(managed.file, StringIO("one\n"), dest, mode="640", **ROOT) == [f"chmod 640 {dest}"]

    changed = converge(managed.file, StringIO("two\n"), dest, mode="640", **ROOT)
    # Written beside, owned and moded, then renamed over: never a half-written or open file.
    assert changed == [
        f"install -m 600 /dev/null {staging}",
        f"upload {staging} through /tmp",
        f"chown root:root {staging}",
        f"chmod 640 {staging}",
        f"mv -fT {staging} {dest}",
    ]
    assert (tmp_path / "sub" / "app.conf").read_text() == "two\n"
    assert sorted(path.name for path in (tmp_path / "sub").iterdir()) == ["app.conf"]


def test_a_write_cut_off_before_the_rename_leaves_the_old_file_whole(tmp_path):
    """As on a full disk or a lost connection: the upload stops, the file stays as it was."""
    dest = tmp_path / "environment.json"
    converge(managed.file, StringIO('{"A": "old"}\n'), str(dest), mode="640", **ROOT)
    host = LocalHost()
    commands = operation_commands(host, managed.file, StringIO('{"A": "new"}\n'), str(dest), mode="640", **ROOT)
    rendered = [render(command) for command in commands]
    host.execute(commands[: rendered.index(f"mv -fT {tmp_path}/.environment.json.apache-wsgi-deploy-new {dest}")])
    assert dest.read_text() == '{"A": "old"}\n' and mode(dest) == 0o640
    # The next run writes it whole.
    converge(managed.file, StringIO('{"A": "new"}\n'), str(dest), mode="640", **ROOT)
    assert dest.read_text() == '{"A": "new"}\n'


def test_a_link_where_the_file_belongs_is_replaced_not_written_through(tmp_path):
    target, dest = tmp_path / "elsewhere", tmp_path / "app.conf"
    target.write_text("not ours\n")
    dest.symlink_to(target)
    converge(managed.file, StringIO("ours\n"), str(dest), mode="644", **ROOT)
    assert not dest.is_symlink() and dest.read_text() == "ours\n"
    assert target.read_text() == "not ours\n"


def test_a_folder_where_the_file_belongs_is_refused(tmp_path):
    with pytest.raises(OperationValueError, match="is a directory on the host"):
        converge(managed.file, StringIO("x"), str(tmp_path), mode="644", **ROOT)


@pytest.mark.parametrize("bad", ["relative/path", "/etc/../etc/x", "/etc/x\n/etc/y"])
def test_paths_that_are_not_plain_absolute_paths_are_refused(bad):
    with pytest.raises(OperationValueError, match="absolute and normalised"):
        converge(managed.file, StringIO("x"), bad, mode="644", **ROOT)


def test_a_private_file_goes_through_the_ssh_users_own_folder_and_is_never_shown(tmp_path, caplog):
    dest = str(tmp_path / "privkey.pem")
    host = LocalHost(home="/home/deploy", diff=True)
    with caplog.at_level(logging.INFO):
        commands = operation_commands(
            host, managed.file, StringIO("SECRET KEY\n"), dest, mode="600", private=True, **ROOT
        )
    rendered = [render(command) for command in commands]
    assert (
        "mkdir -p /home/deploy/.apache-wsgi-deploy-upload && chmod 700 /home/deploy/.apache-wsgi-deploy-upload"
        in rendered
    )
    staging = f"{tmp_path}/.privkey.pem.apache-wsgi-deploy-new"
    assert f"upload {staging} through /home/deploy/.apache-wsgi-deploy-upload" in rendered
    assert commands[
        rendered.index(f"upload {staging} through /home/deploy/.apache-wsgi-deploy-upload") - 1
    ].connector_arguments == {"_sudo": False}
    assert f"Will create {dest}" in caplog.text and "SECRET" not in caplog.text


def test_a_changed_file_is_shown_as_a_diff(tmp_path, caplog):
    dest = tmp_path / "site.conf"
    dest.write_text("Header always set X 1\n")
    with caplog.at_level(logging.INFO):
        operation_commands(
            LocalHost(diff=True), managed.file, StringIO("Header always set X 2\n"), str(dest), mode="644", **ROOT
        )
    assert f"Will modify {dest}" in caplog.text
    assert "Header always set X 1" in caplog.text and "Header always set X 2" in caplog.text


def test_a_diff_is_recorded_for_the_drift_check_without_colour(tmp_path):
    dest = tmp_path / "site.conf"
    dest.write_text("Header always set X 1\n")
    host, recorder = LocalHost(diff=True), Recorder()
    host.state.callback_handlers.append(recorder)
    operation_commands(host, managed.file, StringIO("Header always set X 2\n"), str(dest), mode="644", **ROOT)
    assert recorder.notes[host.name]["diffs"] == [
        f"Will modify {dest}",
        "@@ -1 +1 @@",
        "- Header always set X 1",
        "+ Header always set X 2",
    ]


def test_a_binary_file_that_differs_is_reported_without_its_contents(tmp_path):
    """The drift check reports a binary file of a release edited on the host, as any other."""
    dest = tmp_path / "logo.png"
    dest.write_bytes(b"\x89PNG\r\n\x1a\n\x00edited")
    host, recorder = LocalHost(diff=True), Recorder()
    host.state.callback_handlers.append(recorder)
    source = tmp_path / "source.png"
    source.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    operation_commands(host, managed.file, str(source), str(dest), mode="644", **ROOT)
    assert recorder.notes[host.name]["diffs"] == [
        f"Will modify {dest}",
        "(binary file of 11 bytes: contents not shown)",
    ]


@pytest.fixture
def source(tmp_path):
    src = tmp_path / "src"
    (src / "templates").mkdir(parents=True)
    (src / "app.py").write_text("app = 1\n")
    (src / "templates" / "index.html").write_text("<p>hi</p>\n")
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (src / "old.pyc").write_bytes(b"\0")
    return src


def tree(src, dest, keep=("__pycache__",)) -> list[str]:
    return converge(
        managed.tree,
        str(src),
        str(dest),
        mode="644",
        dir_mode="755",
        exclude=["*.pyc", "__pycache__"],
        keep=list(keep),
        **ROOT,
    )


def test_tree_copies_a_folder_in_one_fact_and_reruns_with_no_command(source, tmp_path):
    dest = tmp_path / "dest"
    tree(source, dest)
    assert (dest / "templates" / "index.html").read_text() == "<p>hi</p>\n"
    assert not (dest / "__pycache__").exists() and not (dest / "old.pyc").exists()
    assert mode(dest / "templates") == 0o755 and mode(dest / "app.py") == 0o644
    assert set(LocalHost().get_fact(Tree, path=str(dest))) == {"", "app.py", "templates", "templates/index.html"}

    assert tree(source, dest) == []


def test_tree_uploads_only_what_differs_and_removes_what_the_source_lacks(source, tmp_path):
    dest = tmp_path / "dest"
    tree(source, dest)
    (source / "app.py").write_text("app = 2\n")
    (dest / "stray").mkdir()
    (dest / "stray" / "file").write_text("x")
    (dest / "__pycache__").mkdir()  # Python's own, on the host: kept
    os.chmod(dest / "templates" / "index.html", 0o600)

    changed = tree(source, dest)

    staging = f"{dest}/.app.py.apache-wsgi-deploy-new"
    assert changed == [
        f"rm -rf {dest}/stray",
        f"install -m 600 /dev/null {staging}",
        f"upload {staging} through /tmp",
        f"chown root:root {staging}",
        f"chmod 644 {staging}",
        f"mv -fT {staging} {dest}/app.py",
        f"chmod 644 {dest}/templates/index.html",
    ]
    assert (dest / "app.py").read_text() == "app = 2\n" and (dest / "__pycache__").is_dir()
    assert tree(source, dest) == []


def test_an_excluded_entry_the_host_has_is_removed_unless_kept(source, tmp_path):
    """Bytecode a daemon wrote while the code was writable to it: a crafted .pyc there
    would outlive the repair of the code's owners."""
    dest = tmp_path / "dest"
    tree(source, dest, keep=[])
    (dest / "__pycache__").mkdir()
    (dest / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"crafted")
    (dest / "templates" / "index.cpython-311.pyc").write_bytes(b"crafted")
    assert tree(source, dest, keep=[]) == [
        f"rm -rf {dest}/__pycache__",
        f"rm -rf {dest}/templates/index.cpython-311.pyc",
    ]
    assert tree(source, dest, keep=[]) == []


def test_tree_replaces_a_link_where_the_folder_belongs(source, tmp_path):
    elsewhere, dest = tmp_path / "elsewhere", tmp_path / "dest"
    elsewhere.mkdir()
    dest.symlink_to(elsewhere)
    tree(source, dest)
    assert not dest.is_symlink() and (dest / "app.py").exists() and not (elsewhere / "app.py").exists()


def test_a_removed_folder_loses_only_what_the_deploy_made_in_it(tmp_path):
    site = tmp_path / "blog"
    (site / "releases" / "one").mkdir(parents=True)
    (site / "environment.json").write_text("{}\n")
    (site / ".environment.json.apache-wsgi-deploy-new").write_text("{")
    (site / "vendor-data").write_text("not ours\n")
    made = ["releases", "environment.json", "current"]

    converge(managed.folder_removed, str(site), made)
    assert sorted(path.name for path in site.iterdir()) == ["vendor-data"]
    # Kept for what is left; a rerun finds nothing of ours to remove and changes nothing.
    assert converge(managed.folder_removed, str(site), made) == []

    (site / "vendor-data").unlink()
    (site / "current").symlink_to("releases/one")
    converge(managed.folder_removed, str(site), made)
    assert not site.exists()
    assert converge(managed.folder_removed, str(site), made) == []


def test_a_linked_folder_is_left_out_from_the_top_only(source, tmp_path):
    (source / "media").mkdir()
    (source / "media" / "upload.png").write_bytes(b"\0")
    (source / "templates" / "media").mkdir()
    (source / "templates" / "media" / "logo.svg").write_text("<svg/>")
    dest = tmp_path / "dest"
    linked = {"exclude": ["/media"], "keep": ["/media"]}
    converge(managed.tree, str(source), str(dest), mode="644", dir_mode="755", **linked, **ROOT)
    assert (dest / "templates" / "media" / "logo.svg").exists()
    assert not (dest / "media").exists()
    # The link a release has there is not the tree's to remove.
    (dest / "media").symlink_to(tmp_path)
    assert converge(managed.tree, str(source), str(dest), mode="644", dir_mode="755", **linked, **ROOT) == []

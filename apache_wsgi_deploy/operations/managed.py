"""
Files and folders the deploy owns, each compared with the host by one fact command:
pyinfra's files.put and files.template ask three (file, checksum, parent folder) and
files.sync two per file, which a no-change rerun pays on every run.

A new file's folder is made when missing (owned by root, mode 755): give a folder other
owners or modes with an earlier operation. A link found where a file or folder belongs
is replaced, never written through.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from io import BytesIO, StringIO
from pathlib import Path

from pyinfra import host, logger, state
from pyinfra.api import FileUploadCommand, OperationError, OperationValueError, QuoteString, StringCommand, operation
from pyinfra.api.util import get_template
from pyinfra.facts.files import FileContents
from pyinfra.facts.server import Home
from pyinfra.operations.util.files import chmod, chown, generate_color_diff

from apache_wsgi_deploy import outcome
from apache_wsgi_deploy.facts.files import FileState, FolderEntries, PathStates, Tree, digest
from apache_wsgi_deploy.layout import PRIVATE_UPLOAD_DIR

# Beside a file being replaced: the new one, until it is complete and renamed over it.
STAGING_SUFFIX = ".apache-wsgi-deploy-new"


def _mode(mode: str) -> int:
    return int(mode, 8)


def _check_path(dest: str) -> None:
    if not posixpath.isabs(dest) or posixpath.normpath(dest) != dest or "\n" in dest:
        raise OperationValueError(f"a managed path must be absolute and normalised: {dest!r}")


def ownership_commands(current: dict | None, path: str, user: str, group: str, mode: int):
    """chown/chmod, each only when it differs (everything for a new path)."""
    if current is None or (current["user"], current["group"]) != (user, group):
        yield chown(path, user, group)
    if current is None or current["mode"] != mode:
        yield chmod(path, f"{mode:o}")


def _log_diff(dest: str, current: dict | None, content: bytes, private: bool) -> None:
    """With --diff, what a file it would write changes (pyinfra's format), logged and
    recorded for the drift check."""
    if not state.config.DIFF:
        return
    header = f"Will {'create' if current is None else 'modify'} {dest}"
    host.log(header, logger.info)
    if private:
        lines = ["(private file: contents not shown)"]
    elif not _is_text(content):
        lines = [f"(binary file of {len(content)} bytes: contents not shown)"]
    else:
        before = [] if current is None else [line + "\n" for line in host.get_fact(FileContents, path=dest) or []]
        lines = list(generate_color_diff(before, content.decode().splitlines(keepends=True)))
    for line in lines:
        logger.info("  %s", line)
    logger.info("")
    outcome.record(host.name, outcome.DIFFS, [header, *(outcome.unstyled(line) for line in lines)])


def _is_text(content: bytes) -> bool:
    try:
        content.decode()
    except UnicodeDecodeError:
        return False
    return True


def _upload_commands(content: bytes, dest: str, private: bool):
    temp_dir = None
    if private:
        # With sudo, pyinfra uploads through a temporary file made with the SSH user's umask:
        # a private file's goes through a folder only the SSH user can enter.
        temp_dir = f"{host.get_fact(Home, _sudo=False)}/{PRIVATE_UPLOAD_DIR}"
        yield StringCommand(
            "mkdir", "-p", QuoteString(temp_dir), "&&", "chmod", "700", QuoteString(temp_dir), _sudo=False
        )
    temp_file = host.get_temp_filename(dest, temp_directory=temp_dir)
    yield FileUploadCommand(BytesIO(content), dest, remote_temp_filename=temp_file)


def _replace_commands(content: bytes, dest: str, user: str, group: str, mode: int, private: bool, check=None):
    """Write the new file beside `dest`, give it its owner and mode, then rename it over
    `dest`: a full disk or a lost connection leaves the old file whole, and a reader sees
    the old file or the new one, never a part or the wrong mode. check(staging), when
    given, is a command that must pass on the new file before it replaces the old."""
    staging = f"{posixpath.dirname(dest)}/.{posixpath.basename(dest)}{STAGING_SUFFIX}"
    # Root's and private before a byte is written: pyinfra's upload copies into it, keeping both.
    yield StringCommand("install", "-m", "600", "/dev/null", QuoteString(staging))
    yield from _upload_commands(content, staging, private)
    yield chown(staging, user, group)
    yield chmod(staging, f"{mode:o}")
    if check is not None:
        yield check(staging)
    # -T: a link to a folder at `dest` is replaced, never moved into.
    yield StringCommand("mv", "-fT", QuoteString(staging), QuoteString(dest))


def file_commands(content: bytes, dest: str, user: str, group: str, mode: str, private: bool = False, check=None):
    """The commands that make `dest` hold `content` with this owner and mode: none when it
    does. check: as _replace_commands'."""
    _check_path(dest)
    wanted_mode = _mode(mode)
    current = host.get_fact(FileState, path=dest)
    if current is not None and current["kind"] != "file":
        if current["kind"] != "link":
            raise OperationValueError(f"{dest} is a {current['kind']} on the host, not a file")
        yield StringCommand("rm", "-f", QuoteString(dest))
        current = None
    if current is None:
        yield StringCommand("mkdir", "-p", QuoteString(posixpath.dirname(dest)))
    if current is None or current["digest"] != digest(content):
        _log_diff(dest, current, content, private)
        yield from _replace_commands(content, dest, user, group, wanted_mode, private, check)
        return
    yield from ownership_commands(current, dest, user, group, wanted_mode)


@operation()
def file(src: str | StringIO, dest: str, user: str, group: str, mode: str, private: bool = False):
    """
    Put a file from the control machine on the host, with this owner and mode.

    + src: local file path, or a StringIO with the content
    + dest: absolute path on the host
    + user, group, mode: its owner and permissions (``"644"``)
    + private: upload through a folder only the SSH user can enter, and never show the
      content in a diff (keys)

    **Example:**

    .. code:: python

        managed.file(src="certs/key.pem", dest="/etc/ssl/site/privkey.pem",
                     user="root", group="root", mode="600", private=True)
    """
    yield from file_commands(content(src), dest, user, group, mode, private)


def content(src: str | StringIO) -> bytes:
    """What a file operation's src holds: a local file's bytes, or a StringIO's text."""
    return src.getvalue().encode() if isinstance(src, StringIO) else Path(src).read_bytes()


def compiled(src: str):
    """A Jinja2 template file compiled as pyinfra's files.template does (StrictUndefined),
    once per process."""
    return get_template(src)


def render(src: str, **data) -> bytes:
    """A Jinja2 template file rendered as pyinfra's files.template does."""
    return compiled(src).render(data).encode()


@operation()
def template(src: str, dest: str, user: str, group: str, mode: str, **data):
    """
    Render a Jinja2 template from the control machine onto the host.

    + src: template file (``templates/x.j2``)
    + dest: absolute path on the host
    + user, group, mode: its owner and permissions
    + data: the template's variables

    **Example:**

    .. code:: python

        managed.template(src="templates/app.wsgi.j2", dest="/srv/app/app.wsgi",
                         user="root", group="root", mode="644", s=settings)
    """
    yield from file_commands(render(src, **data), dest, user, group, mode)


def excluded(relative: str, exclude: list[str]) -> bool:
    """A name pattern matches any name of the path; one starting with '/' the path from the top."""
    names = relative.split("/")
    for pattern in exclude:
        if pattern.startswith("/"):
            if fnmatch.fnmatch(relative, pattern[1:]) or any(
                fnmatch.fnmatch("/".join(names[:depth]), pattern[1:]) for depth in range(1, len(names))
            ):
                return True
        elif any(fnmatch.fnmatch(name, pattern) for name in names):
            return True
    return False


def local_tree(src: Path, exclude: list[str]) -> tuple[list[str], dict[str, Path]]:
    """Folders and files below `src` (relative POSIX paths), without excluded names."""
    folders, files = [], {}
    for root, dirnames, filenames in os.walk(src):
        relative_root = Path(root).relative_to(src).as_posix()
        prefix = "" if relative_root == "." else f"{relative_root}/"
        dirnames[:] = sorted(name for name in dirnames if not excluded(prefix + name, exclude))
        for name in dirnames:
            folders.append(prefix + name)
        for name in sorted(filenames):
            if not excluded(prefix + name, exclude):
                files[prefix + name] = Path(root) / name
    for relative in [*folders, *files]:
        if "\n" in relative:
            raise OperationValueError(f"{src}: a file name holds a newline: {relative!r}")
    return folders, files


@operation()
def tree(
    src: str,
    dest: str,
    user: str,
    group: str,
    mode: str,
    dir_mode: str,
    exclude: list[str] = (),
    keep: list[str] = (),
    executable: list[str] = (),
):
    """
    Make a folder on the host hold exactly a local folder's files, read by one command.

    + src: folder on the control machine
    + dest: absolute folder on the host (missing parents are made, root's, 755)
    + user, group: owner of every folder and file
    + mode, dir_mode: permissions of files and of folders
    + exclude: name patterns (fnmatch) not copied (``*.pyc``); one that starts with ``/``
      matches a path from the top (``/instance``)
    + keep: name patterns, as exclude's, of what the host makes there itself and is never
      removed (a release's linked folders)
    + executable: name patterns, as exclude's, of files that are programs: mode with the
      execute bits of each read bit (644: 755)

    Files that differ are uploaded; entries the local folder does not have are removed,
    excluded ones too unless kept: bytecode a daemon wrote into code it could write to
    is no file of the folder's.

    **Example:**

    .. code:: python

        managed.tree(src="app", dest="/srv/app/app", user="root", group="root",
                     mode="644", dir_mode="755", exclude=["*.pyc", "__pycache__"])
    """
    _check_path(dest)
    exclude = list(exclude)
    folders, files = local_tree(Path(src), exclude)
    file_mode, folder_mode = _mode(mode), _mode(dir_mode)
    remote = host.get_fact(Tree, path=dest)
    if remote is None:
        # Nothing there, or a file or link where the folder belongs.
        yield StringCommand("rm", "-f", QuoteString(dest))
        yield StringCommand("mkdir", "-p", QuoteString(dest))
        remote = {}
    yield from ownership_commands(remote.get(""), dest, user, group, folder_mode)

    stale = set(remote) - {"", *folders, *files}
    for relative in sorted(stale):
        parent_removed = any(relative.startswith(f"{other}/") for other in stale)
        if not parent_removed and not excluded(relative, list(keep)):
            yield StringCommand("rm", "-rf", QuoteString(f"{dest}/{relative}"))

    for relative in folders:
        path = f"{dest}/{relative}"
        current = remote.get(relative)
        if current is not None and current["kind"] != "directory":
            yield StringCommand("rm", "-f", QuoteString(path))
            current = None
        if current is None:
            yield StringCommand("mkdir", QuoteString(path))
        yield from ownership_commands(current, path, user, group, folder_mode)

    for relative, local in files.items():
        path = f"{dest}/{relative}"
        content = local.read_bytes()
        wanted_mode = file_mode | (file_mode & 0o444) >> 2 if excluded(relative, list(executable)) else file_mode
        current = remote.get(relative)
        if current is not None and current["kind"] != "file":
            yield StringCommand("rm", "-rf", QuoteString(path))
            current = None
        if current is None or current["digest"] != digest(content):
            _log_diff(path, current, content, private=False)
            if current is not None:
                yield from _replace_commands(content, path, user, group, wanted_mode, private=False)
                continue
            # A file the folder did not have: nothing reads it yet (a new release), nothing to keep whole.
            yield from _upload_commands(content, path, private=False)
        yield from ownership_commands(current, path, user, group, wanted_mode)


@operation()
def private_files(files, dest: str, user: str, group: str, mode: str, dir_mode: str):
    """
    Make a folder hold exactly these secret files, read by one command: each uploaded
    through a folder only the SSH user can enter, replaced whole when it differs, never
    shown in a diff; the folder and its parent (made when missing) with dir_mode.

    + files: a function returning {file name: content (bytes)}, so no content reaches
      pyinfra's record of the operation's arguments (its --json output)
    + dest: absolute folder on the host
    + user, group: owner of the folders and files
    + mode, dir_mode: permissions of files and of folders

    **Example:**

    .. code:: python

        managed.private_files(files=lambda: {"htpasswd": b"alice:$apr1$..."}, dest="/srv/shop/secrets/3f2a",
                              user="root", group="shop", mode="640", dir_mode="750")
    """
    _check_path(dest)
    contents = files()
    file_mode, folder_mode = _mode(mode), _mode(dir_mode)
    remote = host.get_fact(Tree, path=dest)
    if remote is None:
        parent = posixpath.dirname(dest)
        yield StringCommand("rm", "-f", QuoteString(dest))
        yield StringCommand("install", "-d", "-o", user, "-g", group, "-m", dir_mode, QuoteString(parent))
        yield StringCommand("install", "-d", "-o", user, "-g", group, "-m", dir_mode, QuoteString(dest))
        remote = {"": {"user": user, "group": group, "mode": folder_mode, "kind": "directory", "digest": None}}
    yield from ownership_commands(remote.get(""), dest, user, group, folder_mode)
    for relative in sorted(set(remote) - {"", *contents}):
        yield StringCommand("rm", "-rf", "--", QuoteString(f"{dest}/{relative}"))
    for name, content in sorted(contents.items()):
        path = f"{dest}/{name}"
        current = remote.get(name)
        if current is not None and current["kind"] != "file":
            yield StringCommand("rm", "-rf", "--", QuoteString(path))
            current = None
        if current is None or current["digest"] != digest(content):
            _log_diff(path, current, content, private=True)
            yield from _replace_commands(content, path, user, group, file_mode, private=True)
            continue
        yield from ownership_commands(current, path, user, group, file_mode)


@operation()
def folders(paths: list[str], user: str, group: str, mode: str):
    """
    Make folders exist with an owner and mode, read by one command; what they hold is
    never looked at nor touched.

    + paths: absolute folders, each after the one it lies in (missing parents are made, root's)
    + user, group, mode: of each folder

    A file or link where a folder belongs is an error: it may be someone's data.
    """
    states = host.get_fact(PathStates, paths=paths)
    folder_mode = _mode(mode)
    for path in paths:
        _check_path(path)
        current = states.get(path)
        if current is not None and current["kind"] != "directory":
            raise OperationError(f"{path} is a {current['kind']}, where the deploy keeps a folder: move it away")
        if current is None:
            yield StringCommand("mkdir", "-p", QuoteString(path))
        yield from ownership_commands(current, path, user, group, folder_mode)


@operation()
def links(links: dict[str, str]):
    """
    Make each path a symbolic link to its target, read by one command. Whatever is at a
    path and is not that link is removed first (a release's own copy of a folder that
    is the data's instead), also what an earlier operation of this run puts there.

    + links: absolute path of each link: its target
    """
    states = host.get_fact(PathStates, paths=list(links))
    for path, target in links.items():
        _check_path(path)
        current = states.get(path)
        if current is not None and current["target"] == target:
            continue
        yield StringCommand("rm", "-rf", "--", QuoteString(path))
        yield StringCommand("ln", "-s", QuoteString(target), QuoteString(path))


@operation()
def folder_removed(path: str, entries: list[str]):
    """
    Remove what the deploy made in a folder, then the folder if nothing else is left:
    what someone else put there stays, and so does the folder holding it.

    + path: the folder
    + entries: the names the deploy makes in it (their staging files go too)

    **Example:**

    .. code:: python

        managed.folder_removed(path="/srv/blog", entries=["releases", "venvs", "current"])
    """
    yield from folder_removal_commands(path, entries)


def folder_removal_commands(path: str, entries: list[str]):
    """folder_removed's commands, for an operation that removes a folder among other changes."""
    _check_path(path)
    present = host.get_fact(FolderEntries, path=path)
    if present is None:
        host.noop(f"{path} is absent")
        return
    ours = [name for name in present if name in entries or _staging_of(name) in entries]
    others = [name for name in present if name not in ours]
    if not ours and others:
        host.noop(f"{path} holds only what the deploy did not make: {', '.join(others)}")
        return
    if ours:
        yield StringCommand("rm", "-rf", "--", *(QuoteString(f"{path}/{name}") for name in ours))
    if others:
        logger.warning(f"{host.name}: {path} is kept for what the deploy did not make: {', '.join(others)}")
        return
    yield StringCommand("rmdir", QuoteString(path))


def _staging_of(name: str) -> str | None:
    """The file a staging file (".<name>.apache-wsgi-deploy-new") is written for."""
    if name.startswith(".") and name.endswith(STAGING_SUFFIX):
        return name[1 : -len(STAGING_SUFFIX)]
    return None

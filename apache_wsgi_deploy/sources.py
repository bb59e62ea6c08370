"""
What the control machine reads to deploy a site: the release its code makes (a folder's
digest or a git ref's commit), the pinned requirements of that code, the app's
environment values and secrets, and the certificate files it uploads. Deploy units ask
here and hand plain values to operations; nothing here touches a host.
"""

from __future__ import annotations

import datetime
import fcntl
import functools
import hashlib
import os
import re
import subprocess
import time
import tomllib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import AuthorityInformationAccessOID
from pyinfra.api.exceptions import DeployError

from apache_wsgi_deploy import project, validators
from apache_wsgi_deploy.operations.managed import excluded, local_tree
from apache_wsgi_deploy.operations.python import PIN

COMMIT = re.compile(r"^[0-9a-f]{40}$")
GIT_TIMEOUT = 60
REQUIREMENTS_FILE, PYPROJECT_FILE = "requirements.txt", "pyproject.toml"


def project_path(path: str) -> Path:
    """Settings name control-machine files relative to the project folder."""
    return project.path(path)


# Settings that name a folder of the control machine; every other one names a text file.
FOLDER_SETTINGS = ("app_source", "static_dir")


def setting_of(key: str) -> str:
    """The setting a key as messages name it stands for ("sites[1].app_env.DB": app_env)."""
    return re.sub(r"^sites\[\d+\]\.", "", key).split(".")[0]


def control_path_problem(key: str, path: str) -> str | None:
    """Why what a setting names on the control machine is not what the deploy will read
    (a folder, or a readable UTF-8 text file), or None. key: the setting as messages name
    it ("sites[1].app_env.DB")."""
    found = project_path(path)
    setting = setting_of(key)
    named = f"setting {key!r} = {path!r}"
    if not found.exists():
        return f"{named} names no file on the control machine (looked in {project.folder()})"
    if setting in FOLDER_SETTINGS:
        return None if found.is_dir() else f"{named} names a file on the control machine, not a folder"
    if found.is_dir():
        return f"{named} names a folder on the control machine, not a file"
    if not found.is_file():
        return f"{named} names neither a file nor a folder on the control machine"
    try:
        found.read_bytes().decode("utf-8")
    except OSError as error:
        return f"{named} cannot be read on the control machine ({error.strerror})"
    except UnicodeDecodeError:
        return f"{named} is not UTF-8 text (a binary file?)"
    return None


def link_problems(key: str, source: str, exclude: list[str]) -> list[str]:
    """The links of a folder source that would take into a release what is not the app's
    own: a link that leaves the folder (its target's content would be uploaded), one to an
    excluded file (.env), one to a folder (its files would not be), or a dangling one. A
    link to a file of the release is uploaded as that file."""
    root = project_path(source)
    real_root = os.path.realpath(root)
    folders, files = local_tree(root, exclude)
    problems = []
    for relative in [*folders, *files]:
        link = root / relative
        if not link.is_symlink():
            continue
        target = os.path.realpath(link)
        shown = f"setting {key!r} = {source!r}: {relative} is a link to {os.readlink(link)}"
        if os.path.commonpath([real_root, target]) != real_root:
            problems.append(f"{shown}, outside the folder: a release holds the app's own files only")
        elif not os.path.exists(target):
            problems.append(f"{shown}, which does not exist")
        elif os.path.isdir(target):
            problems.append(f"{shown}, a folder: copy the folder in, or name it in linked_dirs")
        elif excluded(os.path.relpath(target, real_root), exclude):
            problems.append(f"{shown}, which app_source_exclude leaves out of releases")
    return problems


def code_in_static(key: str, static: str) -> list[str]:
    """The Python modules a static folder holds, which Apache would serve as they are."""
    modules = sorted(path.relative_to(project_path(static)).as_posix() for path in project_path(static).rglob("*.py"))
    if not modules:
        return []
    return [
        f"setting {key!r} names {static!r}, which holds Python code ({', '.join(modules[:3])}"
        f"{', ...' if len(modules) > 3 else ''}): Apache would serve it; name a folder of static files only"
    ]


PEM_BLOCK = re.compile(r"^-----BEGIN ([A-Z0-9 ]+)-----$", re.M)


def ca_bundle_problem(key: str, path: str) -> str | None:
    """Why a CA bundle the host will trust (and any user read) is not certificates only:
    a private key in it would be published."""
    text = project_path(path).read_text()
    kinds = PEM_BLOCK.findall(text)
    others = sorted(set(kinds) - {"CERTIFICATE"})
    if others:
        return f"setting {key!r} = {path!r} holds {', '.join(others)}: a CA bundle holds certificates only"
    try:
        x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        return f"setting {key!r} = {path!r} holds no PEM certificate"
    return None


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )


@functools.cache
def git_commit(url: str, ref: str) -> str:
    """The commit a branch or tag names now. The control machine asks the repository
    (git ls-remote, no clone): the deploy names the release before the host has git."""
    if COMMIT.fullmatch(ref):
        return ref
    listed = _git("ls-remote", url, ref, f"{ref}^{{}}")
    if listed.returncode:
        raise DeployError(f"git ls-remote {url} {ref} failed: {listed.stderr.strip()}")
    refs = dict(reversed(line.split("\t", 1)) for line in listed.stdout.splitlines())
    # An annotated tag's own object first peeled to its commit ("^{}").
    for name in (f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}", f"refs/heads/{ref}", ref):
        if name in refs:
            return refs[name]
    raise DeployError(f"{url} has no branch or tag {ref!r} (a commit must be given in full, 40 hex digits)")


def _git_files(url: str, ref: str, commit: str) -> dict[str, str]:
    """The requirements files of a commit, by name, fetched once into a cache of the
    control machine (only the commit, and where the server allows it without its other files)."""
    # Requirements of git commits, read once: a commit never changes.
    cache = project.path(project.CACHE_DIR) / "git" / hashlib.sha1(url.encode()).hexdigest()[:16]
    cache.parent.mkdir(parents=True, exist_ok=True)
    # Each host's deploy is its own process: one at a time fills a cache.
    with open(f"{cache}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _cached_git_files(cache, url, ref, commit)


def _cached_git_files(cache: Path, url: str, ref: str, commit: str) -> dict[str, str]:
    if not (cache / "HEAD").exists():
        cache.mkdir(parents=True, exist_ok=True)
        _git("init", "--quiet", "--bare", str(cache))
        # A partial fetch (--filter) needs a named remote to fetch the files it skipped from.
        _git("remote", "add", "origin", url, cwd=cache)
    if _git("cat-file", "-e", f"{commit}^{{commit}}", cwd=cache).returncode:
        wanted = commit if ref == commit else ref
        fetched = _git("fetch", "--quiet", "--no-tags", "--depth=1", "--filter=blob:none", "origin", wanted, cwd=cache)
        if fetched.returncode:
            raise DeployError(f"git fetch {url} {wanted} failed: {fetched.stderr.strip()}")
    files = {}
    for name in (REQUIREMENTS_FILE, PYPROJECT_FILE):
        shown = _git("show", f"{commit}:{name}", cwd=cache)
        if shown.returncode == 0:
            files[name] = shown.stdout
    return files


def _pins(where: str, files: dict[str, str]) -> list[str]:
    """The pins of a requirements.txt, or else of a pyproject.toml's [project] dependencies."""
    if REQUIREMENTS_FILE in files:
        source = f"{where}/{REQUIREMENTS_FILE}"
        lines = [line.split("#", 1)[0].strip() for line in files[REQUIREMENTS_FILE].splitlines()]
    elif PYPROJECT_FILE in files:
        source = f"{where}/{PYPROJECT_FILE}"
        try:
            lines = tomllib.loads(files[PYPROJECT_FILE]).get("project", {}).get("dependencies", [])
        except tomllib.TOMLDecodeError as error:
            raise DeployError(f"{source} is not valid TOML: {error}") from error
    else:
        raise DeployError(f"{where}: no {REQUIREMENTS_FILE} or {PYPROJECT_FILE} to build the virtualenv from")
    pins = [line.strip() for line in lines if line.strip()]
    unpinned = [line for line in pins if not PIN.fullmatch(line)]
    if unpinned:
        raise DeployError(f"{source}: pin every requirement as name==version: {unpinned}")
    return pins


def pinned_requirements(source: Path) -> list[str]:
    """A folder's requirements, each `name==version`: what its release's virtualenv holds."""
    files = {
        name: (source / name).read_text() for name in (REQUIREMENTS_FILE, PYPROJECT_FILE) if (source / name).exists()
    }
    return _pins(str(source), files)


def git_requirements(url: str, ref: str, commit: str) -> list[str]:
    """A commit's requirements, each `name==version`, by the same rules as a folder's."""
    return _pins(f"{url}@{commit[:12]}", _git_files(url, ref, commit))


def requirements_digest(requirements: list[str]) -> str:
    """Names the virtualenv of these pins: releases with equal requirements share one,
    whichever source their code came from."""
    return hashlib.sha1("\n".join(sorted(requirements)).encode()).hexdigest()[:12]


def tree_digest(src: Path, exclude: list[str]) -> str:
    """A short digest of a local folder's paths and contents: equal folders, equal digests."""
    _, files = local_tree(src, list(exclude))
    digest = hashlib.sha1()
    for relative, local in files.items():
        digest.update(f"{relative}\0{hashlib.sha1(local.read_bytes()).hexdigest()}\n".encode())
    return digest.hexdigest()[:12]


def release_name(content: str, known: list[str]) -> str:
    """A release is named by its content (a commit, or a folder's digest): the same code is
    the same release, found again; new code gets the time it was first deployed first."""
    existing = next((name for name in known if name.endswith(f"-{content}")), None)
    return existing or f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{content}"


COMMAND_TIMEOUT = 60
# What each from_command source's program printed, run once per control-machine process: the
# runner validates before it forks, so every host's process starts with the outputs.
_command_outputs: dict[tuple[str, ...], bytes] = {}


def command_problem(key: str, command: str | list) -> str | None:
    """Run a from_command source's program now, on the control machine, in the project
    folder, without a terminal (a password manager must be unlocked already), and keep what
    it prints; or why it cannot be taken, naming the setting and never the value."""
    words = tuple(validators.command_words(command))
    if words in _command_outputs:
        return None
    named = f"setting {key!r} runs {words[0]}"
    try:
        ran = subprocess.run(
            words, cwd=project.folder(), stdin=subprocess.DEVNULL, capture_output=True, timeout=COMMAND_TIMEOUT
        )
    except FileNotFoundError:
        return f"{named}, which is not a program on the control machine (not found in PATH)"
    except PermissionError:
        return f"{named}, which the control machine cannot run (not executable)"
    except subprocess.TimeoutExpired:
        return f"{named}, which printed nothing within {COMMAND_TIMEOUT} s: is it waiting for a password?"
    said = ran.stderr.decode(errors="replace").strip().splitlines()
    said = f": {said[-1][:300]}" if said else ""
    if ran.returncode:
        return f"{named}, which failed with exit status {ran.returncode}{said}"
    if not ran.stdout.strip():
        return f"{named}, which printed nothing{said}"
    try:
        ran.stdout.decode("utf-8")
    except UnicodeDecodeError:
        return f"{named}, which printed what is not UTF-8 text (an app's values and secret files are text)"
    _command_outputs[words] = ran.stdout
    return None


def release_commit(release: str | None) -> str | None:
    """The commit a release of a git source holds, read from its name (release_name: the
    time, the content, the settings' digest); None for a folder's release."""
    content = release.split("-")[1] if release and release.count("-") >= 2 else None
    return content if content and COMMIT.fullmatch(content) else None


def readable_here(source: str | dict) -> bool:
    """Whether an app_env value or a secret file can be read on this control machine (a
    value written in the settings always can; a command's only once a deploy's validation
    ran it: a run that only reads runs no password manager)."""
    if isinstance(source, str):
        return True
    if "from_env" in source:
        return source["from_env"] in os.environ
    if "from_command" in source:
        return tuple(validators.command_words(source["from_command"])) in _command_outputs
    return project_path(source["from_file"]).is_file()


def _source_bytes(source: dict) -> bytes:
    """What a from_env, from_file or from_command source holds, read now on the control
    machine (a command's as its validation kept it)."""
    if "from_env" in source:
        return os.environ[source["from_env"]].encode()
    if "from_command" in source:
        return _command_outputs[tuple(validators.command_words(source["from_command"]))]
    return project_path(source["from_file"]).read_bytes()


def app_environment(app_env: dict) -> dict[str, str]:
    """app_env's values, read now from the control machine's environment, files and
    commands (a file's or a command's without its last line breaks)."""
    values = {}
    for name, source in app_env.items():
        if isinstance(source, str):
            values[name] = source
        else:
            text = _source_bytes(source).decode()
            values[name] = text if "from_env" in source else text.rstrip("\n")
    return values


def secret_file_contents(secret_files: dict) -> dict[str, bytes]:
    """secret_files' contents, read now from the control machine's files and environment."""
    return {name: _source_bytes(source) for name, source in secret_files.items()}


def contents_digest(files: dict[str, bytes]) -> str:
    """Names a set of files by their names and contents."""
    digest = hashlib.sha1()
    for name, content in sorted(files.items()):
        digest.update(f"{name}\0{len(content)}\0".encode() + content)
    return digest.hexdigest()[:12]


def fullchain(certificate_file: str, chain_file: str) -> str:
    """Leaf and chain in one PEM, as Apache reads them."""
    return project_path(certificate_file).read_text().rstrip("\n") + "\n" + project_path(chain_file).read_text()


def _covers(pattern: str, name: str) -> bool:
    """A certificate's DNS name covers a host name (a wildcard covers one label)."""
    if pattern.startswith("*."):
        return "." in name and name.split(".", 1)[1] == pattern[2:]
    return pattern == name


def uploaded_certificate_problems(
    certificate_file: str, chain_file: str, key_file: str, names: list[str], label: str = ""
) -> list[str]:
    """Why the certificate files a site uploads would not serve it: unreadable PEM, a key
    that is not the certificate's, a name the certificate does not cover, an expired one.
    Each problem names its setting (`label` first: "sites[1]."); Apache would otherwise
    refuse them only at a reload."""
    try:
        leaf = x509.load_pem_x509_certificate(project_path(certificate_file).read_bytes())
    except ValueError:
        return [f"setting '{label}tls_certificate_file' = {certificate_file!r} holds no PEM certificate"]
    problems = []
    try:
        x509.load_pem_x509_certificates(project_path(chain_file).read_bytes())
    except ValueError:
        problems.append(f"setting '{label}tls_chain_file' = {chain_file!r} holds no PEM certificate")
    try:
        key = serialization.load_pem_private_key(project_path(key_file).read_bytes(), password=None)
    except (ValueError, TypeError):
        problems.append(f"setting '{label}tls_key_file' = {key_file!r} holds no unencrypted PEM private key")
    else:
        if key.public_key() != leaf.public_key():
            problems.append(
                f"setting '{label}tls_key_file' = {key_file!r} is not the key of tls_certificate_file"
                f" {certificate_file!r} (Apache would refuse to start with them)"
            )
    try:
        covered = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    except x509.ExtensionNotFound:
        covered = []
    missing = [name for name in names if not any(_covers(pattern, name) for pattern in covered)]
    if missing:
        problems.append(
            f"setting '{label}tls_certificate_file' = {certificate_file!r} does not cover {', '.join(missing)}"
            f" (it names {', '.join(covered) or 'no DNS name'}): clients would refuse the connection"
        )
    if leaf.not_valid_after_utc <= datetime.datetime.now(datetime.UTC):
        problems.append(
            f"setting '{label}tls_certificate_file' = {certificate_file!r} expired on"
            f" {leaf.not_valid_after_utc:%Y-%m-%d}"
        )
    return problems


def names_ocsp_responder(certificate_file: str) -> bool:
    """Whether a certificate on the control machine names an OCSP responder."""
    leaf = x509.load_pem_x509_certificate(project_path(certificate_file).read_bytes())
    try:
        access = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return False
    return any(item.access_method == AuthorityInformationAccessOID.OCSP for item in access)

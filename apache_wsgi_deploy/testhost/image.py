"""
The test hosts' images: Debian 13 (trixie, the default) or 12 (bookworm) from
debootstrap (no registry is reachable), with systemd, sshd, sudo and python3, imported
into podman.

Each suite has its own image repository (localhost/awd-testhost-<suite>); the tag is a
hash of the suite, this recipe, the mirror and the control machine's extra CA
certificates, so an image is rebuilt only when one of them changes. Images are labelled
with the project folder (a checkout of this repository, or a team's) that built them: a
build removes only its own older images, never another's.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from apache_wsgi_deploy import project
from apache_wsgi_deploy.testhost.podman import podman

# Debian's codename -> its version, newest first.
SUITES = {"trixie": "13", "bookworm": "12"}
# What a fresh server is today; AWD_TESTHOST_SUITE picks another (e.g. for CI's second pass).
DEFAULT_SUITE = os.environ.get("AWD_TESTHOST_SUITE") or "trixie"
# Which project folder built an image: the only one that may remove it.
BUILDER_LABEL = "awd.builder"
PACKAGES = ["systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "sudo", "ca-certificates"]
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")
SSH_USER = "deploy"
# Fixed, so testhost.fleet can hand the user files it owns before the first boot.
SSH_UID = 1000
# Units a container has no use for: they only slow the boot down or fail.
MASKED_UNITS = ["getty.target", "console-getty.service", "systemd-logind.service"]


def _apt_source_uris() -> list[str]:
    uris = []
    for source in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
        if source.is_file():
            text = source.read_text(errors="replace")
            uris += re.findall(r"^URIs:\s*(\S+)", text, re.M)
            uris += re.findall(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.M)
    return uris


def debian_mirrors() -> tuple[str, str]:
    """The Debian archive and security mirrors this machine's apt uses."""
    uris = _apt_source_uris()
    archive = next((uri for uri in uris if uri.rstrip("/").endswith("/debian")), "http://deb.debian.org/debian")
    security = next(
        (uri for uri in uris if uri.rstrip("/").endswith("/debian-security")), "http://deb.debian.org/debian-security"
    )
    return archive.rstrip("/"), security.rstrip("/")


def extra_ca_certificates() -> list[Path]:
    return sorted(EXTRA_CA_DIR.glob("*.crt"))


def checkout_id() -> str:
    """This project folder (a checkout of this repository, or a team's), as the builder
    label of the images it builds."""
    return hashlib.sha256(str(project.folder().resolve()).encode()).hexdigest()[:12]


def image_tag(suite: str) -> str:
    digest = hashlib.sha256(suite.encode())
    # A day's build at most, as a server gets its updates: the verification suite's host
    # baseline fails on a pending security update, which an image kept for weeks would have.
    digest.update(datetime.datetime.now(datetime.UTC).date().isoformat().encode())
    digest.update(Path(__file__).read_bytes())
    digest.update(repr(debian_mirrors()).encode())
    for certificate in extra_ca_certificates():
        digest.update(certificate.read_bytes())
    return f"localhost/awd-testhost-{suite}:{digest.hexdigest()[:12]}"


def _chroot(rootfs: Path, *command: str) -> None:
    subprocess.run(["chroot", str(rootfs), *command], check=True, capture_output=True)


def _configure(rootfs: Path, suite: str, archive: str, security: str) -> None:
    """Make the bare system a fresh cloud server: SSH as a sudoer, root login refused."""
    (rootfs / "etc/apt/sources.list").write_text(
        f"deb {archive} {suite} main\ndeb {archive} {suite}-updates main\ndeb {security} {suite}-security main\n"
    )
    _chroot(rootfs, "useradd", "--create-home", "--shell", "/bin/bash", "--uid", str(SSH_UID), "--user-group", SSH_USER)
    sudoers = rootfs / "etc/sudoers.d" / SSH_USER
    sudoers.write_text(f"{SSH_USER} ALL=(ALL) NOPASSWD:ALL\n")
    sudoers.chmod(0o440)
    (rootfs / "etc/ssh/sshd_config.d/testhost.conf").write_text("PermitRootLogin no\nPasswordAuthentication no\n")
    # Each container gets its own host key (testhost.fleet): none in the image.
    for host_key in (rootfs / "etc/ssh").glob("ssh_host_*"):
        host_key.unlink()
    # Trust what the control machine trusts, as a server behind a corporate proxy does;
    # pip uses its own CA bundle unless told to use the system's.
    for certificate in extra_ca_certificates():
        shutil.copy(certificate, rootfs / "usr/local/share/ca-certificates" / certificate.name)
    _chroot(rootfs, "update-ca-certificates")
    (rootfs / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
    for unit in MASKED_UNITS:
        (rootfs / "etc/systemd/system" / unit).symlink_to("/dev/null")
    # debootstrap installs the release as it shipped; a cloud image comes with updates
    # (an old libssl3 under a newer mod_ssl makes Apache warn on every start).
    _chroot(rootfs, "apt-get", "update", "-qq")
    _chroot(rootfs, "apt-get", "-qq", "-y", "dist-upgrade")
    _chroot(rootfs, "apt-get", "clean")
    shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)


def build_image(work_dir: Path, suite: str) -> str:
    """Return the suite's current image tag, building it first if podman does not have it."""
    if suite not in SUITES:
        raise ValueError(f"testhost: unknown suite {suite!r}: one of {', '.join(SUITES)}")
    tag = image_tag(suite)
    work_dir = work_dir / suite
    work_dir.mkdir(parents=True, exist_ok=True)
    # Two up() at once (a deploy while tests run) must not debootstrap into one rootfs.
    with (work_dir / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if podman("image", "exists", tag, check=False).returncode != 0:
            _build(work_dir, suite, tag)
    return tag


def _build(work_dir: Path, suite: str, tag: str) -> None:
    archive, security = debian_mirrors()
    rootfs, tarball, log = work_dir / "rootfs", work_dir / "rootfs.tar", work_dir / "debootstrap.log"
    shutil.rmtree(rootfs, ignore_errors=True)
    print(f"testhost: building {tag} with debootstrap from {archive} (about a minute)", flush=True)
    with log.open("w") as log_file:
        bootstrap = subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", suite, str(rootfs), archive],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    if bootstrap.returncode != 0:
        raise RuntimeError(f"debootstrap failed, see {log}:\n" + "".join(log.read_text().splitlines(True)[-15:]))
    _configure(rootfs, suite, archive, security)
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
    changes = ['CMD ["/sbin/init"]', "STOPSIGNAL SIGRTMIN+3", f"LABEL {BUILDER_LABEL}={checkout_id()}"]
    podman("import", *[arg for change in changes for arg in ("--change", change)], str(tarball), tag)
    shutil.rmtree(rootfs)
    tarball.unlink()
    _remove_older_images(tag)


def _remove_older_images(tag: str) -> None:
    """Older builds of this suite by this project folder take 200 MB each; podman keeps any a
    container still uses."""
    repository = tag.rsplit(":", 1)[0]
    listing = podman(
        "images", "--filter", f"label={BUILDER_LABEL}={checkout_id()}", "--format", "{{.Repository}}:{{.Tag}}"
    )
    for older in {image for image in listing.stdout.decode().split() if image.startswith(f"{repository}:")} - {tag}:
        podman("rmi", older, check=False)

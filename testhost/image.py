"""
The test hosts' image: Debian bookworm from debootstrap (no registry is reachable),
with systemd, sshd, sudo and python3, imported into podman.

The tag is a hash of this recipe, the mirror and the control machine's extra CA
certificates, so the image is rebuilt only when one of them changes.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import shutil
import subprocess
from pathlib import Path

from testhost.podman import podman

SUITE = "bookworm"
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


def image_tag() -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(repr(debian_mirrors()).encode())
    for certificate in extra_ca_certificates():
        digest.update(certificate.read_bytes())
    return f"localhost/awd-testhost:{digest.hexdigest()[:12]}"


def _chroot(rootfs: Path, *command: str) -> None:
    subprocess.run(["chroot", str(rootfs), *command], check=True, capture_output=True)


def _configure(rootfs: Path, archive: str, security: str) -> None:
    """Make the bare system a fresh cloud server: SSH as a sudoer, root login refused."""
    (rootfs / "etc/apt/sources.list").write_text(
        f"deb {archive} {SUITE} main\ndeb {archive} {SUITE}-updates main\ndeb {security} {SUITE}-security main\n"
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


def build_image(work_dir: Path) -> str:
    """Return the current image's tag, building it first if podman does not have it."""
    tag = image_tag()
    work_dir.mkdir(parents=True, exist_ok=True)
    # Two up() at once (a deploy while tests run) must not debootstrap into one rootfs.
    with (work_dir / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if podman("image", "exists", tag, check=False).returncode != 0:
            _build(work_dir, tag)
    return tag


def _build(work_dir: Path, tag: str) -> None:
    archive, security = debian_mirrors()
    rootfs, tarball, log = work_dir / "rootfs", work_dir / "rootfs.tar", work_dir / "debootstrap.log"
    shutil.rmtree(rootfs, ignore_errors=True)
    print(f"testhost: building {tag} with debootstrap from {archive} (about a minute)", flush=True)
    with log.open("w") as log_file:
        bootstrap = subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs), archive],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    if bootstrap.returncode != 0:
        raise RuntimeError(f"debootstrap failed, see {log}:\n" + "".join(log.read_text().splitlines(True)[-15:]))
    _configure(rootfs, archive, security)
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
    podman("import", "--change", 'CMD ["/sbin/init"]', "--change", "STOPSIGNAL SIGRTMIN+3", str(tarball), tag)
    shutil.rmtree(rootfs)
    tarball.unlink()
    _remove_older_images(tag)


def _remove_older_images(tag: str) -> None:
    """Older builds take 200 MB each; podman keeps any a container still uses."""
    repository = tag.rsplit(":", 1)[0]
    listing = podman("images", "--format", "{{.Repository}}:{{.Tag}}", repository).stdout.decode().split()
    for older in set(listing) - {tag}:
        podman("rmi", older, check=False)

"""
Fleets of test hosts: podman containers named <fleet>-<n>, booting systemd and sshd,
with ports 22, 80 and 443 published on free loopback ports.

up() is idempotent: a running container from the suite's current image, given this
project folder's keys, is kept; any other container of the same name this project folder made
(exited, half-created, older image, another suite) is replaced. A container of that name
made by anything else (another checkout or project sharing podman) is never touched: up() stops and
says so. It writes what pyinfra, testinfra and ssh need: an ssh config, a known_hosts
with each container's own host key, and hosts.json, which load() reads without touching
podman.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shlex
import subprocess
import tarfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from apache_wsgi_deploy import project
from apache_wsgi_deploy.testhost import pki
from apache_wsgi_deploy.testhost.image import (
    BUILDER_LABEL,
    DEFAULT_SUITE,
    SSH_UID,
    SSH_USER,
    SUITES,
    build_image,
    checkout_id,
)
from apache_wsgi_deploy.testhost.podman import podman

# In the project folder the command runs in (read once, when imported).
STATE = project.path(project.TESTHOSTS_DIR)
CLIENT_KEY = STATE / "id_ed25519"
DOMAIN = "awd.test"
# The fleet ./run.sh deploy starts and inventory.py targets when it lists no host;
# AWD_TESTHOST_FLEET names another ("" in inventory.py: none).
DEFAULT_FLEET = os.environ.get("AWD_TESTHOST_FLEET") or "awd-test"
PORTS = (22, 80, 443)
BOOT_DEADLINE = 120
# Root on a server has them all; podman drops CAP_SYS_PTRACE, which root needs to read
# /proc/<pid>/cwd of another user's process (the verification suite: which release a
# mod_wsgi daemon loaded).
CAPABILITIES = ("SYS_PTRACE",)
SSH_DEADLINE = 30


@dataclass(frozen=True)
class TestHost:
    alias: str
    server_name: str
    ssh_user: str
    ssh_port: int
    http_port: int
    https_port: int
    ssh_config: str
    known_hosts: str
    cert_dir: str
    # The container's own address on podman's bridge, where the control machine reaches
    # its port 80 directly (an ACME CA's validation does).
    address: str = ""
    # Debian's codename of the host's system.
    suite: str = ""
    # Settings this fleet's hosts override (e.g. another certificate source).
    data: dict = field(default_factory=dict)

    def run_as_root(self, command: str, check: bool = True) -> subprocess.CompletedProcess:
        """A shell command run as root on the host, the way an operator with sudo would."""
        return subprocess.run(
            # ssh hands the remote shell one string: the command must be quoted in it.
            ["ssh", "-F", self.ssh_config, self.alias, f"sudo sh -c {shlex.quote(command)}"],
            capture_output=True,
            text=True,
            check=check,
        )

    def inventory_entry(self) -> tuple[str, dict]:
        """This host as pyinfra inventory (host, data): how to reach it and what it serves."""
        return (
            self.alias,
            {
                "ssh_config_file": self.ssh_config,
                "ssh_known_hosts_file": self.known_hosts,
                "ssh_strict_host_key_checking": "yes",
                "_sudo": True,
                "server_name": self.server_name,
                # The test CA's certificate: a test host is deployable with no ACME CA running.
                "tls_certificate_source": "files",
                "tls_certificate_file": f"{self.cert_dir}/cert.pem",
                "tls_chain_file": f"{self.cert_dir}/chain.pem",
                "tls_key_file": f"{self.cert_dir}/privkey.pem",
                "verify_address": "127.0.0.1",
                "verify_http_port": self.http_port,
                "verify_https_port": self.https_port,
                "verify_ca_bundle": str(ca_bundle()),
                **self.data,
            },
        )


def ca_bundle() -> Path:
    """The test CA's root: what clients of the test hosts must trust."""
    return pki.ensure_ca(STATE)


def _fleet_dir(fleet: str) -> Path:
    return STATE / fleet


def _ensure_client_key() -> None:
    STATE.mkdir(parents=True, exist_ok=True)
    # Fleets coming up at once (test passes, pytest-xdist's workers) must make one key.
    with (STATE / "id_ed25519.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not CLIENT_KEY.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "testhost", "-f", str(CLIENT_KEY)], check=True
            )


def _host_key(fleet: str, alias: str) -> Path:
    key = _fleet_dir(fleet) / alias / "ssh_host_ed25519_key"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", alias, "-f", str(key)], check=True)
    return key


def _public(key: Path) -> Path:
    return key.with_name(key.name + ".pub")


def _keys_fingerprint(fleet: str, alias: str) -> str:
    """Which host key, client key and capabilities a container was made with: one of ours
    made before .testhosts was renewed, or with other capabilities, is replaced."""
    digest = hashlib.sha256(_public(_host_key(fleet, alias)).read_bytes())
    digest.update(_public(CLIENT_KEY).read_bytes())
    digest.update(repr(CAPABILITIES).encode())
    return digest.hexdigest()[:16]


def _container_state(alias: str) -> tuple[str, ...] | None:
    """(status, image, keys fingerprint) of a container, None when there is none of that
    name; raises when there is one this project folder did not make."""
    inspect = podman(
        "inspect",
        "--type",
        "container",
        "--format",
        f'{{{{index .Config.Labels "{BUILDER_LABEL}"}}}} {{{{.State.Status}}}} {{{{.ImageName}}}} '
        '{{index .Config.Labels "awd.keys"}}',
        alias,
        check=False,
    )
    if inspect.returncode != 0:
        return None
    builder, *state = inspect.stdout.decode().split()
    if builder != checkout_id():
        raise RuntimeError(
            f"testhost: a container named {alias} exists that this project folder did not make "
            f"({BUILDER_LABEL}={builder}); left alone: pick another fleet name (--fleet, AWD_E2E_FLEET) "
            f"or remove it with podman if nothing uses it"
        )
    return tuple(state)


def _boot_files(fleet: str, alias: str) -> bytes:
    """A tar of the container's host key and the deploy user's authorized_keys, with the
    owners and modes sshd's StrictModes wants, to unpack before the first boot."""
    key = _host_key(fleet, alias)
    entries = [
        ("etc/ssh/ssh_host_ed25519_key", key.read_bytes(), 0o600, 0),
        ("etc/ssh/ssh_host_ed25519_key.pub", _public(key).read_bytes(), 0o644, 0),
        (f"home/{SSH_USER}/.ssh", None, 0o700, SSH_UID),
        (f"home/{SSH_USER}/.ssh/authorized_keys", _public(CLIENT_KEY).read_bytes(), 0o600, SSH_UID),
    ]
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name, content, mode, owner in entries:
            info = tarfile.TarInfo(name)
            info.mode, info.uid, info.gid = mode, owner, owner
            if content is None:
                info.type = tarfile.DIRTYPE
            else:
                info.size = len(content)
            tar.addfile(info, None if content is None else io.BytesIO(content))
    return archive.getvalue()


def _create(fleet: str, alias: str, tag: str) -> None:
    podman("rm", "--force", "--time", "0", alias, check=False)
    publish = [arg for port in PORTS for arg in ("--publish", f"127.0.0.1::{port}")]
    podman(
        "create",
        "--name",
        alias,
        "--hostname",
        alias,
        "--label",
        f"awd.fleet={fleet}",
        "--label",
        f"{BUILDER_LABEL}={checkout_id()}",
        "--label",
        f"awd.keys={_keys_fingerprint(fleet, alias)}",
        "--systemd=always",
        *[f"--cap-add={capability}" for capability in CAPABILITIES],
        *publish,
        tag,
    )
    # Before the first boot, so sshd starts with its own key and knows ours; --archive=false
    # keeps the tar's owners instead of making everything root's.
    podman("cp", "--archive=false", "-", f"{alias}:/", stdin=_boot_files(fleet, alias))
    podman("start", alias)


def _published_ports(alias: str) -> dict[int, int]:
    """Container port -> loopback port, from lines like '22/tcp -> 127.0.0.1:46423'."""
    ports = {}
    for line in podman("port", alias).stdout.decode().splitlines():
        inside, _, outside = line.partition(" -> ")
        ports[int(inside.split("/")[0])] = int(outside.rsplit(":", 1)[1])
    return ports


def _wait_until_booted(alias: str) -> None:
    """Poll systemd until the boot is over; right after start its bus may not exist yet,
    and systemctl then fails at once instead of waiting."""
    deadline = time.monotonic() + BOOT_DEADLINE
    while True:
        remaining = int(deadline - time.monotonic())
        boot = podman(
            "exec", alias, "timeout", str(max(remaining, 1)), "systemctl", "is-system-running", "--wait", check=False
        )
        state = boot.stdout.decode().strip() or boot.stderr.decode().strip()
        if state in ("running", "degraded"):
            return
        if remaining <= 0:
            raise RuntimeError(f"testhost: {alias} did not boot within {BOOT_DEADLINE} s (systemd says {state!r})")
        time.sleep(0.1)


def _wait_for_ssh(test_host: TestHost) -> None:
    deadline = time.monotonic() + SSH_DEADLINE
    while True:
        attempt = subprocess.run(
            ["ssh", "-F", test_host.ssh_config, "-o", "BatchMode=yes", test_host.alias, "true"],
            capture_output=True,
            text=True,
        )
        if attempt.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"testhost: no SSH to {test_host.alias} within {SSH_DEADLINE} s: {attempt.stderr}")
        time.sleep(0.2)


def _write_access_files(fleet: str, hosts: list[TestHost]) -> None:
    folder = _fleet_dir(fleet)
    ssh_config = "".join(
        f"Host {host.alias}\n    HostName 127.0.0.1\n    Port {host.ssh_port}\n    User {host.ssh_user}\n"
        f"    IdentityFile {CLIENT_KEY}\n    IdentitiesOnly yes\n    UserKnownHostsFile {host.known_hosts}\n"
        f"    StrictHostKeyChecking yes\n    ConnectTimeout 10\n\n"
        for host in hosts
    )
    known_hosts = "".join(
        f"[127.0.0.1]:{host.ssh_port} {_public(_host_key(fleet, host.alias)).read_text()}" for host in hosts
    )
    (folder / "ssh_config").write_text(ssh_config)
    (folder / "known_hosts").write_text(known_hosts)
    (folder / "hosts.json").write_text(json.dumps([asdict(host) for host in hosts], indent=2))


def _fleet_containers(fleet: str) -> list[str]:
    """The fleet's containers this project folder made."""
    listing = podman(
        "ps",
        "--all",
        "--filter",
        f"label=awd.fleet={fleet}",
        "--filter",
        f"label={BUILDER_LABEL}={checkout_id()}",
        "--format",
        "{{.Names}}",
    )
    return listing.stdout.decode().split()


def _bridge_address(alias: str) -> str:
    inspect = podman("inspect", "--type", "container", "--format", "{{.NetworkSettings.IPAddress}}", alias)
    return inspect.stdout.decode().strip()


def up(
    fleet: str = DEFAULT_FLEET, count: int = 1, data: dict | None = None, suite: str = DEFAULT_SUITE
) -> list[TestHost]:
    """Start (or keep) the fleet's containers 1..count, Debian `suite`, and remove any
    beyond; return them. data: settings every host of the fleet overrides in its
    inventory entry."""
    _ensure_client_key()
    tag = build_image(STATE / "image", suite)
    folder = _fleet_dir(fleet)
    folder.mkdir(parents=True, exist_ok=True)
    aliases = [f"{fleet}-{number}" for number in range(1, count + 1)]
    for extra in set(_fleet_containers(fleet)) - set(aliases):
        podman("rm", "--force", "--time", "0", extra)

    hosts = []
    for alias in aliases:
        if _container_state(alias) != ("running", tag, _keys_fingerprint(fleet, alias)):
            _create(fleet, alias, tag)
        ports = _published_ports(alias)
        server_name = f"{alias}.{DOMAIN}"
        hosts.append(
            TestHost(
                alias=alias,
                server_name=server_name,
                ssh_user=SSH_USER,
                ssh_port=ports[22],
                http_port=ports[80],
                https_port=ports[443],
                ssh_config=str(folder / "ssh_config"),
                known_hosts=str(folder / "known_hosts"),
                cert_dir=str(pki.issue_certificate(STATE, [server_name])),
                address=_bridge_address(alias),
                suite=suite,
                data=dict(data or {}),
            )
        )
    _write_access_files(fleet, hosts)
    for test_host in hosts:
        _wait_until_booted(test_host.alias)
        _wait_for_ssh(test_host)
    return hosts


def container_status(alias: str) -> str:
    """podman's status of a test host's container ("running", "exited"...), or "absent"."""
    state = _container_state(alias)
    return state[0] if state else "absent"


def down(fleet: str = DEFAULT_FLEET) -> None:
    """Remove the fleet's containers; no error when there are none."""
    for alias in _fleet_containers(fleet):
        podman("rm", "--force", "--time", "0", alias)
    (_fleet_dir(fleet) / "hosts.json").unlink(missing_ok=True)


def load(fleet: str = DEFAULT_FLEET) -> list[TestHost]:
    """The fleet as the last up() left it, without asking podman; [] when never started."""
    hosts_file = _fleet_dir(fleet) / "hosts.json"
    if not hosts_file.exists():
        return []
    return [TestHost(**host) for host in json.loads(hosts_file.read_text())]


def print_status(hosts) -> None:
    if not hosts:
        print("testhost: no test host is up")
        return
    for host in hosts:
        state = container_status(host.alias)
        system = f"Debian {SUITES.get(host.suite, '?')} {host.suite}, " if host.suite else ""
        print(
            f"{host.alias} ({system}{state}): https://{host.server_name}/ on loopback ports "
            f"ssh {host.ssh_port}, http {host.http_port}, https {host.https_port}\n"
            f"  ssh -F {host.ssh_config} {host.alias}\n"
            f"  curl --cacert {ca_bundle()} --resolve {host.server_name}:{host.https_port}:127.0.0.1 "
            f"https://{host.server_name}:{host.https_port}/"
        )

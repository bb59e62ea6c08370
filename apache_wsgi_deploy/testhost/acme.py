"""
A local ACME CA for the test hosts: Pebble and pebble-challtestsrv (Debian's `pebble`
package) on the control machine.

challtestsrv is Pebble's DNS server and answers the test server names with the test
hosts' bridge addresses, so Pebble validates http-01 by fetching the challenge from the
test host's own port 80, as Let's Encrypt does; nothing is "always valid". The test hosts
reach Pebble's ACME API on the bridge's gateway, over TLS from the test CA.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from apache_wsgi_deploy.testhost import pki
from apache_wsgi_deploy.testhost.fleet import STATE, ca_bundle
from apache_wsgi_deploy.testhost.podman import podman

READY_DEADLINE = 30


def bridge_gateway() -> str:
    """The control machine's address on podman's default network, as containers see it."""
    inspect = podman("network", "inspect", "podman", "--format", "{{range .Subnets}}{{.Gateway}}{{end}}")
    return inspect.stdout.decode().strip()


def _free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def _wait_until_listening(address: str, port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_DEADLINE
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"acme: {process.args[0]} exited ({process.returncode}): {log.read_text()[-2000:]}")
        try:
            socket.create_connection((address, port), timeout=1).close()
            return
        except OSError as error:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"acme: {process.args[0]} not listening on {address}:{port} in {READY_DEADLINE} s"
                ) from error
            time.sleep(0.1)


@dataclass
class AcmeServer:
    """A running Pebble: its directory URL for the test hosts, and what clients must trust."""

    folder: Path
    gateway: str = field(default_factory=bridge_gateway)
    processes: list[subprocess.Popen] = field(default_factory=list)

    def __post_init__(self):
        # Free on every address: the bridge holding the gateway may not exist yet (podman
        # makes it when the first container starts), and Pebble only binds it at start().
        self.acme_port = _free_port("0.0.0.0")
        self.management_port = _free_port("127.0.0.1")
        self.dns_port = _free_port("127.0.0.1")
        self.dns_management_port = _free_port("127.0.0.1")

    @property
    def directory_url(self) -> str:
        return f"https://{self.gateway}:{self.acme_port}/dir"

    @property
    def api_ca_bundle(self) -> Path:
        """The test CA's root, which signed Pebble's API certificate: what certbot trusts."""
        return ca_bundle()

    def host_data(self) -> dict:
        """Settings of a test host whose certificate comes from this Pebble."""
        return {
            "tls_certificate_source": "acme",
            "tls_certificate_file": None,
            "tls_chain_file": None,
            "tls_key_file": None,
            "acme_agree_tos": True,
            "acme_directory_url": self.directory_url,
            "acme_ca_bundle": str(self.api_ca_bundle),
            # What Pebble's certificates chain to: the probes trust nothing else.
            "verify_ca_bundle": str(self.roots_file),
        }

    @property
    def roots_file(self) -> Path:
        """Pebble's root, which every certificate it issues chains to (new at each start)."""
        return self.folder / "pebble-roots.pem"

    def _spawn(self, name: str, command: list[str], env: dict | None = None) -> tuple[subprocess.Popen, Path]:
        log = self.folder / f"{name}.log"
        process = subprocess.Popen(
            command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        self.processes.append(process)
        return process, log

    def start(self) -> AcmeServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        # Answers only the names a test points at a host: nothing resolves by default.
        dns, dns_log = self._spawn(
            "challtestsrv",
            [
                "pebble-challtestsrv",
                "-management",
                f"127.0.0.1:{self.dns_management_port}",
                "-dns01",
                f"127.0.0.1:{self.dns_port}",
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-defaultIPv4",
                "",
                "-defaultIPv6",
                "",
            ],
        )
        _wait_until_listening("127.0.0.1", self.dns_management_port, dns, dns_log)
        api_certificate = pki.issue_certificate(STATE, ["pebble.awd.test"], [self.gateway, "127.0.0.1"])
        config = self.folder / "pebble-config.json"
        config.write_text(
            json.dumps(
                {
                    "pebble": {
                        "listenAddress": f"{self.gateway}:{self.acme_port}",
                        "managementListenAddress": f"127.0.0.1:{self.management_port}",
                        "certificate": str(api_certificate / "fullchain.pem"),
                        "privateKey": str(api_certificate / "privkey.pem"),
                        # Where Pebble validates challenges: the test hosts' own ports.
                        "httpPort": 80,
                        "tlsPort": 443,
                        "ocspResponderURL": "",
                        # Let's Encrypt's 90 days, not Pebble's 5 years: the TLS scan holds
                        # certificates to Mozilla's 366-day maximum.
                        "certificateValidityPeriod": 90 * 24 * 3600,
                        "externalAccountBindingRequired": False,
                    }
                }
            )
        )
        pebble, pebble_log = self._spawn(
            "pebble",
            ["pebble", "-config", str(config), "-dnsserver", f"127.0.0.1:{self.dns_port}"],
            # No random validation delays and no random nonce rejections: the tests are
            # about our deploy, not about certbot's retries.
            env={"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"},
        )
        _wait_until_listening(self.gateway, self.acme_port, pebble, pebble_log)
        _wait_until_listening("127.0.0.1", self.management_port, pebble, pebble_log)
        roots = requests.get(
            f"https://127.0.0.1:{self.management_port}/roots/0", verify=str(self.api_ca_bundle), timeout=10
        )
        roots.raise_for_status()
        self.roots_file.write_text(roots.text)
        return self

    def requests_served(self) -> int:
        """How many ACME requests Pebble has answered (it logs each one)."""
        log = self.folder / "pebble.log"
        return log.read_text().count("-> calling handler()") if log.exists() else 0

    def point(self, name: str, address: str) -> None:
        """Make Pebble's DNS answer name with address."""
        answer = requests.post(
            f"http://127.0.0.1:{self.dns_management_port}/add-a",
            json={"host": name, "addresses": [address]},
            timeout=10,
        )
        answer.raise_for_status()

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

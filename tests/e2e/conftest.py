"""
End-to-end tests on a local test host: create, converge, idempotence, verify, destroy.

The fleet is recreated at the start of the session (a first deploy must meet a fresh
server) and removed at the end unless AWD_KEEP_TESTHOSTS is set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from apache_wsgi_deploy import schema, testhost, verify
from apache_wsgi_deploy.outcome import short_name
from apache_wsgi_deploy.settings import Settings
from apache_wsgi_deploy.testhost.image import DEFAULT_SUITE
from tests import CHECKOUT

# Where the sample app's site (group_data's defaults) lives on a test host.
SAMPLE = Settings.from_data("sample", {**schema.defaults(), "acme_agree_tos": True}).sites[0].paths
# Runs at once (the Debian 12 and 13 passes, each pytest-xdist worker, two checkouts) each
# need fleets of their own: every fleet a test makes is named after this one.
FLEET = "-".join(
    filter(None, (os.environ.get("AWD_E2E_FLEET") or f"awd-e2e-{DEFAULT_SUITE}", os.environ.get("PYTEST_XDIST_WORKER")))
)
VENV_BIN = Path(sys.executable).parent


@dataclass
class DeployResult:
    returncode: int
    output: dict | None
    stderr: str
    seconds: float

    def operations(self, outcome: str) -> list[str]:
        """Operations with a host in outcome (success, no_change, error), without the unit's prefix."""
        operations = self.output["results"]["operations"]
        return [short_name(op["name"]).split(" | ", 1)[-1] for op in operations if op[outcome]]

    @property
    def last_operation(self) -> str:
        """pyinfra's text from the last operation it started (a failed one: its name first)."""
        return short_name(self.stderr.split("--> Starting operation: ")[-1])

    @property
    def changed(self) -> list[str]:
        return self.operations("success")


class Fleet:
    """A running fleet of test hosts, and how to deploy to, verify and break them."""

    def __init__(self, name: str, hosts: list):
        self.name = name
        self.hosts = hosts
        self.env = {**os.environ, "AWD_TESTHOST_FLEET": name}

    def deploy(self, *args: str, inventory: str = "inventory.py", env: dict | None = None) -> DeployResult:
        """pyinfra's run, with `env` added to the control machine's environment."""
        started = time.monotonic()
        process = subprocess.run(
            [str(VENV_BIN / "pyinfra"), "-y", "--json", inventory, "deploy.py", *args],
            cwd=CHECKOUT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
        )
        seconds = time.monotonic() - started
        try:
            output = json.loads(process.stdout)
        except json.JSONDecodeError:
            output = None
        return DeployResult(process.returncode, output, process.stderr, seconds)

    def awd(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        """An awd command against this fleet, with `env` added to the control machine's environment."""
        command = [str(VENV_BIN / "awd"), *args]
        return subprocess.run(command, cwd=CHECKOUT, env={**self.env, **(env or {})}, capture_output=True, text=True)

    def verify(self, *args: str) -> subprocess.CompletedProcess:
        """The verification suite, as a user runs it, against this fleet."""
        return subprocess.run(
            [*verify.PYTEST, "--rootdir", ".", str(verify.CHECKS), *args],
            cwd=CHECKOUT,
            env=self.env,
            capture_output=True,
            text=True,
        )

    def sudo(self, command: str, host_index: int = 0) -> subprocess.CompletedProcess:
        """Run a command as root on a test host, the way an operator with sudo would."""
        return self.hosts[host_index].run_as_root(command)


def fleet_name(purpose: str) -> str:
    """The name of a fleet a test module makes for itself, this run's own."""
    return f"{FLEET}-{purpose}"


@pytest.fixture(scope="session")
def fleet():
    testhost.down(FLEET)
    hosts = testhost.up(FLEET, count=1)
    yield Fleet(FLEET, hosts)
    if not os.environ.get("AWD_KEEP_TESTHOSTS"):
        testhost.down(FLEET)


@pytest.fixture(scope="session")
def first_deploy(fleet):
    return fleet.deploy()


@pytest.fixture
def deployed(fleet, first_deploy):
    """The fleet after its first deploy; tests that break it leave it converged."""
    assert first_deploy.returncode == 0, first_deploy.stderr[-4000:]
    return fleet


@dataclass
class LoadLoop:
    """Clients sending requests back to back, each in a thread, while a `with` block runs,
    counting those that fail (an exception or a status other than expected); bounded in
    count and time."""

    send: callable
    expected_status: int = 200
    clients: int = 1
    max_requests: int = 5000
    max_seconds: float = 90
    sent: int = 0
    failures: list[str] = field(default_factory=list)

    def _run(self, stop: threading.Event) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                if self.sent >= self.max_requests:
                    return
                self.sent += 1
            try:
                status = self.send().status_code
            except Exception as error:  # a refused or reset connection is what we count
                self.failures.append(repr(error))
                continue
            if status != self.expected_status:
                self.failures.append(f"HTTP {status}")

    def __enter__(self) -> LoadLoop:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(self._stop,), daemon=True) for _ in range(self.clients)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

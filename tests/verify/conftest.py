"""
The verification suite: checks every host of a pyinfra inventory, reading the hosts and
the expected values from the same inventory and group_data the deploy uses.

    pytest tests/verify                                # the project's inventory.py
    pytest tests/verify --inventory=production.py      # any other inventory file

Each check runs once per host; test ids end with [<host name>].
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import testinfra
from pyinfra.api import State
from pyinfra.context import ctx_state
from pyinfra_cli.inventory import make_inventory

from apache_wsgi_deploy.probe import Probe
from apache_wsgi_deploy.settings import Settings

PROJECT = Path(__file__).resolve().parents[2]


def pytest_addoption(parser):
    parser.addoption(
        "--inventory",
        default=os.environ.get("AWD_INVENTORY", str(PROJECT / "inventory.py")),
        help="pyinfra inventory file whose hosts are verified (default: the project's inventory.py)",
    )


class Target:
    """One inventory host: its settings, a testinfra host and HTTP probes."""

    def __init__(self, name: str, data: dict):
        self.name = name
        self.data = data
        self.settings = Settings.from_data(name, data)

    @functools.cached_property
    def probe(self) -> Probe:
        ca_bundle = self.settings.verify_ca_bundle
        if ca_bundle:
            return Probe.for_settings(self.settings, str(PROJECT / ca_bundle))
        if self.settings.tls_certificate_source == "selfsigned":
            # A self-signed certificate is its own CA: trust exactly the one on the host.
            own = tempfile.NamedTemporaryFile("w", prefix=f"{self.name}-", suffix=".pem", delete=False)
            with own:
                own.write(self.host.file(self.settings.certificate_path).content_string)
            return Probe.for_settings(self.settings, own.name)
        return Probe.for_settings(self.settings, None)

    @functools.cached_property
    def host(self):
        """testinfra's ssh backend: OpenSSH honours the ssh config, known_hosts included."""
        hostname = self.data.get("ssh_hostname") or self.name
        user = self.data.get("ssh_user")
        port = self.data.get("ssh_port")
        spec = f"ssh://{user + '@' if user else ''}{hostname}{f':{port}' if port else ''}"
        # pyinfra's own host-key settings, for OpenSSH.
        options = {
            "UserKnownHostsFile": self.data.get("ssh_known_hosts_file"),
            "StrictHostKeyChecking": self.data.get("ssh_strict_host_key_checking"),
        }
        return testinfra.get_host(
            spec,
            ssh_config=self.data.get("ssh_config_file"),
            ssh_identity_file=self.data.get("ssh_key"),
            ssh_extra_args=" ".join(f"-o {key}={value}" for key, value in options.items() if value) or None,
            sudo=bool(self.data.get("_sudo")),
        )

    def names(self) -> list[str]:
        return [self.settings.server_name, *self.settings.server_aliases]


@functools.cache
def load_targets(inventory_file: str) -> list[Target]:
    # pyinfra's loader records the file it executes on the current state.
    with ctx_state.use(State()):
        inventory = make_inventory(inventory_file, cwd=str(PROJECT))
    return [Target(host.name, host.data.dict()) for host in inventory]


def pytest_generate_tests(metafunc):
    """One test per host, or per host and served name for tests that take `site_name`;
    tests that take `acme_target` run for the hosts whose certificate comes from ACME."""
    if "acme_target" in metafunc.fixturenames:
        targets = load_targets(metafunc.config.getoption("inventory"))
        acme = [target for target in targets if target.settings.tls_certificate_source == "acme"]
        metafunc.parametrize("acme_target", acme, ids=[target.name for target in acme], scope="module")
        return
    if "target" not in metafunc.fixturenames:
        return
    targets = load_targets(metafunc.config.getoption("inventory"))
    if "site_name" in metafunc.fixturenames:
        pairs = [(target, name) for target in targets for name in target.names()]
        ids = [f"{target.name}:{name}" for target, name in pairs]
        metafunc.parametrize(("target", "site_name"), pairs, ids=ids, scope="module")
    else:
        metafunc.parametrize("target", targets, ids=[target.name for target in targets], scope="module")

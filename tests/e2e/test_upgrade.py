"""
A server upgraded in place from Debian 12 to 13, as its operator does it: its virtualenv's
Python 3.11 is gone under a mod_wsgi linked to 3.13, so the site fails. The verification
suite says why; the next deploy builds a virtualenv of 3.13, health-checks a new release
and makes it live; the releases built for 3.11 are no longer ones to roll back to.

Debian 12 hosts whatever the suite of the run: the upgrade is from 12.
"""

import re
import time

import pytest

from apache_wsgi_deploy import testhost
from tests.e2e.conftest import SAMPLE, Fleet, fleet_name
from tests.e2e.test_deploy import probe
from tests.e2e.test_releases import live_release, rollback

FLEET = fleet_name("upgrade")
# What an operator runs (Debian's release notes): sources to trixie, then a full upgrade,
# keeping the config files the deploy manages.
UPGRADE = (
    "sed -i 's/bookworm/trixie/g' /etc/apt/sources.list && apt-get update -qq && "
    "DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Options::=--force-confdef "
    "-o Dpkg::Options::=--force-confold full-upgrade"
)


@pytest.fixture(scope="module")
def upgraded():
    testhost.down(FLEET)
    fleet = Fleet(FLEET, testhost.up(FLEET, count=1, suite="bookworm"))
    first = fleet.deploy()
    assert first.returncode == 0, first.stderr[-4000:]
    before = fleet.sudo(f"ls {SAMPLE.venvs_dir}").stdout.split()
    started = time.monotonic()
    fleet.sudo(UPGRADE)
    print(f"in-place upgrade from Debian 12 to 13: {time.monotonic() - started:.0f} s")
    yield fleet, before
    testhost.down(FLEET)


def test_upgraded_server_fails_verification_then_a_rerun_repairs_it(upgraded):
    fleet, venvs_before = upgraded
    assert venvs_before == [name for name in venvs_before if name.startswith("python3.11-")] != []
    assert fleet.sudo(". /etc/os-release; echo $VERSION_CODENAME").stdout.strip() == "trixie"

    broken = fleet.verify("-q")
    assert broken.returncode != 0
    assert re.search(
        r"^FAILED \S*/test_wsgi.py::test_venv_is_built_from_the_python_mod_wsgi_links_against\[", broken.stdout, re.M
    )

    release_before = live_release(fleet)
    repaired = fleet.deploy()
    assert repaired.returncode == 0, repaired.stderr[-4000:]
    assert "Release is live, once its health check passed" in repaired.changed
    assert live_release(fleet) != release_before
    venvs = fleet.sudo(f"ls {SAMPLE.venvs_dir}").stdout.split()
    assert [name for name in venvs if name.startswith("python3.13-")] != []
    verified = fleet.verify("-q")
    assert verified.returncode == 0, verified.stdout[-6000:]

    # The release from before the upgrade cannot be loaded by this Python: not one to go back to.
    refused = rollback(fleet)
    assert refused.returncode != 0
    assert "no release that was live before" in refused.stdout + refused.stderr
    assert probe(fleet).get("https", fleet.hosts[0].server_name, "/").status_code == 200

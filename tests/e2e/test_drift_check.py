"""
The drift check (`./run.sh check`): exit 0 on a matching host, 2 with the operations and
diffs on a drifted one, 1 when a host cannot be checked; it changes nothing.
"""

import subprocess
import sys

import pytest

from tests import CHECKOUT
from tests.e2e.test_deploy import SITE

# What the drift check reads comes from Debian's packages (Apache's tree, its configtest).
pytestmark = pytest.mark.both_suites


def check(fleet, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "apache_wsgi_deploy.cli", "check", *args],
        cwd=CHECKOUT,
        env=fleet.env,
        capture_output=True,
        text=True,
    )


def test_matching_host_exits_0(deployed):
    result = check(deployed)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert f"{deployed.hosts[0].alias}: matches" in result.stdout
    assert "\x1b[" not in result.stdout  # no colour codes in a log


def test_drifted_host_exits_2_with_what_and_diff_and_is_left_alone(deployed):
    deployed.sudo(f"sed -i 's/Strict-Transport-Security/X-Drift/' {SITE}")
    deployed.sudo("a2dismod -q -f headers")
    try:
        result = check(deployed)
        assert result.returncode == 2, result.stdout + result.stderr[-3000:]
        assert f"{deployed.hosts[0].alias}: DRIFTED, 2 operation(s) would change:" in result.stdout
        assert "  - Apache | Modules the site uses are enabled\n" in result.stdout
        assert "  - Site flaskapp | VirtualHosts are rendered\n" in result.stdout
        assert '-     Header always set X-Drift "max-age=31536000"' in result.stdout
        # Dry mode: the drift is still there, and still reported.
        assert "X-Drift" in deployed.sudo(f"cat {SITE}").stdout
        assert check(deployed).returncode == 2
    finally:
        assert deployed.deploy().returncode == 0
    assert check(deployed).returncode == 0


def test_unreachable_host_exits_1_and_the_others_are_still_checked(deployed, tmp_path):
    name, data = deployed.hosts[0].inventory_entry()
    unreachable = {key: value for key, value in data.items() if key != "ssh_config_file"}
    unreachable.update(ssh_hostname="127.0.0.1", ssh_port=9)  # nothing listens there
    inventory = tmp_path / "inventory.py"
    inventory.write_text(f"web_servers = [({name!r}, {data!r}), ('gone', {unreachable!r})]\n")
    result = check(deployed, f"--inventory={inventory}")
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]
    assert "gone: NOT CHECKED, Could not connect" in result.stdout
    assert f"{name}: matches" in result.stdout

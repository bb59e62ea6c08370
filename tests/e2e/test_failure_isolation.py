"""
Several hosts: one lost in the middle of a run stops only itself, the run ends with a
per-host summary and a non-zero status, and a rerun once it is back converges.
"""

import re
import subprocess
import sys

import pytest

from apache_wsgi_deploy import layout, testhost
from apache_wsgi_deploy.polling import poll
from apache_wsgi_deploy.testhost.image import SSH_USER
from apache_wsgi_deploy.testhost.podman import podman
from tests.e2e.conftest import CHECKOUT, SAMPLE, Fleet, fleet_name
from tests.e2e.test_deploy import probe

FLEET = fleet_name("pair")


@pytest.fixture(scope="module")
def pair():
    testhost.down(FLEET)
    yield Fleet(FLEET, testhost.up(FLEET, count=2))
    testhost.down(FLEET)


def awd_deploy(fleet: Fleet) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "apache_wsgi_deploy.cli", "deploy"],
        cwd=CHECKOUT,
        env=fleet.env,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_host_lost_mid_run_stops_only_itself(pair):
    first, second = (test_host.alias for test_host in pair.hosts)
    deploy = awd_deploy(pair)
    # Once the second host has its packages and the app's folder, take it away: its SSH
    # connection drops in the middle of the run.
    poll(
        lambda: podman("exec", second, "test", "-d", SAMPLE.install_path, check=False).returncode == 0,
        180,
        f"{second} reaches the Application unit",
    )
    podman("stop", "--time", "0", second)
    _, text = deploy.communicate()
    assert deploy.returncode != 0
    assert f"    {first}: converged, " in text
    # The operation it was cut off in, and why, in one line.
    line = next(line for line in text.splitlines() if line.startswith(f"    {second}: "))
    assert line.startswith(f"    {second}: FAILED at '") and "connection lost" in line, line
    # Without a terminal, a plain line as each host ended, numbered in the order they ended.
    ended = re.findall(r"^\[(\d)/2\] (\S+): (converged|FAILED at)\b.* \(\d+\.\d s\)$", text, re.M)
    assert [number for number, _, _ in ended] == ["1", "2"], text[-3000:]
    assert sorted((host, result) for _, host, result in ended) == sorted([(first, "converged"), (second, "FAILED at")])
    response = probe(pair).get("https", pair.hosts[0].server_name, "/")
    assert (response.status_code, response.text) == (200, "Good!")

    # Back (as a fresh server): the rerun converges both, the first with no change.
    back = Fleet(FLEET, testhost.up(FLEET, count=2))
    rerun = back.deploy()
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    changed_hosts = {host for op in rerun.output["results"]["operations"] for host in op["success"]}
    assert changed_hosts == {second}


def test_a_host_lost_while_its_run_waits_for_the_deploy_lock_says_so(pair):
    first, second = (test_host.alias for test_host in pair.hosts)
    # Another run holds the second host's lock; once its run waits for it, its SSH
    # connection drops: what the run was reading ends, which is no answer from the lock.
    podman("exec", "--detach", second, "flock", "--exclusive", layout.DEPLOY_LOCK, "sleep", "300")
    try:
        deploy = awd_deploy(pair)
        poll(
            lambda: podman("exec", second, "pgrep", "-f", "^flock -w", check=False).returncode == 0,
            120,
            f"{second}'s run waits for the deploy lock",
        )
        podman("exec", second, "pkill", "--signal", "KILL", "-f", f"^sshd.*: {SSH_USER}")
        _, text = deploy.communicate(timeout=300)
    finally:
        podman("exec", second, "pkill", "-f", "^sleep 300$", check=False)
    assert deploy.returncode != 0
    assert f"    {first}: converged, " in text
    assert f"    {second}: FAILED, connection lost (0 changed)" in text, text[-3000:]

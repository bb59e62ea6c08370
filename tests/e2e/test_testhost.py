"""The test host layer keeps its promises: idempotent, copes with stale containers, a
fresh cloud server's SSH access, and the control machine's CA certificates trusted."""

import subprocess

import pytest

import testhost
from testhost.image import extra_ca_certificates

FLEET = "awd-layer"


@pytest.fixture(scope="module")
def hosts():
    testhost.down(FLEET)
    yield testhost.up(FLEET, count=1)
    testhost.down(FLEET)


def ssh(test_host, *command: str, options: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-F", test_host.ssh_config, "-o", "BatchMode=yes", *options, test_host.alias, *command],
        capture_output=True,
        text=True,
    )


def test_up_again_keeps_the_running_host(hosts):
    assert testhost.up(FLEET, count=1) == hosts
    assert testhost.load(FLEET) == hosts


def test_stopped_container_is_replaced(hosts):
    testhost.podman("stop", "--time", "0", hosts[0].alias)
    replaced = testhost.up(FLEET, count=1)
    assert ssh(replaced[0], "true").returncode == 0


def test_container_of_the_same_name_made_elsewhere_is_replaced(hosts):
    # Another checkout, or a run cut off after `podman create`: same name, not our keys.
    alias = hosts[0].alias
    image = testhost.podman("inspect", "--format", "{{.ImageName}}", alias).stdout.decode().strip()
    testhost.podman("rm", "--force", "--time", "0", alias)
    testhost.podman("create", "--name", alias, image)
    replaced = testhost.up(FLEET, count=1)
    assert ssh(replaced[0], "true").returncode == 0


def test_fleet_grows_and_shrinks(hosts):
    assert [host.alias for host in testhost.up(FLEET, count=2)] == [f"{FLEET}-1", f"{FLEET}-2"]
    testhost.up(FLEET, count=1)
    names = testhost.podman("ps", "--all", "--filter", f"label=awd.fleet={FLEET}", "--format", "{{.Names}}")
    assert names.stdout.decode().split() == [f"{FLEET}-1"]


def test_deploy_user_has_passwordless_sudo(hosts):
    test_host = testhost.load(FLEET)[0]
    assert ssh(test_host, "sudo", "-n", "id", "-u").stdout.strip() == "0"


def test_root_login_is_refused(hosts):
    test_host = testhost.load(FLEET)[0]
    refused = ssh(test_host, "true", options=("-l", "root"))
    assert refused.returncode != 0
    assert "Permission denied" in refused.stderr


def test_host_key_is_pinned(hosts, tmp_path):
    test_host = testhost.load(FLEET)[0]
    other_key = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{test_host.ssh_port} {(tmp_path / 'other.pub').read_text()}")
    mismatch = ssh(test_host, "true", options=("-o", f"UserKnownHostsFile={known_hosts}"))
    assert mismatch.returncode != 0
    assert "HOST IDENTIFICATION HAS CHANGED" in mismatch.stderr


def test_control_machine_ca_certificates_are_trusted(hosts):
    test_host = testhost.load(FLEET)[0]
    bundle = ssh(test_host, "cat", "/etc/ssl/certs/ca-certificates.crt").stdout
    # The first line of base64 identifies each certificate well enough.
    missing = [
        certificate.name
        for certificate in extra_ca_certificates()
        if certificate.read_text().strip().splitlines()[1] not in bundle
    ]
    assert missing == []

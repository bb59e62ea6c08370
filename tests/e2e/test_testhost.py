"""The test host layer keeps its promises: idempotent, copes with stale containers, a
fresh cloud server's SSH access, and the control machine's CA certificates trusted."""

import json
import subprocess

import pytest

from apache_wsgi_deploy import testhost
from apache_wsgi_deploy.testhost.image import (
    SUITES,
    _remove_older_images,
    checkout_id,
    extra_ca_certificates,
    image_tag,
)
from tests.e2e.conftest import fleet_name

# The test host layer builds and boots both suites.
pytestmark = pytest.mark.both_suites

FLEET = fleet_name("layer")


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


def container_labels(alias: str) -> dict:
    return json.loads(testhost.podman("inspect", "--format", "{{json .Config.Labels}}", alias).stdout)


def test_our_container_without_our_keys_is_replaced(hosts):
    # Ours, made with keys since renewed (.testhosts deleted): SSH with ours would fail.
    alias = hosts[0].alias
    image = testhost.podman("inspect", "--format", "{{.ImageName}}", alias).stdout.decode().strip()
    labels = {**container_labels(alias), "awd.keys": "none"}
    testhost.podman("rm", "--force", "--time", "0", alias)
    testhost.podman("create", "--name", alias, *[f"--label={key}={value}" for key, value in labels.items()], image)
    replaced = testhost.up(FLEET, count=1)
    assert ssh(replaced[0], "true").returncode == 0


def test_container_of_the_same_name_made_elsewhere_is_left_alone(hosts):
    # Another checkout sharing this machine's podman: its host, not ours to replace.
    alias = f"{FLEET}-2"
    image = testhost.podman("inspect", "--format", "{{.ImageName}}", hosts[0].alias).stdout.decode().strip()
    testhost.podman("create", "--name", alias, "--label", f"awd.fleet={FLEET}", "--label", "awd.builder=other", image)
    try:
        with pytest.raises(
            RuntimeError, match=f"a container named {alias} exists that this project folder did not make"
        ):
            testhost.up(FLEET, count=2)
        testhost.down(FLEET)
        assert testhost.podman("container", "exists", alias, check=False).returncode == 0
    finally:
        testhost.podman("rm", "--force", "--time", "0", alias)
        testhost.up(FLEET, count=1)


def test_host_runs_its_suite(hosts):
    codename = hosts[0].run_as_root(". /etc/os-release; echo $VERSION_CODENAME").stdout.strip()
    assert codename == hosts[0].suite


def test_a_build_removes_only_its_own_older_images_of_its_suite(hosts, tmp_path):
    current = image_tag(hosts[0].suite)
    repository = current.rsplit(":", 1)[0]
    other_suite = next(suite for suite in SUITES if suite != hosts[0].suite)
    older, other_suites, foreign = f"{repository}:older", f"{image_tag(other_suite)}-test", f"{repository}:foreign"
    # The current image may be another checkout's build of the same recipe: each of these
    # says who built it.
    for tags, builder in (((older, other_suites), checkout_id()), ((foreign,), "other")):
        (tmp_path / "Containerfile").write_text(f"FROM {current}\nLABEL awd.builder={builder}\n")
        testhost.podman("build", "--quiet", *[f"--tag={tag}" for tag in tags], str(tmp_path))
    try:
        _remove_older_images(current)
        exists = {
            tag: testhost.podman("image", "exists", tag, check=False).returncode == 0
            for tag in (older, other_suites, foreign, current)
        }
        assert exists == {older: False, other_suites: True, foreign: True, current: True}
    finally:
        testhost.podman("rmi", older, other_suites, foreign, check=False)


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

"""
Certificates from ACME, for real: a fresh test host gets its certificate from a local
Pebble that validates http-01 by fetching the challenge from the host's port 80.
The tests run in order: issue, verify, rerun, renew, add a name, lose the CA.
"""

from __future__ import annotations

import pytest

from apache_wsgi_deploy import layout, testhost
from apache_wsgi_deploy.polling import poll
from apache_wsgi_deploy.probe import Probe
from apache_wsgi_deploy.testhost.acme import AcmeServer
from apache_wsgi_deploy.testhost.fleet import STATE
from tests.e2e.conftest import SAMPLE, Fleet, LoadLoop, fleet_name

# certbot differs between Debian releases (2.1 on 12, 4.0 on 13).
pytestmark = pytest.mark.both_suites

FLEET = fleet_name("acme")
CERTIFICATE_OP = "Certificate from the ACME CA covers every name"


@pytest.fixture(scope="module")
def pebble():
    server = AcmeServer(STATE / FLEET)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def acme_fleet(pebble):
    testhost.down(FLEET)
    hosts = testhost.up(
        FLEET,
        count=1,
        data=pebble.host_data(),
    )
    # After the fleet: Pebble listens on podman's bridge, which a running container brings up.
    pebble.start()
    for name in names(hosts[0]):
        pebble.point(name, hosts[0].address)
    yield Fleet(FLEET, hosts)
    testhost.down(FLEET)


def names(test_host) -> list[str]:
    """The server name, then two aliases the tests add later."""
    return [test_host.server_name, f"www.{test_host.server_name}", f"api.{test_host.server_name}"]


def probe(fleet) -> Probe:
    _, data = fleet.hosts[0].inventory_entry()
    return Probe(data["verify_address"], data["verify_http_port"], data["verify_https_port"], data["verify_ca_bundle"])


def serial(fleet, name=None) -> int:
    return probe(fleet).served_certificate(name or fleet.hosts[0].server_name).serial_number


@pytest.fixture(scope="module")
def first_acme_deploy(acme_fleet):
    return acme_fleet.deploy()


@pytest.fixture
def issued(acme_fleet, first_acme_deploy):
    assert first_acme_deploy.returncode == 0, first_acme_deploy.stderr[-4000:]
    return acme_fleet


def test_first_deploy_of_a_fresh_host_serves_a_certificate_from_the_acme_ca(first_acme_deploy, acme_fleet):
    assert first_acme_deploy.returncode == 0, first_acme_deploy.stderr[-4000:]
    assert CERTIFICATE_OP in first_acme_deploy.changed
    # Verified against Pebble's root and the host's name, or served_certificate raises.
    certificate = probe(acme_fleet).served_certificate(acme_fleet.hosts[0].server_name)
    assert "Pebble" in certificate.issuer.rfc4514_string()
    response = probe(acme_fleet).get("https", acme_fleet.hosts[0].server_name, "/")
    assert (response.status_code, response.text) == (200, "Good!")
    print(f"first acme deploy on a fresh test host: {first_acme_deploy.seconds:.1f} s")


def test_port_80_still_redirects_everything_but_challenges(issued):
    host = issued.hosts[0]
    redirect = probe(issued).get("http", host.server_name, "/.well-known/other?x=1")
    assert (redirect.status_code, redirect.headers["Location"]) == (
        301,
        f"https://{host.server_name}/.well-known/other?x=1",
    )
    challenge = probe(issued).get("http", host.server_name, "/.well-known/acme-challenge/no-such-token")
    assert challenge.status_code == 404


def test_verification_suite_passes_with_the_certificate_checks(issued):
    result = issued.verify("-v")
    assert result.returncode == 0, result.stdout[-6000:]
    host = issued.hosts[0].alias
    assert f"test_renewal_timer_is_active[{host}] PASSED" in result.stdout
    assert f"test_served_certificate_is_the_one_on_disk[{host}:{issued.hosts[0].server_name}] PASSED" in result.stdout


def test_rerun_does_not_contact_the_ca(issued, pebble):
    before, requests_before = serial(issued), pebble.requests_served()
    result = issued.deploy()
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.changed == []
    assert pebble.requests_served() == requests_before
    assert serial(issued) == before
    print(f"no-change acme rerun: {result.seconds:.1f} s")


def test_forced_renewal_is_served_without_a_deploy_or_a_restart(issued):
    name = issued.hosts[0].server_name
    before = serial(issued)
    with LoadLoop(lambda: probe(issued).get("https", name, "/")) as load:
        issued.sudo("certbot renew --force-renewal --no-random-sleep-on-renew --quiet")
        renewed = poll(lambda: serial(issued) != before and serial(issued), 30, "the renewed certificate is served")
    on_disk = issued.sudo(f"openssl x509 -in {layout.certbot_lineage(name)}/cert.pem -noout -serial").stdout
    assert int(on_disk.strip().removeprefix("serial="), 16) == renewed
    assert load.sent > 0
    # A restart would refuse or reset connections. A graceful reload restarts mod_wsgi's
    # daemon processes, and mod_wsgi 4.9.4 answers 503 to requests old Apache workers had
    # in flight while the daemon socket was re-created (docs/known-limits.md).
    assert set(load.failures) <= {"HTTP 503"}
    print(f"forced renewal under load: {load.sent} requests, {len(load.failures)} failed")


def test_adding_an_alias_reissues_with_the_new_name(issued, pebble):
    alias = names(issued.hosts[0])[1]
    before = serial(issued)
    result = issued.deploy("--data", f'server_aliases=["{alias}"]')
    assert result.returncode == 0, result.stderr[-4000:]
    assert CERTIFICATE_OP in result.changed
    assert serial(issued, alias) != before
    response = probe(issued).get("https", alias, "/")
    assert (response.status_code, response.text) == (200, "Good!")


def test_acme_server_down_fails_clearly_and_the_site_keeps_serving(issued, pebble):
    host = issued.hosts[0]
    alias, other = names(host)[1:]
    before = serial(issued, alias)
    pebble.stop()
    result = issued.deploy("--data", f'server_aliases=["{alias}", "{other}"]')
    assert result.returncode != 0
    assert f"no certificate for {host.server_name}, {alias}, {other}" in result.stderr
    assert serial(issued, alias) == before
    assert probe(issued).get("https", alias, "/").status_code == 200
    # The vhost was not rewritten for a name the certificate does not cover.
    assert other not in issued.sudo(f"cat {SAMPLE.site_file}").stdout

"""
The deploy's life on a fresh test host: first deploy, verification, no-change rerun,
drift correction, a configtest failure that must not take the site down, bad settings.
Marked both_suites: what Debian's packages decide (a first deploy, the verification
suite's checks of hardening and TLS, mod_wsgi's restarts and reloads under load).
"""

import json
import re
import shutil
import time
from collections import Counter

import pytest

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.polling import poll
from apache_wsgi_deploy.prefetch import MISSING_COMMAND
from apache_wsgi_deploy.probe import Probe
from bench.hosts import write_inventory
from bench.relay import DelayingRelay, through_relay
from tests import CHECKOUT
from tests.e2e.conftest import SAMPLE, LoadLoop

SITE = SAMPLE.site_file
# Apache logs this line on every graceful restart (a reload).
GRACEFUL = "AH00493"


def probe(fleet) -> Probe:
    """Where the inventory tells the verification suite to reach the first host."""
    _, data = fleet.hosts[0].inventory_entry()
    return Probe(data["verify_address"], data["verify_http_port"], data["verify_https_port"], data["verify_ca_bundle"])


def reloads(fleet) -> int:
    return int(fleet.sudo(f"grep -c {GRACEFUL} {layout.APACHE_ERROR_LOG} || true").stdout)


def assert_verified(fleet):
    result = fleet.verify()
    assert result.returncode == 0, result.stdout[-6000:]


@pytest.mark.both_suites
def test_first_deploy_converges_a_fresh_host(first_deploy):
    assert first_deploy.returncode == 0, first_deploy.stderr[-4000:]
    assert first_deploy.operations("error") == []
    assert "Apache, mod_wsgi and venv are installed" in first_deploy.changed
    assert "Apache reloads after its configtest passed" in first_deploy.changed
    print(f"first deploy on a fresh test host: {first_deploy.seconds:.1f} s")


@pytest.mark.both_suites
def test_verification_suite_passes(deployed):
    assert_verified(deployed)


@pytest.mark.both_suites
def test_rerun_changes_nothing(deployed):
    result = deployed.deploy()
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.changed == []
    assert result.operations("error") == []
    print(f"no-change rerun: {result.seconds:.1f} s")


@pytest.mark.both_suites
def test_a_no_change_rerun_reads_its_facts_in_one_command_and_still_sees_drift(deployed):
    """awd keeps what a host's run asked for (.cache/facts/<host>.json); the next run asks
    for all of it at once, in the deploy lock's own round trip, so -vv shows no fact read
    alone, and a drift is still repaired. The batch goes on the lock's stdin: sudo's log
    of the run holds none of it."""
    assert deployed.awd("deploy").returncode == 0
    since = int(time.time()) - 1
    rerun = deployed.awd("deploy", "-vv")
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    assert "Loaded fact" not in rerun.stderr, rerun.stderr[-4000:]
    read = re.search(r"(\d+) of (\d+) facts read at once: (\d+) with the deploy lock, the rest in 0 ", rerun.stderr)
    assert read and read.group(1) == read.group(2) == read.group(3), rerun.stderr[-4000:]
    assert " 0 changed," in rerun.stderr
    sudo_log = deployed.sudo(f"journalctl -q -o cat -t sudo --since @{since}").stdout
    # The lock's holder ran, and the identity's fingerprint (one of the batch's facts) is not in its line.
    assert "flock" in sudo_log and "fib_trie" not in sudo_log, sudo_log[-2000:]

    hardening = layout.conf_file("hardening")
    deployed.sudo(f"echo '# drifted' >> {hardening}")
    repaired = deployed.awd("deploy")
    assert repaired.returncode == 0, repaired.stderr[-4000:]
    assert "# drifted" not in deployed.sudo(f"cat {hardening}").stdout


UNCHANGED_BY_FINGERPRINTS = re.compile(r"; (\d+) unchanged by their fingerprints")


def fingerprinted_rerun(deployed) -> tuple[int, str]:
    """A no-change rerun: how many facts it answered from their fingerprints, and its output."""
    result = deployed.awd("deploy", "-vv")
    assert result.returncode == 0 and " 0 changed," in result.stderr, result.stderr[-4000:]
    # No record of the host yet (the first deploy's): its facts are read alone.
    unchanged = UNCHANGED_BY_FINGERPRINTS.search(result.stderr)
    return int(unchanged.group(1)) if unchanged else 0, result.stderr


@pytest.mark.both_suites
def test_apaches_config_and_the_virtualenv_are_read_again_only_when_what_they_were_read_from_changed(deployed):
    """What Apache parsed and what the virtualenv holds are answered from the last run's
    reads while the files they were read from are as they were (facts/fingerprint.py). An
    Include of a folder that does not exist yet, then a conf dropped into it: seen. What
    was kept from before Apache was installed (a host rebuilt under its name) is read
    again, then kept anew."""
    planted, apache2_conf = "/opt/awd-planted", f"{layout.APACHE_DIR}/apache2.conf"
    record = CHECKOUT / ".cache" / "facts" / f"{deployed.hosts[0].inventory_entry()[0]}.json"

    def rerun() -> tuple[int, str]:
        return fingerprinted_rerun(deployed)

    # Within seconds of a change, what a fact was read from is racy: it is read again.
    poll(lambda: rerun()[0] == 3, 30, "the costly facts answered from their fingerprints")
    kept = json.loads(record.read_text())
    (config,) = (key for key in kept["kept"] if "EffectiveConfig" in key)
    kept["kept"][config][2] = [MISSING_COMMAND]
    record.write_text(json.dumps(kept))
    assert rerun()[0] == 2
    poll(lambda: rerun()[0] == 3, 30, "the config kept anew, and answered from its fingerprint")
    deployed.sudo(
        f"cp -p {apache2_conf} /root/apache2.conf.kept && echo 'IncludeOptional {planted}/*.conf' >> {apache2_conf}"
    )
    try:
        poll(lambda: rerun()[0] == 3, 30, "the config with its new Include answered from its fingerprint")
        deployed.sudo(f"mkdir {planted} && echo 'KeepAliveTimeout 77' > {planted}/debug.conf")
        unchanged, output = rerun()
        assert unchanged == 2 and f"{planted}/debug.conf" in output and "KeepAliveTimeout 77" in output, output[-4000:]
    finally:
        deployed.sudo(f"rm -rf {planted}; mv /root/apache2.conf.kept {apache2_conf}")


def test_a_sudo_rule_for_the_apps_user_is_seen_where_its_identity_was_answered_from_its_fingerprint(deployed):
    """What sudo lets the app's user do is read again once a rule is added: the deploy refuses."""
    poll(lambda: fingerprinted_rerun(deployed)[0] == 3, 30, "the costly facts answered from their fingerprints")
    deployed.sudo("echo 'flaskapp ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/awd-planted")
    try:
        refused = deployed.awd("deploy")
        assert refused.returncode != 0
        assert "refusing to run an app as user flaskapp, group flaskapp: sudo lets user flaskapp" in refused.stderr
    finally:
        deployed.sudo("rm /etc/sudoers.d/awd-planted")


@pytest.mark.both_suites
def test_a_lone_hosts_rerun_over_a_slow_link_uses_the_connection_opened_as_awd_started(deployed, tmp_path):
    """awd opens a lone host's TCP connection and sends paramiko's greeting while it
    starts, and the host's process hands that connection to paramiko, which must not greet
    twice. Through a relay delaying each way, the rerun changes nothing, and says so."""
    host = deployed.hosts[0]
    with DelayingRelay(host.ssh_port) as relay:
        relayed = through_relay(host, relay.port, tmp_path)
        inventory = write_inventory([host], tmp_path / "inventory.py", relayed)
        rerun = deployed.awd("deploy", f"--inventory={inventory}", "-v")
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    assert "SSH on the connection opened as awd started" in rerun.stderr, rerun.stderr[-4000:]
    assert " 0 changed," in rerun.stderr


DRIFTS = {
    "wsgi module disabled": ("a2dismod -q -f wsgi", "Modules the site uses are enabled"),
    "ssl module half enabled": (f"rm {layout.module_link('ssl', 'conf')}", "Modules the site uses are enabled"),
    "site unlinked": (f"rm {SAMPLE.site_link}", "Site is enabled"),
    "vhost edited": (f"sed -i 's/Strict-Transport-Security/X-Drift/' {SITE}", "VirtualHosts are rendered"),
    "stock site enabled again": ("a2ensite -q 000-default", "Stock site is disabled"),
    "prefork MPM switched on": (
        f"a2dismod -q mpm_event && a2enmod -q mpm_prefork && systemctl restart {layout.APACHE_SERVICE}",
        "Modules no site needs are disabled",
    ),
    "apache stopped": (f"systemctl stop {layout.APACHE_SERVICE}", "Apache is running and enabled at boot"),
    "apache disabled at boot": (
        f"systemctl disable -q {layout.APACHE_SERVICE}",
        "Apache is running and enabled at boot",
    ),
    "venv deleted": (
        f"rm -rf {SAMPLE.venvs_dir}/*",
        "Virtualenv from the host's python3 holds the pinned requirements",
    ),
    "live release's code edited": (
        f"echo 'app = None' >> {SAMPLE.app_code_dir}/app.py",
        "Release holds the app's code, read-only for the daemon",
    ),
    # The bytecode is the daemon user's and writable by it: a crafted .pyc would outlive
    # a repair of the code's owners alone.
    "code made writable, and bytecode written by the daemon": (
        f"chmod -R g+w {SAMPLE.app_code_dir}/ && cd {SAMPLE.app_code_dir} &&"
        f" runuser -u {SAMPLE.app_name} -- {SAMPLE.venv}/bin/python -c 'import app' && test -d __pycache__",
        "Release holds the app's code, read-only for the daemon",
    ),
}


@pytest.mark.parametrize("drift", DRIFTS)
def test_drift_is_corrected(deployed, drift):
    command, repairing_operation = DRIFTS[drift]
    deployed.sudo(command)

    result = deployed.deploy()
    assert result.returncode == 0, result.stderr[-4000:]
    assert repairing_operation in result.changed

    assert deployed.deploy().changed == []
    assert_verified(deployed)


def deploy_under_load(fleet, new_body: str, *args: str):
    """Deploy (pyinfra `args`) while 4 clients send HTTPS requests back to back, until
    `new_body` has answered 20 of them. Returns the deploy's result, the load loop, the
    bodies seen, and the seconds from the deploy's start to the first `new_body`."""
    name = fleet.hosts[0].server_name
    bodies = Counter()

    def send():
        response = probe(fleet).get("https", name, "/")
        bodies[response.text] += 1
        return response

    with LoadLoop(send, clients=4) as load:
        poll(lambda: load.sent > 20, 30, "load is flowing")
        started = time.monotonic()
        result = fleet.deploy(*args)
        poll(lambda: bodies[new_body] >= 1, 30, "the new code answers")
        serving = time.monotonic() - started
        poll(lambda: bodies[new_body] >= 20, 30, "the new code keeps answering")
    return result, load, bodies, serving


@pytest.mark.both_suites
def test_app_update_under_load_loses_no_request(deployed, tmp_path):
    """New code is a new release, made live by a symlink and restarting only the daemon
    processes (the .wsgi file's mtime): requests already queued for them are retried by
    mod_wsgi, none fails."""
    new_app = tmp_path / "app"
    shutil.copytree(CHECKOUT / "app", new_app)
    (new_app / "app.py").write_text((new_app / "app.py").read_text().replace('"Good!"', '"Better!"'))
    result, load, bodies, _ = deploy_under_load(deployed, "Better!", "--data", f"app_source={new_app}")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Release is live, once its health check passed" in result.changed
    assert "Apache reloads after its configtest passed" not in result.changed
    print(f"app update under load: {load.sent} requests, {len(load.failures)} failed, bodies {dict(bodies)}")
    assert load.failures == []

    result = deployed.deploy()
    assert "Release is live, once its health check passed" in result.changed
    assert_verified(deployed)


@pytest.mark.both_suites
def test_rerun_that_rewrites_the_vhost_reloads_under_load_without_refusing_a_connection(deployed):
    """A graceful reload: no connection is refused or reset. mod_wsgi 4.9.4 can answer 503
    to a request an old Apache worker had in flight while the daemon socket was re-created
    (docs/known-limits.md), so those are counted and printed, not failed on."""
    deployed.sudo(f"sed -i 's/^ *SSLSessionTickets off/    SSLSessionTickets on/' {SITE}")
    name = deployed.hosts[0].server_name
    reloads_before = reloads(deployed)
    with LoadLoop(lambda: probe(deployed).get("https", name, "/"), clients=4) as load:
        poll(lambda: load.sent > 20, 30, "load is flowing")
        result = deployed.deploy()
        sent_by_then = load.sent
        poll(lambda: load.sent > sent_by_then + 100, 30, "requests flow after the reload")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "VirtualHosts are rendered" in result.changed
    assert reloads(deployed) == reloads_before + 1
    print(f"vhost reload under load: {load.sent} requests, {len(load.failures)} failed {dict(Counter(load.failures))}")
    assert set(load.failures) <= {"HTTP 503"}


def test_failed_configtest_stops_the_deploy_and_the_site_keeps_serving(deployed):
    reloads_before = reloads(deployed)
    planted = layout.conf_link("zz-planted")
    deployed.sudo(f"echo ThisIsNotADirective > {planted}")
    deployed.sudo(f"sed -i 's/Strict-Transport-Security/X-Drift/' {SITE}")
    deployed.sudo(f"rm {SAMPLE.site_link}")
    drifted = deployed.sudo(f"cat {SITE}").stdout
    try:
        result = deployed.deploy()
        assert result.returncode != 0
        # pyinfra prints no JSON for a failed run: the last operation started is the one that failed.
        failed = result.last_operation
        assert failed.startswith("Apache service | Apache reloads after its configtest passed")
        assert "Invalid command 'ThisIsNotADirective'" in failed
        assert "its config changes are undone" in failed
        assert reloads(deployed) == reloads_before
        # Neither the vhost it wrote nor the link it made is left for Apache's next start.
        assert deployed.sudo(f"cat {SITE}").stdout == drifted
        assert deployed.sudo(f"ls {SAMPLE.site_link} || true").stdout == ""
        test_host = deployed.hosts[0]
        response = probe(deployed).get("https", test_host.server_name, "/")
        assert (response.status_code, response.text) == (200, "Good!")
    finally:
        deployed.sudo(f"rm -f {planted}")

    # Once the cause is gone, a rerun converges.
    result = deployed.deploy()
    assert result.returncode == 0, result.stderr[-4000:]
    assert "VirtualHosts are rendered" in result.changed
    assert "Site is enabled" in result.changed
    assert "Apache reloads after its configtest passed" in result.changed
    assert_verified(deployed)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("server_name=www.example.com\nRedirect / http://evil.example/", "setting 'server_name'"),
        ("server_nmae=www.example.com", "unknown setting 'server_nmae'"),
        ("app_install_path=/var/www/html/app", "outside any DocumentRoot"),
        ("tls_certificate_source=acme", "setting 'tls_certificate_file' = "),
    ],
)
def test_bad_setting_stops_the_run_before_any_change(deployed, data, message):
    before = deployed.sudo(f"stat -c %Y {SITE}; ls /srv").stdout
    result = deployed.deploy("--data", data)
    assert result.returncode != 0
    assert message in result.stderr
    assert f"host {deployed.hosts[0].alias}:" in result.stderr
    assert deployed.sudo(f"stat -c %Y {SITE}; ls /srv").stdout == before


SELFSIGNED = [
    "--data",
    "tls_certificate_source=selfsigned",
    *(arg for key in ("tls_certificate_file", "tls_chain_file", "tls_key_file") for arg in ("--data", f"{key}=null")),
]


def test_selfsigned_certificate_is_made_once_and_names_the_host(deployed, tmp_path):
    test_host = deployed.hosts[0]
    result = deployed.deploy(*SELFSIGNED)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Self-signed certificate names the site" in result.changed
    assert deployed.deploy(*SELFSIGNED).changed == []

    own = tmp_path / "selfsigned.pem"
    own_tls_dir = f"{SAMPLE.tls_dir}/{test_host.server_name}"
    own.write_text(deployed.sudo(f"cat {own_tls_dir}/fullchain.pem").stdout)
    served = Probe("127.0.0.1", test_host.http_port, test_host.https_port, str(own)).served_certificate(
        test_host.server_name
    )
    assert served.issuer == served.subject

    # Back to the inventory's uploaded certificate.
    result = deployed.deploy()
    assert "Certificate and chain are in place" in result.changed
    assert_verified(deployed)


@pytest.mark.both_suites
def test_verification_suite_fails_where_hardening_tls_or_daemon_mode_was_broken(deployed):
    deployed.sudo(
        "sed -i 's/^ServerTokens Prod/ServerTokens Full/; s/^TraceEnable Off/TraceEnable On/'"
        f" {layout.conf_file(layout.HARDENING_CONF)}"
    )
    # TLS 1.0 and 1.1 and CBC suites back, as on a server configured from an old guide;
    # the app asked for in Apache's own processes (refused there, but asked for).
    deployed.sudo(
        "sed -i 's/^ *SSLProtocol .*/SSLProtocol all/; s/^ *SSLCipherSuite .*/SSLCipherSuite ALL:@SECLEVEL=0/;"
        f" s/WSGIProcessGroup .*/WSGIProcessGroup %{{GLOBAL}}/' {SITE} && systemctl reload {layout.APACHE_SERVICE}"
    )
    try:
        result = deployed.verify("-v")
        assert result.returncode != 0
        host = deployed.hosts[0].alias
        assert f"test_server_header_says_only_what_server_tokens_allows[{host}] FAILED" in result.stdout
        assert f"test_trace_is_refused_without_a_signature[{host}] FAILED" in result.stdout
        assert f"test_tls_meets_mozilla_intermediate_profile[{host}:flaskapp] FAILED" in result.stdout
        assert "tls_versions: TLS versions" in result.stdout
        assert f"test_no_request_ran_in_embedded_mode[{host}:flaskapp] FAILED" in result.stdout
    finally:
        result = deployed.deploy()
        # The record of a request that asked for embedded mode stays until the log is rotated.
        deployed.sudo(f"truncate -s 0 {SAMPLE.embedded_mode_log}")
    assert "Server-wide hardening is rendered" in result.changed
    assert "VirtualHosts are rendered" in result.changed
    assert_verified(deployed)

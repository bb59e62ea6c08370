"""
What the verification suite finds that the deploy did not write: misconfigurations planted
on a deployed test host (a conf dropped in by hand, an app's careless answer), each
failing exactly the checks named for it, and apps that make their own choices passing.
"""

from __future__ import annotations

import re
import shlex

import pytest

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.polling import poll
from apache_wsgi_deploy.testhost.fleet import ca_bundle
from tests.e2e.conftest import SAMPLE
from tests.e2e.test_apps import app_inventory, one_module_app
from tests.e2e.test_deploy import probe

# An app that sets its own policy, cookies and CORS answer for one partner.
OWN_HEADERS = """
PARTNER = "https://partner.example"


def application(environ, start_response):
    headers = [
        ("Content-Type", "text/plain"),
        ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"),
        ("Referrer-Policy", "unsafe-url"),
        ("Set-Cookie", "sessionid=s1; Path=/; Secure; HttpOnly; SameSite=Strict"),
        ("Set-Cookie", "theme=dark; Path=/; Secure; SameSite=Lax"),
    ]
    if environ.get("HTTP_ORIGIN") == PARTNER:
        headers += [
            ("Access-Control-Allow-Origin", PARTNER),
            ("Access-Control-Allow-Credentials", "true"),
            ("Vary", "Origin"),
        ]
    start_response("200 OK", headers)
    return [b"own headers"]
"""
HEADER_CHECKS = ("-k", "test_headers", "-v")


def failed(verify) -> list[str]:
    return re.findall(r"::(\S+) FAILED", verify.stdout)


def test_an_app_with_its_own_policy_cookies_and_cors_passes_and_keeps_them(deployed, tmp_path):
    try:
        inventory = app_inventory(deployed, tmp_path, **one_module_app(tmp_path, "own", OWN_HEADERS))
        assert deployed.deploy(inventory=inventory).returncode == 0
        verify = deployed.verify(f"--inventory={inventory}", *HEADER_CHECKS)
        assert verify.returncode == 0, verify.stdout[-3000:]
        assert "test_no_origin_may_read_answers_with_the_users_credentials" in verify.stdout

        name, probe_ = deployed.hosts[0].server_name, probe(deployed)
        answer = probe_.get("https", name, "/", headers={"Origin": "https://partner.example"})
        # The app's policy wins over the default; the Referrer-Policy is the setting's, once.
        assert answer.headers["Content-Security-Policy"] == "default-src 'self'; frame-ancestors 'none'"
        assert answer.raw.headers.getlist("Referrer-Policy") == ["strict-origin-when-cross-origin"]
        assert answer.raw.headers.getlist("X-Content-Type-Options") == ["nosniff"]
        assert answer.headers["Access-Control-Allow-Origin"] == "https://partner.example"
    finally:
        assert deployed.deploy().returncode == 0


def test_a_careless_cookie_fails_until_the_settings_accept_it(deployed, tmp_path):
    careless = OWN_HEADERS.replace("sessionid=s1; Path=/; Secure; HttpOnly; SameSite=Strict", "sessionid=s1; Path=/")
    settings = one_module_app(tmp_path, "careless", careless)
    try:
        inventory = app_inventory(deployed, tmp_path, **settings)
        assert deployed.deploy(inventory=inventory).returncode == 0
        verify = deployed.verify(f"--inventory={inventory}", *HEADER_CHECKS)
        assert failed(verify) == [f"test_cookies_are_secure_httponly_and_samesite[{deployed.hosts[0].alias}:flaskapp]"]
        assert "cookie sessionid lacks secure, httponly, samesite" in verify.stdout

        (tmp_path / "meant").mkdir()
        accepted = ["cookie-secure", "cookie-httponly", "cookie-samesite"]
        meant = app_inventory(deployed, tmp_path / "meant", **settings, accepted_header_findings=accepted)
        assert deployed.deploy(inventory=meant).changed == []
        verify = deployed.verify(f"--inventory={meant}", *HEADER_CHECKS)
        assert verify.returncode == 0, verify.stdout[-3000:]
    finally:
        assert deployed.deploy().returncode == 0


PLANT = "/etc/apache2/conf-enabled/zz-planted.conf"


def planted(deployed, conf: str, marker: tuple[str, str | None]):
    """The sample app's server with conf enabled beside the deploy's, until the answer's
    header marker[0] is marker[1] (None: absent)."""
    deployed.sudo(f"printf '%s\\n' {shlex.quote(conf)} > {PLANT} && apache2ctl graceful")
    name, probe_ = deployed.hosts[0].server_name, probe(deployed)
    header, value = marker

    def in_effect() -> bool:
        answer = probe_.get("https", name, "/", headers={"Origin": "https://foreign-origin.invalid"})
        return answer.headers.get(header) == value

    poll(in_effect, 30, f"the planted conf sets {header}")


# Each plant, a conf a later hand adds (<Location> merges after the vhost), fails exactly
# the checks named for it.
PLANTS = {
    "cors-wildcard-with-credentials": (
        '<Location />\nHeader always set Access-Control-Allow-Origin "*"\n'
        'Header always set Access-Control-Allow-Credentials "true"\n</Location>',
        ("Access-Control-Allow-Origin", "*"),
        ["test_no_origin_may_read_answers_with_the_users_credentials"],
    ),
    "cors-reflecting-any-origin": (
        '<Location />\nHeader always set Access-Control-Allow-Origin "expr=%{req:Origin}"\n'
        'Header always set Access-Control-Allow-Credentials "true"\n</Location>',
        ("Access-Control-Allow-Origin", "https://foreign-origin.invalid"),
        ["test_no_origin_may_read_answers_with_the_users_credentials"],
    ),
    "sniffing-allowed": (
        "<Location />\nHeader always unset X-Content-Type-Options\n</Location>",
        ("X-Content-Type-Options", None),
        ["test_answers_forbid_mime_sniffing_and_say_the_referrer_policy"],
    ),
    "framing-allowed": (
        "<Location />\nHeader unset Content-Security-Policy\nHeader always unset Content-Security-Policy\n</Location>",
        ("Content-Security-Policy", None),
        ["test_the_app_cannot_be_framed_by_other_sites"],
    ),
}


@pytest.mark.parametrize("plant", PLANTS)
def test_a_planted_header_conf_fails_exactly_its_checks(deployed, plant):
    conf, marker, checks = PLANTS[plant]
    try:
        planted(deployed, conf, marker)
        verify = deployed.verify(*HEADER_CHECKS)
        assert verify.returncode == 1
        assert sorted({test.split("[")[0] for test in failed(verify)}) == checks, verify.stdout[-3000:]
    finally:
        deployed.sudo(f"rm -f {PLANT} && apache2ctl graceful")


# Each plant, what a sloppy admin or a package does to the files root reads or runs, and
# its undoing; the whole suite then fails exactly the checks named for it.
LIVE_APP = f"{SAMPLE.current_dir}/app"
DEBIAN_CONF = "/etc/apache2/conf-available/security.conf"
OWNERSHIP_PLANTS = {
    "apache-conf-writable-by-the-apps-group": (
        f"chgrp flaskapp {DEBIAN_CONF} && chmod g+w {DEBIAN_CONF}",
        f"chgrp root {DEBIAN_CONF} && chmod g-w {DEBIAN_CONF}",
        ["test_nothing_root_reads_or_runs_is_writable_but_by_root"],
    ),
    "loader-preload-owned-by-the-app": (
        "install -o flaskapp -m 644 /dev/null /etc/ld.so.preload",
        "rm -f /etc/ld.so.preload",
        ["test_nothing_root_reads_or_runs_is_writable_but_by_root"],
    ),
    "world-writable-unit": (
        "install -m 666 /dev/null /etc/systemd/system/planted.service",
        "rm -f /etc/systemd/system/planted.service",
        ["test_nothing_root_reads_or_runs_is_writable_but_by_root"],
    ),
    "venv-module-owned-by-the-app": (
        f"touch {SAMPLE.venv}/planted.py && chown flaskapp {SAMPLE.venv}/planted.py",
        f"rm -f {SAMPLE.venv}/planted.py",
        [
            "test_app_files_are_not_writable_by_the_daemon_user",
            "test_nothing_root_reads_or_runs_is_writable_but_by_root",
        ],
    ),
    "setuid-program-in-the-release": (
        f"install -m 4755 /bin/true {LIVE_APP}/helper",
        f"rm -f {LIVE_APP}/helper",
        ["test_no_setuid_or_setgid_file_in_what_the_deploy_made"],
    ),
    "setgid-folder-in-the-release": (
        f"install -d -m 2755 {LIVE_APP}/shared",
        f"rmdir {LIVE_APP}/shared",
        ["test_no_setuid_or_setgid_file_in_what_the_deploy_made"],
    ),
    "data-folder-open-to-all": (
        f"chmod 777 {SAMPLE.data_dir}",
        f"chmod 750 {SAMPLE.data_dir}",
        ["test_the_sites_folders_have_their_declared_owner_and_mode"],
    ),
}


UID_0 = "toor:x:0:0::/root:/usr/sbin/nologin"
SSHD_PLANT = "/etc/ssh/sshd_config.d/00-planted.conf"
APACHE_DROP_INS = "/etc/systemd/system/apache2.service.d"
LISTENER_PORT = 8081
# A server on a public address, started as another package's service would be, and ready.
LISTENER = (
    f"systemd-run --unit=planted-listener python3 -m http.server {LISTENER_PORT}"
    f" && for _ in $(seq 100); do ss -Hltn | grep -q ':{LISTENER_PORT} ' && break; sleep 0.1; done"
)
# What an attacker or a sloppy admin changes on the host around the sites.
BASELINE_PLANTS = {
    "second-uid-0-account": (
        f"echo '{UID_0}' >> /etc/passwd",
        "sed -i '/^toor:/d' /etc/passwd",
        ["test_root_is_the_only_account_with_uid_0"],
    ),
    "root-logs-in-with-a-password": (
        f"printf 'PermitRootLogin yes\\nPasswordAuthentication yes\\n' > {SSHD_PLANT}",
        f"rm -f {SSHD_PLANT}",
        ["test_sshd_takes_no_password_for_root"],
    ),
    "unknown-listener": (
        LISTENER,
        "systemctl stop planted-listener",
        ["test_nothing_unknown_listens_on_a_public_address"],
    ),
    "apt-upgrades-off": (
        "systemctl disable --now apt-daily-upgrade.timer",
        "systemctl enable --now apt-daily-upgrade.timer",
        ["test_apts_periodic_timers_are_on"],
    ),
    "apache-started-with-a-drop-in": (
        f"mkdir -p {APACHE_DROP_INS} && printf '[Service]\\nEnvironment=PLANTED=1\\n' > {APACHE_DROP_INS}/planted.conf"
        " && systemctl daemon-reload",
        f"rm -r {APACHE_DROP_INS} && systemctl daemon-reload",
        ["test_apache_runs_from_etc_apache2_under_debians_unit"],
    ),
}


@pytest.mark.parametrize("plant", [*OWNERSHIP_PLANTS, *BASELINE_PLANTS])
def test_a_planted_host_mistake_fails_exactly_its_checks(deployed, plant):
    do, undo, checks = {**OWNERSHIP_PLANTS, **BASELINE_PLANTS}[plant]
    try:
        deployed.sudo(do)
        verify = deployed.verify("-v")
        assert verify.returncode == 1
        assert sorted({test.split("[")[0] for test in failed(verify)}) == checks, verify.stdout[-3000:]
    finally:
        deployed.sudo(undo)


def test_a_listener_the_settings_expect_passes_and_the_baseline_can_be_left_out(deployed, tmp_path):
    baseline = ("-k", "test_host_baseline", "-v")
    deployed.sudo(LISTENER)
    try:
        (tmp_path / "expected").mkdir()
        expected = app_inventory(deployed, tmp_path / "expected", expected_listeners=[LISTENER_PORT])
        verify = deployed.verify(f"--inventory={expected}", *baseline)
        assert verify.returncode == 0, verify.stdout[-3000:]
        assert "test_nothing_unknown_listens_on_a_public_address" in verify.stdout

        (tmp_path / "left-out").mkdir()
        left_out = app_inventory(deployed, tmp_path / "left-out", verify_host_baseline=False)
        verify = deployed.verify(f"--inventory={left_out}", *baseline)
        assert "FAILED" not in verify.stdout and "PASSED" not in verify.stdout, verify.stdout[-3000:]
    finally:
        deployed.sudo("systemctl stop planted-listener")


SITE_PACKAGES = f"$(echo {SAMPLE.venv}/lib/python3*/site-packages)"
VENV_STEP = "Virtualenv from the host's python3 holds the pinned requirements"
# What a compromised account or a careless pip on the side leaves in the live virtualenv:
# the app still imports, and each runs at its every start.
VENV_PLANTS = {
    "pth-file-run-at-every-start": f"echo 'import os' > {SITE_PACKAGES}/zz-planted.pth",
    "module-edited-in-a-distribution": f"echo 'PLANTED = 1' >> {SITE_PACKAGES}/flask/__init__.py",
    "module-no-distribution-installed": f"echo 'PLANTED = 1' > {SITE_PACKAGES}/sitecustomize.py",
}


@pytest.mark.parametrize("plant", VENV_PLANTS)
def test_a_planted_venv_file_fails_exactly_its_check_and_a_deploy_repairs_it(deployed, plant):
    deployed.sudo(VENV_PLANTS[plant])
    try:
        verify = deployed.verify("-v")
        assert failed(verify) == [f"test_the_venvs_files_are_as_pip_installed_them[{deployed.hosts[0].alias}:flaskapp]"]
        check = deployed.awd("check")
        assert check.returncode == 2 and f"  - Application flaskapp | {VENV_STEP}" in check.stdout, check.stdout
        repaired = deployed.deploy()
        assert f"Application flaskapp | {VENV_STEP}" in repaired.changed
        assert deployed.deploy().changed == []
        assert deployed.verify("-k", "venv").returncode == 0
    finally:
        assert deployed.deploy().returncode == 0


# Apache reloaded as the deploy reloads it, returning once it serves the new configuration.
RELOAD = (
    f"{layout.HOST_PYTHON} {layout.RELOAD_TOOL} {layout.CONFIG_BEFORE_DIR} {layout.APACHE_DIR}"
    f" {layout.APACHE_ERROR_LOG} {layout.APACHE_PID_FILE} {layout.APACHE_SERVICE}"
)
CHAIN = SAMPLE.certificate_path
# The chain a hand-made fullchain sends: the test CA's root, which clients hold themselves.
ROOT = ca_bundle().read_text()
TLS_PLANTS = {
    "root-appended-to-the-chain": (
        f"printf '%s' {shlex.quote(ROOT)} >> {CHAIN}",
        ["test_the_certificate_chain_is_sent_in_order_without_its_root"],
    ),
    "chain-out-of-order": (
        # The leaf, the root, then the intermediate.
        f"{{ sed -n '1,/END CERTIFICATE/p' {CHAIN}; printf '%s' {shlex.quote(ROOT)};"
        f" sed '1,/END CERTIFICATE/d' {CHAIN}; }} > {CHAIN}.new && mv {CHAIN}.new {CHAIN}",
        ["test_the_certificate_chain_is_sent_in_order_without_its_root"],
    ),
    "session-tickets-on": (
        f"sed -i 's/SSLSessionTickets off/SSLSessionTickets on/' {SAMPLE.site_file}",
        ["test_session_tickets_are_off"],
    ),
}


@pytest.mark.parametrize("plant", TLS_PLANTS)
def test_a_planted_tls_mistake_fails_exactly_its_checks(deployed, plant):
    do, checks = TLS_PLANTS[plant]
    try:
        deployed.sudo(f"{do} && {RELOAD}")
        verify = deployed.verify("-v")
        assert verify.returncode == 1
        assert sorted({test.split("[")[0] for test in failed(verify)}) == checks, verify.stdout[-3000:]
    finally:
        # The deploy puts its certificate and vhost back, and reloads.
        assert deployed.deploy().returncode == 0

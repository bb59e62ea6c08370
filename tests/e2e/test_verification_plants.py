"""
What the verification suite finds that the deploy did not write: misconfigurations planted
on a deployed test host (a conf dropped in by hand, an app's careless answer), each
failing exactly the checks named for it, and apps that make their own choices passing.
"""

from __future__ import annotations

import re
import shlex

import pytest

from apache_wsgi_deploy.polling import poll
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


@pytest.mark.parametrize("plant", OWNERSHIP_PLANTS)
def test_a_planted_ownership_mistake_fails_exactly_its_checks(deployed, plant):
    do, undo, checks = OWNERSHIP_PLANTS[plant]
    try:
        deployed.sudo(do)
        verify = deployed.verify("-v")
        assert verify.returncode == 1
        assert sorted({test.split("[")[0] for test in failed(verify)}) == checks, verify.stdout[-3000:]
    finally:
        deployed.sudo(undo)

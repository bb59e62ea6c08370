"""
What the verification suite finds that the deploy did not write: misconfigurations planted
on a deployed test host (a conf dropped in by hand, a file made writable, a module in the
virtualenv, an app's careless answer), each failing exactly the check named for it, and
apps that make their own choices passing.

Plants are made several at once, each aimed at another check or naming another file, and
the whole suite runs once for them: the checks that fail must be exactly theirs, and each
failure must name its own plant, so no plant made another check fail. A run of the suite
costs about half a minute; one per plant would cost ten minutes.
"""

from __future__ import annotations

import base64
import datetime
import shlex
import uuid
from dataclasses import dataclass, field
from xml.etree import ElementTree

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.testhost import pki
from apache_wsgi_deploy.testhost.fleet import STATE, ca_bundle
from tests.e2e.conftest import SAMPLE
from tests.e2e.test_apps import app_inventory, one_module_app, passes_once_meant
from tests.e2e.test_deploy import probe
from tests.e2e.test_whole_server import DAEMONS, LEAKS, MODULES, ROUTES, TLS, failed

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
        assert failed(verify) == {f"test_cookies_are_secure_httponly_and_samesite[{deployed.hosts[0].alias}:flaskapp]"}
        assert "cookie sessionid lacks secure, httponly, samesite" in verify.stdout

        accepted = ["cookie-secure", "cookie-httponly", "cookie-samesite"]
        passes_once_meant(deployed, tmp_path, settings, HEADER_CHECKS, accepted_header_findings=accepted)
    finally:
        assert deployed.deploy().returncode == 0


@dataclass
class Plant:
    do: str  # a shell command, as root on the host
    check: str  # the check it must fail
    named: str  # what that check's failure must say of it
    undo: str = "true"  # the deploy puts back what it made; this, what it did not
    # Other checks it must fail, each -> what its failure must say: most often the
    # judgment of the directives it adds (checks/test_effective_config.py).
    also: dict[str, str] = field(default_factory=dict)

    def named_by_check(self) -> list[tuple[str, str]]:
        return [(self.check, self.named), *self.also.items()]


def failures(fleet, tmp_path, *args: str) -> dict[str, str]:
    """Each check the whole suite fails (its name, ids left out) -> its failures' text,
    read from the suite's JUnit report."""
    report = tmp_path / f"verify-{uuid.uuid4().hex}.xml"
    fleet.verify(f"--junitxml={report}", *args)
    failed = {}
    for case in ElementTree.parse(report).iter("testcase"):
        for failure in case.iter("failure"):
            name = case.get("name").split("[")[0]
            failed[name] = failed.get(name, "") + (failure.get("message") or "") + (failure.text or "")
    return failed


def assert_each_fails_exactly_its_check(fleet, tmp_path, plants: dict[str, Plant], *args: str) -> None:
    failed = failures(fleet, tmp_path, *args)
    expected = {check for plant in plants.values() for check, _ in plant.named_by_check()}
    assert sorted(failed) == sorted(expected), {name: text[-1500:] for name, text in failed.items()}
    unnamed = [
        (name, check)
        for name, plant in plants.items()
        for check, named in plant.named_by_check()
        if named not in failed[check]
    ]
    assert unnamed == [], {f"{name} in {check}": failed[check][-2000:] for name, check in unnamed}


CONF = "/etc/apache2/conf-enabled/zz-planted.conf"
# Apache reloaded as the deploy reloads it, returning once it serves the new configuration.
RELOAD = (
    f"{layout.HOST_PYTHON} {layout.RELOAD_TOOL} {layout.CONFIG_BEFORE_DIR} {layout.APACHE_DIR}"
    f" {layout.APACHE_ERROR_LOG} {layout.APACHE_PID_FILE} {layout.APACHE_SERVICE}"
)


def conf(*lines: str) -> str:
    """A conf a later hand adds (a <Location> merges after the vhost), then the reload."""
    return f"printf '%s\\n' {' '.join(map(shlex.quote, lines))} >> {CONF} && {RELOAD}"


def plant(fleet, plants: dict[str, Plant]) -> None:
    for made in plants.values():
        fleet.sudo(made.do)


def undo(fleet, plants: dict[str, Plant]) -> None:
    """Each plant's undoing, the conf removed and Apache reloaded (the deploy reloads only
    for what it changed), then the deploy."""
    fleet.sudo(" ; ".join(made.undo for made in plants.values()) + f" ; rm -f {CONF} && {RELOAD}")
    assert fleet.deploy().returncode == 0


LIVE_APP = f"{SAMPLE.current_dir}/app"
DEBIAN_CONF = "/etc/apache2/conf-available/security.conf"
SSHD_PLANT = "/etc/ssh/sshd_config.d/00-planted.conf"
APACHE_DROP_INS = "/etc/systemd/system/apache2.service.d"
LISTENER_PORT = 8081
# A server on a public address, started as another package's service would be, and ready.
LISTENER = (
    "systemd-run --unit=planted-listener python3 -c 'import signal, socket, sys;"
    ' server = socket.create_server(("", int(sys.argv[1]))); signal.pause()\''
    f" {LISTENER_PORT} && for _ in $(seq 100); do python3 -c 'import socket, sys;"
    f' socket.create_connection(("127.0.0.1", {LISTENER_PORT}), 1)\' 2>/dev/null && break; sleep 0.1; done'
)
WRITABLE = "test_nothing_root_reads_or_runs_is_writable_but_by_root"
SETUID = "test_no_setuid_or_setgid_file_in_what_the_deploy_made"
# What a sloppy admin, another package or an attacker changes on the host around the
# sites: files root reads made another's to write, setuid files, the baseline's.
HOST_PLANTS = {
    "apache-conf-writable-by-the-apps-group": Plant(
        f"chgrp flaskapp {DEBIAN_CONF} && chmod g+w {DEBIAN_CONF}", WRITABLE, DEBIAN_CONF,
        f"chgrp root {DEBIAN_CONF} && chmod g-w {DEBIAN_CONF}",
    ),
    "loader-preload-owned-by-the-app": Plant(
        "install -o flaskapp -m 644 /dev/null /etc/ld.so.preload", WRITABLE, "/etc/ld.so.preload",
        "rm -f /etc/ld.so.preload",
    ),
    "world-writable-unit": Plant(
        "install -m 666 /dev/null /etc/systemd/system/planted.service", WRITABLE, "planted.service",
        "rm -f /etc/systemd/system/planted.service",
    ),
    "venv-file-owned-by-the-app": Plant(
        f"touch {SAMPLE.venv}/planted.txt && chown flaskapp {SAMPLE.venv}/planted.txt", WRITABLE, "planted.txt",
        f"rm -f {SAMPLE.venv}/planted.txt",
    ),
    "venv-file-owned-by-the-app, as the app's user sees it": Plant(
        "true", "test_app_files_are_not_writable_by_the_daemon_user", "planted.txt"
    ),
    "setuid-program-in-the-release": Plant(
        f"install -m 4755 /bin/true {LIVE_APP}/helper", SETUID, "helper", f"rm -f {LIVE_APP}/helper"
    ),
    "setgid-folder-in-the-release": Plant(
        f"install -d -m 2755 {LIVE_APP}/shared", SETUID, "shared", f"rmdir {LIVE_APP}/shared"
    ),
    "data-folder-open-to-all": Plant(
        f"chmod 777 {SAMPLE.data_dir}", "test_the_sites_folders_have_their_declared_owner_and_mode", "777",
        f"chmod 750 {SAMPLE.data_dir}",
    ),
    "key-copied-beside-apaches-config": Plant(
        "mkdir -p /etc/apache2/ssl && printf -- '-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----\\n'"
        " > /etc/apache2/ssl/old.key",
        "test_private_keys_are_only_where_declared", "/etc/apache2/ssl/old.key", "rm -r /etc/apache2/ssl",
    ),
    "second-uid-0-account": Plant(
        "echo 'toor:x:0:0::/root:/usr/sbin/nologin' >> /etc/passwd", "test_root_is_the_only_account_with_uid_0",
        "toor", "sed -i '/^toor:/d' /etc/passwd",
    ),
    "root-logs-in-with-a-password": Plant(
        f"printf 'PermitRootLogin yes\\nPasswordAuthentication yes\\n' > {SSHD_PLANT}",
        "test_sshd_takes_no_password_for_root", "PermitRootLogin yes", f"rm -f {SSHD_PLANT}",
    ),
    "unknown-listener": Plant(
        LISTENER, "test_nothing_unknown_listens_on_a_public_address", f":{LISTENER_PORT}",
        "systemctl stop planted-listener",
    ),
    "apt-upgrades-off": Plant(
        "systemctl disable --now apt-daily-upgrade.timer", "test_apts_periodic_timers_are_on",
        "apt-daily-upgrade.timer", "systemctl enable --now apt-daily-upgrade.timer",
    ),
    "apache-started-with-a-drop-in": Plant(
        f"mkdir -p {APACHE_DROP_INS} && printf '[Service]\\nEnvironment=PLANTED=1\\n' > {APACHE_DROP_INS}/planted.conf"
        " && systemctl daemon-reload",
        "test_apache_runs_from_etc_apache2_under_debians_unit", "planted.conf",
        f"rm -r {APACHE_DROP_INS} && systemctl daemon-reload",
    ),
    "cors-reflecting-any-origin": Plant(
        conf(
            "<Location />",
            'Header always set Access-Control-Allow-Origin "expr=%{req:Origin}"',
            'Header always set Access-Control-Allow-Credentials "true"',
            "</Location>",
        ),
        "test_no_origin_may_read_answers_with_the_users_credentials", "https://foreign-origin.invalid",
        also={LEAKS: "Access-Control-Allow-Origin \"expr=%{req:Origin}\""},
    ),
}  # fmt: skip


def test_host_mistakes_each_fail_exactly_their_check(deployed, tmp_path):
    try:
        plant(deployed, HOST_PLANTS)
        assert_each_fails_exactly_its_check(deployed, tmp_path, HOST_PLANTS)
    finally:
        undo(deployed, HOST_PLANTS)


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


ADMIN_PORT = 8082
# What a hand-made fullchain sends besides: the test CA's root, which clients hold themselves.
ROOT = ca_bundle().read_text()


def chain(fleet) -> str:
    """The chain file the test host's vhost sends (its `files` certificate, by its name)."""
    return f"{SAMPLE.tls_dir}/{fleet.hosts[0].server_name}/fullchain.pem"


def answer_plants(chain: str) -> dict[str, Plant]:
    """Confs a later hand adds, and TLS as it is configured from an old guide."""
    return {
        "cors-wildcard-with-credentials": Plant(
            conf(
                "<Location />",
                'Header always set Access-Control-Allow-Origin "*"',
                'Header always set Access-Control-Allow-Credentials "true"',
                "Header always unset X-Content-Type-Options",
                "Header unset Content-Security-Policy",
                "Header always unset Content-Security-Policy",
                "</Location>",
            ),
            "test_no_origin_may_read_answers_with_the_users_credentials", "Access-Control-Allow-Origin: *",
            also={LEAKS: "Header always unset X-Content-Type-Options"},
        ),
        "proxy-to-an-internal-port": Plant(
            "a2enmod -q proxy_http && systemd-run --unit=planted-admin python3 -m http.server --bind 127.0.0.1"
            f" --directory {layout.APACHE_DIR} {ADMIN_PORT} && "
            + conf(f"ProxyPass /internal-admin/ http://127.0.0.1:{ADMIN_PORT}/"),
            "test_no_route_the_deploy_did_not_declare_serves_anything", "ProxyPass in",
            "systemctl stop planted-admin; a2dismod -q proxy_http proxy",
            also={ROUTES: f"ProxyPass /internal-admin/ http://127.0.0.1:{ADMIN_PORT}/"},
        ),
        "folder-listed-by-an-aliasmatch": Plant(
            conf(
                'AliasMatch "^/dump/(.*)$" "/var/backups/$1"',
                "<Directory /var/backups>", "Options +Indexes", "Require all granted", "</Directory>",
            ),
            "test_no_route_the_deploy_did_not_declare_serves_anything", "AliasMatch in",
            also={ROUTES: "<Directory /var/backups> Require all granted"},
        ),
        # "The load balancer is on the private network": so is the NAT every client comes through.
        "forwarded-address-trusted-from-a-network": Plant(
            "a2enmod -q remoteip && "
            + conf("RemoteIPHeader X-Forwarded-For", "RemoteIPInternalProxy 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16"),
            "test_sensitive_path_is_not_served", "/server-status answers 200",
            "a2dismod -q remoteip",
            also={ROUTES: "RemoteIPInternalProxy 10.0.0.0/8", MODULES: "remoteip_module"},
        ),
        # Unset by the conf above.
        "sniffing-allowed": Plant("true", "test_answers_forbid_mime_sniffing_and_say_the_referrer_policy", "nosniff"),
        "framing-allowed": Plant("true", "test_the_app_cannot_be_framed_by_other_sites", "other sites may frame"),
        "chain-out-of-order-with-its-root": Plant(
            # The leaf, the root, then the intermediate.
            f"{{ sed -n '1,/END CERTIFICATE/p' {chain}; printf '%s' {shlex.quote(ROOT)};"
            f" sed '1,/END CERTIFICATE/d' {chain}; }} > {chain}.new && mv {chain}.new {chain} && {RELOAD}",
            "test_the_certificate_chain_is_sent_in_order_without_its_root", "out of order",
        ),
        "session-tickets-on": Plant(
            f"sed -i 's/SSLSessionTickets off/SSLSessionTickets on/' {SAMPLE.site_file} && {RELOAD}",
            "test_session_tickets_are_off", "session tickets",
            also={TLS: "SSLSessionTickets on"},
        ),
    }  # fmt: skip


def test_answer_and_tls_mistakes_each_fail_exactly_their_check(deployed, tmp_path):
    plants = answer_plants(chain(deployed))
    try:
        plant(deployed, plants)
        assert_each_fails_exactly_its_check(deployed, tmp_path, plants)
    finally:
        undo(deployed, plants)


SITE_PACKAGES = f"$(echo {SAMPLE.venv}/lib/python3*/site-packages)"
VENV_STEP = "Virtualenv from the host's python3 holds the pinned requirements"
VENV_FILES = "test_the_venvs_files_are_as_pip_installed_them"


def repaired_plants(chain: str) -> dict[str, Plant]:
    """What a compromised account or a pip run on the side leaves in the live virtualenv
    (the app still imports, and each runs at its every start), and a root appended to the chain."""
    return {
        "pth-file-run-at-every-start": Plant(
            f"echo 'import os' > {SITE_PACKAGES}/zz-planted.pth", VENV_FILES, "zz-planted.pth"
        ),
        "module-edited-in-a-distribution": Plant(
            f"echo 'PLANTED = 1' >> {SITE_PACKAGES}/flask/__init__.py", VENV_FILES, "flask/__init__.py differs"
        ),
        "module-no-distribution-installed": Plant(
            f"echo 'PLANTED = 1' > {SITE_PACKAGES}/sitecustomize.py", VENV_FILES, "sitecustomize.py"
        ),
        "root-appended-to-the-chain": Plant(
            f"printf '%s' {shlex.quote(ROOT)} >> {chain} && {RELOAD}",
            "test_the_certificate_chain_is_sent_in_order_without_its_root",
            "includes its root",
        ),
    }


def test_virtualenv_and_chain_mistakes_fail_exactly_their_check_and_a_deploy_repairs_them(deployed, tmp_path):
    plants = repaired_plants(chain(deployed))
    try:
        plant(deployed, plants)
        assert_each_fails_exactly_its_check(deployed, tmp_path, plants)
        check = deployed.awd("check")
        assert check.returncode == 2 and f"  - Application flaskapp | {VENV_STEP}" in check.stdout, check.stdout
        repaired = deployed.deploy()
        assert VENV_STEP in repaired.changed
        assert deployed.deploy().changed == []
        assert failures(deployed, tmp_path, "-k", "venv or chain") == {}
    finally:
        undo(deployed, plants)


APACHE2_CONF = f"{layout.APACHE_DIR}/apache2.conf"
PORTS_CONF = f"{layout.APACHE_DIR}/ports.conf"
SSL_CONF = layout.module_file("ssl", "conf")
OUTSIDE = "/opt/planted"


def edited(path: str, edit: str) -> str:
    """A file Debian ships edited by hand (kept first, to put back), then the reload."""
    return f"cp -p {path} /root/planted-{path.rpartition('/')[2]} && {edit} && {RELOAD}"


def put_back(path: str) -> str:
    return f"mv /root/planted-{path.rpartition('/')[2]} {path}"


# Directives no one declares, in Debian's files, the deploy's own vhost, and a conf
# outside /etc/apache2 that an Include brings in: what the suite saw only by symptom.
CONFIG_PLANTS = {
    "keep-alive-off-in-debians-apache2.conf": Plant(
        edited(APACHE2_CONF, f"sed -i 's/^KeepAlive On/KeepAlive Off/' {APACHE2_CONF}"),
        DAEMONS, "KeepAlive Off", put_back(APACHE2_CONF),
    ),
    # A shorter queue: what the checks' own requests do not notice (maximum-requests=5 would
    # also fail the live-release check, whose requests recycle the daemons).
    "daemons-listen-backlog-cut-in-the-vhost": Plant(
        f"sed -i 's/ listen-backlog=[0-9]* / listen-backlog=5 /' {SAMPLE.site_file} && {RELOAD}",
        DAEMONS, "listen-backlog=5",
    ),
    "request-bodies-logged-by-a-conf-from-outside": Plant(
        f"mkdir -p {OUTSIDE} && printf '%s\\n' 'LoadModule dumpio_module {layout.APACHE_MODULES_DIR}/mod_dumpio.so'"
        f" 'LogLevel warn dumpio:trace7' 'DumpIOInput On' > {OUTSIDE}/debug.conf"
        f" && echo 'IncludeOptional {OUTSIDE}/*.conf' >> {APACHE2_CONF} && {RELOAD}",
        LEAKS, f"{OUTSIDE}/debug.conf:2: LogLevel warn dumpio:trace7", f"rm -r {OUTSIDE}",
        also={MODULES: "dumpio_module"},
    ),
    # In the folder the Include above reads: probed as any Alias is.
    "folder-listed-by-an-alias-from-outside": Plant(
        f"printf '%s\\n' 'Alias /planted /var/backups' '<Directory /var/backups>' 'Options +Indexes'"
        f" 'Require all granted' '</Directory>' > {OUTSIDE}/listing.conf && {RELOAD}",
        "test_no_aliased_folder_is_listed", f"(Alias in {OUTSIDE}/listing.conf)",
        also={ROUTES: f"{OUTSIDE}/listing.conf:1: Alias /planted /var/backups"},
    ),
    "every-protocol-in-debians-ssl.conf": Plant(
        edited(SSL_CONF, f"sed -i 's/^\\s*SSLProtocol .*/SSLProtocol all/' {SSL_CONF}"),
        TLS, "SSLProtocol all", put_back(SSL_CONF),
    ),
    "a-port-opened-in-ports.conf": Plant(
        edited(PORTS_CONF, f"echo 'Listen 127.0.0.1:8083' >> {PORTS_CONF}"),
        ROUTES, "ports.conf:", put_back(PORTS_CONF),
    ),
}  # fmt: skip


def test_undeclared_directives_fail_the_checks_of_what_they_do_and_the_drift_check_names_each(deployed, tmp_path):
    try:
        plant(deployed, CONFIG_PLANTS)
        assert_each_fails_exactly_its_check(deployed, tmp_path, CONFIG_PLANTS)
        drift = deployed.awd("check")
        assert drift.returncode == 2, drift.stdout
        undeclared = "  - declared by neither the deploy nor Debian: "
        listed = [line for line in drift.stdout.splitlines() if line.startswith(undeclared)]
        for named in ("KeepAlive Off", "dumpio:trace7", "SSLProtocol all", "Listen 127.0.0.1:8083"):
            assert any(named in line for line in listed), named
        assert f"{undeclared}module dumpio_module is loaded" in listed
        # An edit to the deploy's own vhost is its diff.
        assert "  - Site flaskapp | VirtualHosts are rendered" in drift.stdout
        assert not any("listen-backlog=5" in line for line in listed)
        # A deploy puts back its own vhost, and leaves Debian's files as they are, saying so.
        repaired = deployed.deploy()
        assert "VirtualHosts are rendered" in repaired.changed
        assert "Apache runs what neither this deploy nor Debian declares" in repaired.stderr
        drift = deployed.awd("check")
        assert "listen-backlog=5" not in drift.stdout and "KeepAlive Off" in drift.stdout, drift.stdout
    finally:
        undo(deployed, CONFIG_PLANTS)


OCSP_PORT = 8089
RESPONDER = "/root/planted-ocsp"
# Run by the test host's python3: answers every OCSP request with the one response signed
# for the test (mod_ssl sends no nonce, so one answer fits every request).
_ANSWER = """
import http.server, sys
answer = open(sys.argv[1], "rb").read()
class Answer(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/ocsp-response")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[2])), Answer).serve_forever()
"""


def good_status(leaf: x509.Certificate) -> bytes:
    """The test CA's intermediate saying leaf is good, for the next hour (DER)."""
    ca = STATE / "ca"
    intermediate = x509.load_pem_x509_certificate((ca / "intermediate.pem").read_bytes())
    key = serialization.load_pem_private_key((ca / "intermediate.key").read_bytes(), None)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf, issuer=intermediate, algorithm=hashes.SHA1(), cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=now - datetime.timedelta(minutes=1), next_update=now + datetime.timedelta(hours=1),
            revocation_time=None, revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, intermediate)
    )  # fmt: skip
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def ocsp_responder(leaf: x509.Certificate) -> str:
    """A responder on the test host's loopback (a transient unit), then a wait until it listens."""
    answer = base64.b64encode(good_status(leaf)).decode()
    return (
        f"mkdir -p -m 700 {RESPONDER} && echo {answer} | base64 -d > {RESPONDER}/answer.der"
        f" && systemd-run --collect --unit=planted-ocsp python3 -c {shlex.quote(_ANSWER)} {RESPONDER}/answer.der"
        f" {OCSP_PORT} && for _ in $(seq 100); do python3 -c 'import socket;"
        f' socket.create_connection(("127.0.0.1", {OCSP_PORT}), 1)\' 2>/dev/null && break; sleep 0.1; done'
    )


def test_a_certificate_naming_an_ocsp_responder_is_stapled_with_its_good_status(deployed, tmp_path):
    """The deploy staples what names a responder; the check reads the answer sent."""
    name = deployed.hosts[0].server_name
    folder = pki.issue_leaf(STATE, tmp_path / "ocsp", [name], ocsp_url=f"http://127.0.0.1:{OCSP_PORT}")
    leaf = x509.load_pem_x509_certificate((folder / "cert.pem").read_bytes())
    certificate = {
        "tls_certificate_file": str(folder / "cert.pem"),
        "tls_chain_file": str(folder / "chain.pem"),
        "tls_key_file": str(folder / "privkey.pem"),
    }
    try:
        deployed.sudo(ocsp_responder(leaf))
        inventory = app_inventory(deployed, tmp_path, **certificate)
        assert deployed.deploy(inventory=inventory).returncode == 0
        verify = deployed.verify(f"--inventory={inventory}", "-k", "test_tls_scan or test_effective_config", "-v")
        assert verify.returncode == 0, verify.stdout[-3000:]
        assert "test_ocsp_stapling_is_as_declared" in verify.stdout
        # The responder gone and Apache's cache of its answers with it (a restart): Apache
        # staples a "try later" of its own.
        deployed.sudo(f"systemctl stop planted-ocsp && systemctl restart {layout.APACHE_SERVICE}")
        stopped = failures(deployed, tmp_path, f"--inventory={inventory}", "-k", "test_tls_scan")
        assert list(stopped) == ["test_ocsp_stapling_is_as_declared"], stopped
        assert "the stapled OCSP response is TRY_LATER" in stopped["test_ocsp_stapling_is_as_declared"]
    finally:
        deployed.sudo(f"systemctl stop planted-ocsp; rm -rf {RESPONDER}")
        assert deployed.deploy().returncode == 0

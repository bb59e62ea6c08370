"""
The deploy units deploy.py composes: packages, app, apache, tls, site, then Apache's service.

Each unit takes the host's validated Settings; apache(), tls() and site() return the
operations whose changes Apache must reload for, and service() reloads once for all.
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.files import File
from pyinfra.facts.hardware import Cpus
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID
from pyinfra.operations import files, server, systemd
from pyinfra.operations.util import any_changed

from apache_wsgi_deploy.facts.tls import CERTBOT_DIR, CertbotLineage
from apache_wsgi_deploy.operations import apache, certbot, managed, packages as debian, python, tls as host_tls
from apache_wsgi_deploy.operations.python import PIN
from apache_wsgi_deploy.settings import Settings

PROJECT = Path(__file__).resolve().parent.parent
TEMPLATES = PROJECT / "templates"

APT_PACKAGES = ["apache2", "libapache2-mod-wsgi-py3", "python3-venv"]
# certbot's timer renews; Debian's package also ships a cron entry for hosts without systemd.
ACME_PACKAGES = ["certbot"]
# What the site uses: alias (Redirect, ACME challenges), headers (HSTS), ssl and its
# session and stapling cache, wsgi.
APACHE_MODULES = ["mpm_event", "alias", "headers", "socache_shmcb", "ssl", "wsgi"]
# Never needed by a WSGI site, each a way to run or write files through Apache (DevSec apache-08).
UNUSED_MODULES = ["cgi", "cgid", "dav", "dav_fs", "include"]
# One MPM loads at a time: the others go before a2enmod can enable event.
OTHER_MPMS = ["mpm_prefork", "mpm_worker"]
DAEMON_ONLY_CONF = "wsgi-daemon-only"
HARDENING_CONF = "hardening"
PERFORMANCE_CONF = "performance"
# Debian's: ServerTokens OS, ServerSignature On, TraceEnable Off. Ours replaces it.
DEBIAN_SECURITY_CONF = "security"
ACME_CHALLENGE_CONF = "acme-challenge"
# Served at /.well-known/acme-challenge/ on every name, outside any DocumentRoot.
ACME_WEBROOT = "/var/lib/apache-wsgi-deploy/acme"
ACME_CA_FILE = "/usr/local/share/ca-certificates/apache-wsgi-deploy-acme.crt"
RENEWAL_HOOK = f"{CERTBOT_DIR}/renewal-hooks/deploy/apache-wsgi-deploy-reload"
# certbot runs deploy hooks after each renewal: a graceful reload serves the new
# certificate without a restart, and never with a config that fails its test.
RENEWAL_HOOK_SCRIPT = """#!/bin/sh
# Managed by apache-wsgi-deploy: serve a renewed certificate without dropping requests.
apache2ctl configtest && exec systemctl reload apache2.service
"""
RELOAD_OWED = "/var/lib/apache-wsgi-deploy/apache-reload-owed"
# Everything the deploy writes belongs to root: the daemon user can read, never write.
ROOT_OWNED = {"user": "root", "group": "root"}


def project_path(path: str) -> Path:
    """Settings name control-machine files relative to the project folder."""
    return PROJECT / path


def pinned_requirements(requirements: Path) -> list[str]:
    """The app's requirements, each `name==version`: what the venv is compared with."""
    lines = [line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines()]
    pins = [line for line in lines if line]
    unpinned = [line for line in pins if not PIN.fullmatch(line)]
    if unpinned:
        raise DeployError(f"{requirements}: pin every requirement as name==version: {unpinned}")
    return pins


def apt_packages(settings: Settings) -> list[str]:
    return APT_PACKAGES + (ACME_PACKAGES if settings.tls_certificate_source == "acme" else [])


@deploy("Packages")
def packages(settings: Settings):
    debian.installed(
        name="Apache, mod_wsgi and venv are installed",
        packages=apt_packages(settings),
        cache_time=settings.apt_cache_time,
    )


@deploy("Application")
def app(settings: Settings):
    source = project_path(settings.app_source)
    files.directory(
        name="App folder exists, owned by root",
        path=settings.app_install_path,
        **ROOT_OWNED,
        mode="755",
    )
    code = managed.tree(
        name="App code is in place, read-only for the daemon",
        src=str(source),
        dest=settings.app_code_dir,
        **ROOT_OWNED,
        mode="644",
        dir_mode="755",
        exclude=["*.pyc", "__pycache__"],
    )
    venv = python.venv_requirements(
        name="Virtualenv from the host's python3 holds the pinned requirements",
        requirements=pinned_requirements(source / "requirements.txt"),
        venv=settings.venv,
        # The Python Debian's mod_wsgi is built against.
        python="/usr/bin/python3",
    )
    entry = managed.template(
        name="WSGI entry point is rendered",
        src=str(TEMPLATES / "app.wsgi.j2"),
        dest=settings.wsgi_script,
        **ROOT_OWNED,
        mode="644",
        s=settings,
    )
    # mod_wsgi restarts the daemon processes when the .wsgi file's mtime changes: new
    # code is picked up without reloading Apache.
    files.file(
        name="Daemon processes pick up new code",
        path=settings.wsgi_script,
        touch=True,
        _if=lambda: (code.did_change() or venv.did_change()) and not entry.did_change(),
    )


def _server_conf(conf: str, rendered: str, enabled: str, **variables) -> list:
    """conf-available/<conf>.conf from templates/<conf>.conf.j2, and its link in conf-enabled."""
    written = apache.config_template(
        name=rendered,
        src=str(TEMPLATES / f"{conf}.conf.j2"),
        dest=f"/etc/apache2/conf-available/{conf}.conf",
        **ROOT_OWNED,
        mode="644",
        **variables,
    )
    return [written, apache.conf(name=enabled, conf=conf)]


@deploy("Apache")
def apache_config(settings: Settings):
    """Server-wide: the modules every site needs, daemon-mode-only WSGI, hardening, keep-alive."""
    unused = apache.modules(
        name="Modules no site needs are disabled", modules=UNUSED_MODULES + OTHER_MPMS, enabled=False
    )
    modules = apache.modules(
        name="Modules the site uses are enabled", modules=APACHE_MODULES + (["http2"] if settings.http2 else [])
    )
    daemon_only = _server_conf(DAEMON_ONLY_CONF, "Embedded mode is off", "Embedded mode off is enabled")
    hardening = _server_conf(
        HARDENING_CONF, "Server-wide hardening is rendered", "Server-wide hardening is enabled", s=settings
    )
    performance = _server_conf(
        PERFORMANCE_CONF, "Keep-alive settings are rendered", "Keep-alive settings are enabled", s=settings
    )
    # Loaded after ours (conf-enabled is read in name order), it would win.
    debian_security = apache.conf(
        name="Debian's security.conf gives way to ours", conf=DEBIAN_SECURITY_CONF, enabled=False
    )
    return [unused, modules, *daemon_only, *hardening, *performance, debian_security]


@deploy("TLS")
def tls(settings: Settings):
    """The certificate and key the HTTPS vhost names, from the configured source."""
    source = settings.tls_certificate_source
    if source == "acme":
        return _acme_certificate(settings)
    # Switching away from ACME: port 80 stops answering challenges.
    challenge = apache.conf(name="ACME challenges are not served", conf=ACME_CHALLENGE_CONF, enabled=False)
    # Only Apache's parent process, as root, reads keys and certificates; a private
    # folder also hides the key in the moment between its copy and its chmod.
    files.directory(
        name="Certificate folder exists, root only",
        path=settings.site_tls_dir,
        **ROOT_OWNED,
        mode="700",
    )
    if source == "selfsigned":
        generated = host_tls.selfsigned(
            name="Self-signed certificate names the site",
            certificate=settings.certificate_path,
            key=settings.key_path,
            names=settings.names(),
        )
        return [challenge, generated]
    return [challenge, *_uploaded_certificate(settings)]


def _uploaded_certificate(settings: Settings) -> list:
    certificate = project_path(settings.tls_certificate_file).read_text()
    chain = project_path(settings.tls_chain_file).read_text()
    fullchain = managed.file(
        name="Certificate and chain are in place",
        src=StringIO(certificate.rstrip("\n") + "\n" + chain),
        dest=settings.certificate_path,
        **ROOT_OWNED,
        mode="644",
    )
    key = managed.file(
        name="Private key is in place, 0600 root",
        src=str(project_path(settings.tls_key_file)),
        dest=settings.key_path,
        **ROOT_OWNED,
        mode="600",
        private=True,
    )
    return [fullchain, key]


def _acme_certificate(settings: Settings) -> list:
    if settings.acme_ca_bundle is not None:
        trusted = managed.file(
            name="Private ACME server's CA is trusted",
            src=str(project_path(settings.acme_ca_bundle)),
            dest=ACME_CA_FILE,
            **ROOT_OWNED,
            mode="644",
        )
    else:
        trusted = files.file(name="No private ACME CA is trusted", path=ACME_CA_FILE, present=False)
    # certbot (Debian's python3-requests) trusts the system store, renewals included.
    server.shell(
        name="System trust store is rebuilt",
        commands=["update-ca-certificates --fresh >/dev/null"],
        _if=trusted.did_change,
    )
    files.directory(
        name="ACME challenge folder exists",
        path=f"{ACME_WEBROOT}/.well-known/acme-challenge",
        **ROOT_OWNED,
        mode="755",
    )
    challenge = _server_conf(
        ACME_CHALLENGE_CONF, "Port 80 answers ACME challenges", "ACME challenges are served", webroot=ACME_WEBROOT
    )
    managed.file(
        name="Renewals reload Apache gracefully",
        src=StringIO(RENEWAL_HOOK_SCRIPT),
        dest=RENEWAL_HOOK,
        **ROOT_OWNED,
        mode="755",
    )
    issued = certbot.certificate(
        name="Certificate from the ACME CA covers every name",
        cert_name=settings.server_name,
        names=settings.names(),
        directory_url=settings.acme_directory_url,
        webroot=ACME_WEBROOT,
        key_type=settings.acme_key_type,
        email=settings.acme_email,
    )
    systemd.service(
        name="certbot's renewal timer is active",
        service="certbot.timer",
        running=True,
        enabled=True,
    )
    return [*challenge, issued]


def ocsp_stapling(settings: Settings) -> bool:
    """Staple only a certificate that names an OCSP responder: Let's Encrypt's no longer do."""
    if settings.tls_certificate_source == "files":
        leaf = x509.load_pem_x509_certificate(project_path(settings.tls_certificate_file).read_bytes())
        try:
            access = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        except x509.ExtensionNotFound:
            return False
        return any(item.access_method == AuthorityInformationAccessOID.OCSP for item in access)
    if settings.tls_certificate_source == "acme":
        # The fact the certificate operation reads anyway. Known once certbot has the
        # certificate: a first deploy staples from the next run on.
        lineage = host.get_fact(CertbotLineage, cert_name=settings.server_name)
        return bool(lineage and lineage["ocsp_urls"])
    return False


def daemon_processes(settings: Settings) -> int:
    """The host's CPU count is asked for only when the setting is "auto"."""
    return settings.daemon_processes(host.get_fact(Cpus) if settings.wsgi_processes == "auto" else 0)


@deploy("Site")
def site(settings: Settings):
    vhosts = apache.config_template(
        name="VirtualHosts are rendered",
        src=str(TEMPLATES / "site.conf.j2"),
        dest=f"/etc/apache2/sites-available/{settings.app_name}.conf",
        **ROOT_OWNED,
        mode="644",
        s=settings,
        ocsp_stapling=ocsp_stapling(settings),
        processes=daemon_processes(settings),
    )
    enabled = apache.site(name="Site is enabled", site=settings.app_name)
    default = apache.site(name="Stock site is disabled", site="000-default", enabled=False)
    return [vhosts, enabled, default]


@deploy("Apache service")
def service(reload_when: list):
    systemd.service(
        name="Apache is running and enabled at boot",
        service="apache2.service",
        running=True,
        enabled=True,
    )
    # A reload that failed (configtest) is owed until one succeeds: the next run finds
    # the files already in place, so only this marker tells it to reload.
    owed_before = bool(host.get_fact(File, path=RELOAD_OWED))
    changed = any_changed(*reload_when)
    files.file(name="Apache owes a reload", path=RELOAD_OWED, **ROOT_OWNED, _if=changed)
    reload = apache.reload(
        name="Apache reloads after its configtest passed",
        _if=lambda: owed_before or changed(),
    )
    files.file(name="Apache owes no reload", path=RELOAD_OWED, present=False, _if=reload.did_change)

"""
The deploy units deploy.py composes: packages, then per site its app, the server-wide
Apache config and ACME, per site its certificate and vhosts, Apache's service, and what
removed sites leave behind.

Host-wide units take the host's validated Settings, per-site units one of its Sites; the
units that return operations return those whose changes Apache must reload for, and
service() reloads once for all.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import subprocess
import time
import tomllib
from io import StringIO
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID
from pyinfra import host, logger
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.files import File
from pyinfra.facts.hardware import Cpus
from pyinfra.operations import files, server, systemd
from pyinfra.operations.util import any_changed

from apache_wsgi_deploy.facts.apache import UNDECLARED_SITE, ManagedSites
from apache_wsgi_deploy.facts.releases import Releases
from apache_wsgi_deploy.facts.tls import CERTBOT_DIR, CertbotLineage
from apache_wsgi_deploy.operations import accounts, apache, certbot, managed, python, releases
from apache_wsgi_deploy.operations import packages as debian
from apache_wsgi_deploy.operations import tls as host_tls
from apache_wsgi_deploy.operations.python import PIN
from apache_wsgi_deploy.settings import Settings, Site

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
HEALTH_CHECK = "/var/lib/apache-wsgi-deploy/healthcheck.py"
# The Python Debian's mod_wsgi is built against: every virtualenv is made from it.
HOST_PYTHON = "/usr/bin/python3"
COMMIT = re.compile(r"^[0-9a-f]{40}$")
GIT_TIMEOUT = 60
CODE_EXCLUDE = ["*.pyc", "__pycache__"]
# Everything the deploy writes belongs to root: the daemon user can read, never write.
ROOT_OWNED = {"user": "root", "group": "root"}


def project_path(path: str) -> Path:
    """Settings name control-machine files relative to the project folder."""
    return PROJECT / path


def requirements_digest(requirements: list[str]) -> str:
    """Names the virtualenv of these pins: releases with equal requirements share one."""
    return hashlib.sha1("\n".join(sorted(requirements)).encode()).hexdigest()[:12]


def pinned_requirements(source: Path) -> list[str]:
    """The app's requirements, each `name==version`, from its requirements.txt or else the
    [project] dependencies of its pyproject.toml: what the venv is compared with."""
    requirements = source / "requirements.txt"
    if requirements.exists():
        lines = [line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines()]
    elif (source / "pyproject.toml").exists():
        requirements = source / "pyproject.toml"
        lines = tomllib.loads(requirements.read_text()).get("project", {}).get("dependencies", [])
    else:
        raise DeployError(f"{source}: no requirements.txt or pyproject.toml to build the virtualenv from")
    pins = [line.strip() for line in lines if line.strip()]
    unpinned = [line for line in pins if not PIN.fullmatch(line)]
    if unpinned:
        raise DeployError(f"{requirements}: pin every requirement as name==version: {unpinned}")
    return pins


def app_environment(site: Site) -> dict[str, str]:
    """app_env's values, read now from the control machine's environment and files."""
    values = {}
    for name, source in site.app_env.items():
        if isinstance(source, str):
            values[name] = source
        elif "from_env" in source:
            values[name] = os.environ[source["from_env"]]
        else:
            values[name] = project_path(source["from_file"]).read_text().rstrip("\n")
    return values


def apt_packages(settings: Settings) -> list[str]:
    git = ["git"] if any(site.from_git for site in settings.present_sites) else []
    return APT_PACKAGES + (ACME_PACKAGES if settings.uses_acme() else []) + git


def site_deploy(title: str):
    """@deploy for one site's operations, named "<title> <app_name>": several sites'
    operations stay apart in pyinfra's output and the drift check's report."""

    def decorator(func):
        @functools.wraps(func)
        def wrapper(site: Site, *args, **kwargs):
            with host.deploy(name=f"{title} {site.app_name}", kwargs=None, data=None):
                return func(site, *args, **kwargs)

        return wrapper

    return decorator


@deploy("Packages")
def packages(settings: Settings):
    debian.installed(
        name="Apache, mod_wsgi and venv are installed",
        packages=apt_packages(settings),
        cache_time=settings.apt_cache_time,
    )


@site_deploy("Application")
def app(site: Site):
    # Only the daemon's group reads the code: another app's user cannot. Apache's own
    # children may only pass through the folder, to find the .wsgi file it maps / to.
    app_files = {"user": "root", "group": site.wsgi_group}
    if site.dedicated_user:
        accounts.system_user(name="The app's own system user exists", user=site.wsgi_user, home=site.app_install_path)
    files.directory(
        name="App folder exists, owned by root",
        path=site.app_install_path,
        **app_files,
        mode="751",
    )
    # A release is named by its content (a commit, or a local folder's digest): the same
    # code is the same release, found again.
    if site.from_git:
        commit = git_commit(site.app_source["git"], site.app_source["ref"])
        content = commit[:12]
    else:
        content = managed.tree_digest(project_path(site.app_source), CODE_EXCLUDE)
    known = host.get_fact(Releases, install_path=site.app_install_path)["releases"]
    release = next((name for name in known if name.endswith(f"-{content}")), None)
    release = release or f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{content}"
    release_dir = f"{site.releases_dir}/{release}"
    if site.from_git:
        code = releases.from_git(
            name="Release holds the commit's code, read-only for the daemon",
            url=site.app_source["git"],
            ref=site.app_source["ref"],
            commit=commit,
            cache=site.git_cache,
            release=release_dir,
            group=site.wsgi_group,
            static_dir=site.static_dir if site.static_url is not None else None,
        )
        packages = python.release_venv(
            name="Release uses the virtualenv of its requirements",
            release=release_dir,
            venvs=site.venvs_dir,
            python=HOST_PYTHON,
        )
    else:
        code, packages = _local_release(site, release_dir, app_files)
    environment = managed.file(
        name="App environment is in place, for the app alone",
        src=StringIO(json.dumps(app_environment(site), indent=1, sort_keys=True) + "\n"),
        dest=site.env_file,
        **app_files,
        mode="640",
        private=True,
    )
    entry = managed.template(
        name="WSGI entry point is rendered",
        src=str(TEMPLATES / "app.wsgi.j2"),
        dest=site.wsgi_script,
        **app_files,
        mode="640",
        site=site,
    )
    switched = releases.live(
        name="Release is live, once its health check passed",
        install_path=site.app_install_path,
        release=release,
        wsgi_script=site.wsgi_script,
        health_check=[
            "runuser",
            "-u",
            site.wsgi_user,
            "--",
            f"{release_dir}/venv/bin/python",
            HEALTH_CHECK,
            release_dir,
            site.env_file,
            site.wsgi_module,
            site.wsgi_callable,
            site.health_check_path,
        ],
    )
    releases.pruned(
        name="Only the newest releases are kept",
        install_path=site.app_install_path,
        keep=site.releases_kept,
        live=release,
    )
    # mod_wsgi restarts the daemon processes when the .wsgi file's mtime changes: new
    # values, or a live release put back as deployed, are picked up without an Apache reload.
    files.file(
        name="Daemon processes restart for a new environment or a repaired release",
        path=site.wsgi_script,
        touch=True,
        _if=lambda: (
            (environment.did_change() or code.did_change() or packages.did_change())
            and not (entry.did_change() or switched.did_change())
        ),
    )


def _local_release(site: Site, release_dir: str, app_files: dict) -> tuple:
    """A release from a folder on the control machine: compared file by file, so an edit
    of the live release on the host is put back."""
    source = project_path(site.app_source)
    code = managed.tree(
        name="Release holds the app's code, read-only for the daemon",
        src=str(source),
        dest=f"{release_dir}/app",
        **app_files,
        mode="640",
        dir_mode="750",
        exclude=CODE_EXCLUDE,
    )
    requirements = pinned_requirements(source)
    venv = requirements_digest(requirements)
    packages = python.venv_requirements(
        name="Virtualenv from the host's python3 holds the pinned requirements",
        requirements=requirements,
        venv=f"{site.venvs_dir}/{venv}",
        python=HOST_PYTHON,
    )
    files.link(
        name="Release uses the virtualenv of its requirements",
        path=f"{release_dir}/venv",
        target=f"../../venvs/{venv}",
        **ROOT_OWNED,
    )
    if site.static_url is not None:
        # Public by nature, and read by Apache's own children: not the code's private modes.
        managed.tree(
            name="Release holds the static files, for Apache",
            src=str(project_path(site.static_source)),
            dest=f"{release_dir}/static",
            **ROOT_OWNED,
            mode="644",
            dir_mode="755",
        )
    return code, packages


@functools.cache
def git_commit(url: str, ref: str) -> str:
    """The commit a branch or tag names now. The control machine asks the repository
    (git ls-remote, no clone): the deploy names the release before the host has git."""
    if COMMIT.fullmatch(ref):
        return ref
    listed = subprocess.run(
        ["git", "ls-remote", url, ref, f"{ref}^{{}}"],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )
    if listed.returncode:
        raise DeployError(f"git ls-remote {url} {ref} failed: {listed.stderr.strip()}")
    refs = dict(reversed(line.split("\t", 1)) for line in listed.stdout.splitlines())
    # An annotated tag's own object first peeled to its commit ("^{}").
    for name in (f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}", f"refs/heads/{ref}", ref):
        if name in refs:
            return refs[name]
    raise DeployError(f"{url} has no branch or tag {ref!r} (a commit must be given in full, 40 hex digits)")


@site_deploy("Application")
def former_layout_removed(site: Site):
    """After the reload: the code and venv folders of the layout before releases."""
    releases.former_layout_removed(
        name="Folders of the layout before releases are removed", install_path=site.app_install_path
    )


@deploy("Tools")
def tools():
    managed.file(
        name="Release health check is in place",
        src=str(PROJECT / "apache_wsgi_deploy" / "healthcheck.py"),
        dest=HEALTH_CHECK,
        **ROOT_OWNED,
        mode="644",
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
    http2 = any(site.http2 for site in settings.present_sites)
    modules = apache.modules(
        name="Modules the site uses are enabled", modules=APACHE_MODULES + (["http2"] if http2 else [])
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
    default = apache.site(name="Stock site is disabled", site="000-default", enabled=False)
    return [unused, modules, *daemon_only, *hardening, *performance, debian_security, default]


@deploy("ACME")
def acme(settings: Settings):
    """Host-wide, for every site whose certificate comes from ACME: the CA's trust, the
    challenge folder port 80 serves, and renewals that reload Apache."""
    if not settings.uses_acme():
        return [apache.conf(name="ACME challenges are not served", conf=ACME_CHALLENGE_CONF, enabled=False)]
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
    systemd.service(
        name="certbot's renewal timer is active",
        service="certbot.timer",
        running=True,
        enabled=True,
    )
    return challenge


@site_deploy("TLS")
def tls(site: Site, settings: Settings):
    """The certificate and key the site's HTTPS vhost names, from its source."""
    source = site.tls_certificate_source
    if source == "acme":
        return [
            certbot.certificate(
                name="Certificate from the ACME CA covers every name",
                cert_name=site.server_name,
                names=site.names(),
                directory_url=settings.acme_directory_url,
                webroot=ACME_WEBROOT,
                key_type=settings.acme_key_type,
                email=settings.acme_email,
            )
        ]
    # Only Apache's parent process, as root, reads keys and certificates; a private
    # folder also hides the key in the moment between its copy and its chmod.
    files.directory(
        name="Certificate folder exists, root only",
        path=site.site_tls_dir,
        **ROOT_OWNED,
        mode="700",
    )
    if source == "selfsigned":
        generated = host_tls.selfsigned(
            name="Self-signed certificate names the site",
            certificate=site.certificate_path,
            key=site.key_path,
            names=site.names(),
        )
        return [generated]
    return _uploaded_certificate(site)


def _uploaded_certificate(site: Site) -> list:
    certificate = project_path(site.tls_certificate_file).read_text()
    chain = project_path(site.tls_chain_file).read_text()
    fullchain = managed.file(
        name="Certificate and chain are in place",
        src=StringIO(certificate.rstrip("\n") + "\n" + chain),
        dest=site.certificate_path,
        **ROOT_OWNED,
        mode="644",
    )
    key = managed.file(
        name="Private key is in place, 0600 root",
        src=str(project_path(site.tls_key_file)),
        dest=site.key_path,
        **ROOT_OWNED,
        mode="600",
        private=True,
    )
    return [fullchain, key]


def ocsp_stapling(site: Site) -> bool:
    """Staple only a certificate that names an OCSP responder: Let's Encrypt's no longer do."""
    if site.tls_certificate_source == "files":
        leaf = x509.load_pem_x509_certificate(project_path(site.tls_certificate_file).read_bytes())
        try:
            access = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        except x509.ExtensionNotFound:
            return False
        return any(item.access_method == AuthorityInformationAccessOID.OCSP for item in access)
    if site.tls_certificate_source == "acme":
        # The fact the certificate operation reads anyway. Known once certbot has the
        # certificate: a first deploy staples from the next run on.
        lineage = host.get_fact(CertbotLineage, cert_name=site.server_name)
        return bool(lineage and lineage["ocsp_urls"])
    return False


def daemon_processes(site: Site) -> int:
    """The host's CPU count is asked for only when the setting is "auto"."""
    return site.daemon_processes(host.get_fact(Cpus) if site.wsgi_processes == "auto" else 0)


def site_conf(site: Site) -> str:
    return f"/etc/apache2/sites-available/{site.app_name}.conf"


@site_deploy("Site")
def site(site: Site):
    vhosts = apache.config_template(
        name="VirtualHosts are rendered",
        src=str(TEMPLATES / "site.conf.j2"),
        dest=site_conf(site),
        **ROOT_OWNED,
        mode="644",
        site=site,
        ocsp_stapling=ocsp_stapling(site),
        processes=daemon_processes(site),
    )
    enabled = apache.site(name="Site is enabled", site=site.app_name)
    return [vhosts, enabled]


@site_deploy("Removed site")
def site_removed(site: Site):
    """Apache stops serving an absent site at the next reload, its daemon processes with it."""
    disabled = apache.site(name="Site is disabled", site=site.app_name, enabled=False)
    deleted = apache.config_absent(name="VirtualHosts are deleted", path=site_conf(site))
    return [disabled, deleted]


def undeclared_sites_reported(settings: Settings) -> None:
    """A site dropped from `sites` instead of marked absent keeps serving: the deploy
    cannot know its folder, user or certificate to remove them. Said, not guessed."""
    declared = {site.app_name for site in settings.sites}
    for name in host.get_fact(ManagedSites):
        if name not in declared:
            logger.warning(
                f"{host.name}: site {name!r} (sites-available/{name}.conf) {UNDECLARED_SITE}, so it is left"
                ' as it is. To remove it, list it with "app_present": False and deploy.'
            )


@site_deploy("Removed app")
def app_removed(site: Site):
    """After the reload: an absent site's files, certificate and own user."""
    files.directory(name="App folder is deleted", path=site.app_install_path, present=False)
    if site.tls_certificate_source == "acme":
        certbot.certificate_removed(name="Certificate is deleted", cert_name=site.server_name)
    else:
        files.directory(name="Certificate folder is deleted", path=site.site_tls_dir, present=False)
    if site.dedicated_user:
        accounts.system_user_removed(
            name="The app's own user is deleted", user=site.wsgi_user, home=site.app_install_path
        )


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

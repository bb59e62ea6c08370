"""
What the deploy declares Apache runs with: the variables each of its templates is
rendered with, and the files it renders into Apache's configuration. The deploy units
write them; the drift check and the verification suite hold Apache's effective
configuration against them (apache_wsgi_deploy.effective).
"""

from __future__ import annotations

import re

from apache_wsgi_deploy import layout, sources
from apache_wsgi_deploy.operations import managed
from apache_wsgi_deploy.project import shipped
from apache_wsgi_deploy.schema import MAX_WSGI_THREADS

TEMPLATES = shipped("templates")


def template(name: str) -> str:
    return str(TEMPLATES / name)


def compile_templates(between=None) -> None:
    """Every template compiled once, into pyinfra's cache of them (get_template): a
    process that forks a run per host then compiles none of them per host. between:
    called after each."""
    for path in sorted(TEMPLATES.glob("*.j2")):
        managed.compiled(str(path))
        if between is not None:
            between()


def piped_logs(site, settings) -> dict[str, str]:
    """The site's logs as its vhost writes them: each through rotatelogs."""
    logs = zip(("error", "access", "embedded_mode"), site.paths.vhost_logs, strict=True)
    return {kind: layout.piped_log(log, settings.log_rotation_seconds) for kind, log in logs}


def token_variables(site) -> dict[str, str]:
    """Where both Apaches read the site's token (layout.INSTANCE_TOKEN), the header and its value."""
    return {
        "token_conf": layout.instance_file(site.app_name, layout.INSTANCE_TOKEN),
        "token_header": layout.FRONT_TOKEN_HEADER,
        "token_reference": f"${{{layout.front_token_variable(site.app_name)}}}",
    }


def proxy_timeout(site, settings) -> int:
    """How long the front waits for the app's own instance: wsgi_request_timeout, or if 0
    (never), Apache's request_timeout."""
    return site.wsgi_request_timeout or settings.request_timeout


def staples(site, lineage: dict | None) -> bool:
    """Whether the site's vhost staples OCSP responses: only for a certificate that names
    an OCSP responder (Let's Encrypt's no longer do). lineage: an ACME site's
    facts.tls.CertbotLineage, known once certbot has the certificate."""
    if site.tls_certificate_source == "files":
        return sources.names_ocsp_responder(site.tls_certificate_file)
    if site.tls_certificate_source == "acme":
        return bool(lineage and lineage["ocsp_urls"])
    return False


def vhost_variables(site, settings, processes: int, ocsp_stapling: bool) -> dict:
    """What templates/site.conf.j2 is rendered with: processes, the site's daemon_processes
    on the host; ocsp_stapling, whether its certificate names an OCSP responder."""
    return {
        "site": site,
        "paths": site.paths,
        "ocsp_stapling": ocsp_stapling,
        "processes": processes,
        "logs": piped_logs(site, settings),
        "settings": settings,
        "proxy_timeout": proxy_timeout(site, settings),
        "maintenance_url": layout.MAINTENANCE_URL,
        "maintenance_url_pattern": re.escape(layout.MAINTENANCE_URL),
        "maintenance_page": layout.MAINTENANCE_PAGE,
        **token_variables(site),
    }


def instance_variables(site, settings, processes: int) -> dict:
    """What templates/instance.conf.j2 is rendered with: processes, the site's daemon_processes."""
    return {
        "site": site,
        "settings": settings,
        "paths": site.paths,
        "processes": processes,
        "thread_limit": MAX_WSGI_THREADS,
        "modules": layout.INSTANCE_MODULES,
        "modules_dir": layout.APACHE_MODULES_DIR,
        "error_log": layout.piped_log(site.paths.instance_error_log, settings.log_rotation_seconds),
        **token_variables(site),
    }


def instance_conf(site, settings, cpus: int) -> str:
    """The configuration of a site's own Apache instance (layout.INSTANCE_CONF)."""
    variables = instance_variables(site, settings, site.daemon_processes(cpus))
    return managed.render(template("instance.conf.j2"), **variables).decode()


def conf_variables(settings) -> dict[str, dict]:
    """Each server-wide conf of the deploy's (layout.OWN_CONFS) its settings enable ->
    what templates/<conf>.conf.j2 is rendered with."""
    confs = {
        layout.DAEMON_ONLY_CONF: {},
        layout.HARDENING_CONF: {"settings": settings},
        layout.PERFORMANCE_CONF: {"settings": settings},
        layout.LOGS_CONF: {
            "error_log": layout.piped_log(layout.APACHE_ERROR_LOG, settings.log_rotation_seconds),
            "other_vhosts_log": layout.piped_log(layout.OTHER_VHOSTS_LOG, settings.log_rotation_seconds),
        },
    }
    if settings.uses_acme():
        confs[layout.ACME_CHALLENGE_CONF] = {"webroot": layout.ACME_WEBROOT}
    return confs


def apache_files(settings, cpus: int, ocsp_stapling: dict[str, bool]) -> dict[str, str]:
    """Each file of the deploy's that Apache includes, by its link in *-enabled -> its
    content: the confs, and each present site's vhosts (ocsp_stapling by app_name)."""
    confs = {
        layout.conf_link(conf): managed.render(template(f"{conf}.conf.j2"), **variables).decode()
        for conf, variables in conf_variables(settings).items()
    }
    sites = {
        layout.site_link(site.app_name): managed.render(
            template("site.conf.j2"),
            **vhost_variables(site, settings, site.daemon_processes(cpus), ocsp_stapling[site.app_name]),
        ).decode()
        for site in settings.present_sites
    }
    return confs | sites

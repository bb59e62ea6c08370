"""A site's VirtualHosts (port 80 redirecting, 443 serving the app), their removal, and
the sites of ours a host serves that its settings no longer name."""

from __future__ import annotations

from pyinfra import host, logger
from pyinfra.operations.util import any_changed

from apache_wsgi_deploy import layout, outcome
from apache_wsgi_deploy.declared import instance_variables, staples, template, vhost_variables
from apache_wsgi_deploy.deploys.unit import ROOT_OWNED, site_deploy
from apache_wsgi_deploy.facts.apache import ManagedSites
from apache_wsgi_deploy.facts.cache import cached_fact, fixed_fact
from apache_wsgi_deploy.facts.capacity import Capacity
from apache_wsgi_deploy.facts.tls import CertbotLineage
from apache_wsgi_deploy.operations import apache, instance, managed, record


def ocsp_stapling(site) -> bool:
    """declared.staples, with the fact the certificate operation reads anyway: a first
    deploy of an ACME site staples from the next run on."""
    acme = site.tls_certificate_source == "acme"
    return staples(site, host.get_fact(CertbotLineage, cert_name=site.server_name) if acme else None)


def daemon_processes(site) -> int:
    """The host's CPU count, read with its other capacities (one command, asked once)."""
    return site.daemon_processes(fixed_fact(Capacity)["cpus"])


def own_instance(site, settings) -> list:
    """The site's own Apache instance, running its release, before the front passes
    requests on to it: what changed restarts it gracefully, once its configtest passed."""
    record.folders_exist(name="Instance folder exists", folders=[site.own_folders["instance"]])
    token = instance.token(name="Instance has the front's token", app_name=site.app_name)
    envvars = instance.config(
        name="Instance environment is rendered",
        app_name=site.app_name,
        name_in_folder=layout.INSTANCE_ENVVARS,
        content=managed.render(
            template("instance-envvars.j2"),
            site=site,
            run_dir=layout.instance_run_dir(site.app_name),
            pid_file=layout.instance_pid_file(site.app_name),
        ),
    )
    conf = instance.config(
        name="Instance configuration is rendered, once its configtest passed",
        app_name=site.app_name,
        name_in_folder=layout.INSTANCE_CONF,
        content=managed.render(
            template("instance.conf.j2"), **instance_variables(site, settings, daemon_processes(site))
        ),
        tested=True,
    )
    instance.running(name="Instance runs and starts at boot", app_name=site.app_name)
    instance.reloaded(
        name="Instance restarts gracefully for its new configuration",
        app_name=site.app_name,
        error_log=site.paths.instance_error_log,
        _if=any_changed(token, envvars, conf),
    )
    return [token]


@site_deploy("Site")
def site_vhosts(site, settings):
    if site.paths.own_log_dir:
        # Apache fails to start or reload when a vhost's log folder is missing.
        record.folders_exist(name="Log folder exists, as Apache's own", folders=[site.own_folders["log"]])
    front_reads = own_instance(site, settings) if site.own_instance else []
    vhosts = apache.config_template(
        name="VirtualHosts are rendered",
        src=template("site.conf.j2"),
        dest=site.paths.site_file,
        **ROOT_OWNED,
        mode="644",
        **vhost_variables(site, settings, daemon_processes(site), ocsp_stapling(site)),
    )
    enabled = apache.site(name="Site is enabled", site=site.app_name)
    return [*front_reads, vhosts, enabled]


@site_deploy("Removed site")
def site_vhosts_removed(site):
    """Apache stops serving an absent site at the next reload, its daemon processes with it."""
    disabled = apache.site(name="Site is disabled", site=site.app_name, enabled=False)
    deleted = apache.config_absent(name="VirtualHosts are deleted", path=site.paths.site_file)
    return [disabled, deleted]


def undeclared_sites_reported(settings) -> None:
    """A site dropped from `sites` instead of marked absent keeps serving: the deploy
    cannot know its folder, user or certificate to remove them. Said, not guessed."""
    declared = {site.app_name for site in settings.sites}
    undeclared = [name for name in cached_fact(ManagedSites) if name not in declared]
    for name in undeclared:
        logger.warning(
            f"{host.name}: site {name!r} (sites-available/{name}.conf) was deployed here but is not in `sites`,"
            ' so it is left as it is. To remove it, list it with "app_present": False and deploy.'
        )
    outcome.record(host.name, outcome.UNDECLARED_SITES, undeclared)

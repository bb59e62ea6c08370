"""
The packaged deploys a team calls from its own deploy file, honouring pyinfra's deploy
contract: pyinfra's global arguments (`_sudo=True`...) apply to every operation within,
and every setting the inventory and group_data leave out takes the schema's default.

    from apache_wsgi_deploy.deploys import whole_server
    whole_server()

`read_status` and `rollback` are what `awd status` and `awd rollback` run through
pyinfra's command line (`pyinfra inventory.py apache_wsgi_deploy.deploys.rollback app_name=web`).
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import deploy

from apache_wsgi_deploy import audit, outcome, prefetch, readonly, schema
from apache_wsgi_deploy.connection import disable_nagle
from apache_wsgi_deploy.deploys.acme import acme_challenges
from apache_wsgi_deploy.deploys.app import (
    app_release,
    app_removed,
    app_runs_unprivileged,
    former_layout_removed,
    restart_command,
    snapshot_command,
)
from apache_wsgi_deploy.deploys.certificates import site_certificate
from apache_wsgi_deploy.deploys.made import instances_stopped, leftovers_removed, made_recorded
from apache_wsgi_deploy.deploys.packages import host_tools, install_packages
from apache_wsgi_deploy.deploys.server import (
    apache_server_config,
    apache_service,
    apache_tree_reported,
    host_can_run_it,
)
from apache_wsgi_deploy.deploys.vhosts import site_vhosts, site_vhosts_removed, undeclared_sites_reported
from apache_wsgi_deploy.facts.apache import SiteAnswer
from apache_wsgi_deploy.facts.audit import AuditTrail
from apache_wsgi_deploy.facts.releases import Releases
from apache_wsgi_deploy.lock import hold_deploy_lock
from apache_wsgi_deploy.operations import releases
from apache_wsgi_deploy.settings import Settings, SettingsError, validate_host


def _settings() -> Settings:
    """This host's settings, validated before its first operation is built: pyinfra
    plans every host before it runs any, so one bad value anywhere stops the run before
    anything is touched on any host."""
    return validate_host(host.name, host.data.dict(), app_values=not readonly.declared())


def _read_settings() -> Settings:
    """This host's settings for a run that reads no file or secret of the control machine."""
    return Settings.from_data(host.name, host.data.dict())


def _site_named(settings: Settings, app_name: str, verb: str):
    site = next((site for site in settings.present_sites if site.app_name == app_name), None)
    if site is None:
        names = ", ".join(site.app_name for site in settings.present_sites)
        raise SettingsError(f"host {host.name}: no site named {app_name!r} to {verb} (its sites: {names})")
    return site


@deploy(outcome.PACKAGED_DEPLOY, data_defaults=schema.defaults())
def whole_server() -> None:
    """
    The whole server: Apache with mod_wsgi in daemon mode serving each site's app over
    HTTPS, port 80 redirecting, and one configtested reload when anything Apache reads
    changed.

    **Example:**

    .. code:: python

        from apache_wsgi_deploy.deploys import whole_server
        whole_server(_sudo=True)
    """
    settings = _settings()
    # A no-change rerun is mostly fact commands, each delayed by Nagle without it.
    disable_nagle(host)
    # Before the first fact: another run's changes must not be half seen, nor its releases pruned.
    # In the same round trip, once it is held: the facts the run will read.
    audited = {"action": "deploy", "what": ", ".join(site.app_name for site in settings.present_sites)}
    prefetch.asked_at_once(
        lambda facts: hold_deploy_lock(host, settings.deploy_lock_timeout, audited=audited, then=facts)
    )
    # Before anything changes: no app may run as an account that can become root.
    for site in host.loop(settings.present_sites):
        app_runs_unprivileged(site)
    host_can_run_it(settings)
    # Before anything is made: a folder the settings name that the deploy did not make is refused.
    made_recorded(settings)
    install_packages(settings)
    host_tools()
    for site in host.loop(settings.present_sites):
        app_release(site)
    reload_when = apache_server_config(settings) + acme_challenges(settings)
    # Before the vhosts: an HTTPS vhost is enabled only once the certificate it names exists.
    for site in host.loop(settings.present_sites):
        reload_when += site_certificate(site, settings)
    for site in host.loop(settings.present_sites):
        reload_when += site_vhosts(site, settings)
    for site in host.loop(settings.absent_sites):
        reload_when += site_vhosts_removed(site)
    undeclared_sites_reported(settings)
    apache_tree_reported(settings)
    apache_service(settings, reload_when=reload_when)
    # Once Apache no longer passes requests on to them; before their sites' users go.
    instances_stopped(settings)
    # Once Apache no longer runs their daemon processes.
    for site in host.loop(settings.absent_sites):
        app_removed(site, settings)
    for site in host.loop(settings.present_sites):
        former_layout_removed(site)
    leftovers_removed(settings)


@deploy("Status", data_defaults=schema.defaults())
def read_status(history: int = 0) -> None:
    """What is live on the host, read, changing nothing (run in pyinfra's dry mode):
    each site's releases and its health check's answer, recorded for `awd status`, and
    the audit trail's last `history` runs."""
    settings = _read_settings()
    disable_nagle(host)
    if history:
        # A run is two lines: its start and its end.
        trail = host.get_fact(AuditTrail, lines=2 * history)
        outcome.record(host.name, outcome.HISTORY, audit.history(trail, runs=history))
    outcome.record(
        host.name,
        outcome.SITES,
        [
            {
                "app_name": site.app_name,
                "health_check_path": site.health_check_path,
                "answer": host.get_fact(SiteAnswer, server_name=site.server_name, path=site.health_check_path),
                **host.get_fact(Releases, install_path=site.app_install_path),
            }
            for site in settings.present_sites
        ],
    )


@deploy("Rollback", data_defaults=schema.defaults())
def rollback(app_name: str) -> None:
    """
    One site back to the release before its live one. The live release is marked rolled
    back, so later deploys of the same code leave the rollback in place; deploying other
    code goes forward again. A second rollback goes one release further back. The daemon
    processes pick up the switch without an Apache reload.

    + app_name: the site's app_name
    """
    settings = _read_settings()
    site = _site_named(settings, app_name, "roll back")
    disable_nagle(host)
    # A deploy halfway through must not be rolled back under it.
    hold_deploy_lock(host, settings.deploy_lock_timeout, audited={"action": "rollback", "what": app_name})
    releases.rollback(
        name=f"{app_name} goes back to its previous release",
        install_path=site.app_install_path,
        restart=restart_command(site),
    )


@deploy("Restore", data_defaults=schema.defaults())
def restore(app_name: str, snapshot: str = "") -> None:
    """
    One site's data back from a snapshot (the newest, or the one named), with the
    release that was live when it was taken, the site in maintenance meanwhile. The live
    release is marked rolled back, as by a rollback.

    + app_name: the site's app_name
    + snapshot: the snapshot's name, as `awd status` lists it
    """
    settings = _read_settings()
    site = _site_named(settings, app_name, "restore")
    disable_nagle(host)
    hold_deploy_lock(
        host, settings.deploy_lock_timeout, audited={"action": "restore", "what": f"{app_name} {snapshot}".strip()}
    )
    releases.restored(
        name=f"{app_name}'s data comes back from a snapshot",
        install_path=site.app_install_path,
        snapshot=snapshot or None,
        data_dir=site.data_dir,
        user=site.wsgi_user,
        restart=restart_command(site),
        maintenance_flag=site.paths.maintenance_flag,
        command=snapshot_command(site, site.snapshot_restore_command),
    )

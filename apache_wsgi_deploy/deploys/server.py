"""Server-wide Apache: the modules every site needs, daemon-mode-only WSGI, hardening,
keep-alive, its own logs through rotatelogs; and the service, reloaded once when anything
it reads changed."""

from __future__ import annotations

from pyinfra import host, logger
from pyinfra.api import deploy
from pyinfra.facts.files import File
from pyinfra.operations import files
from pyinfra.operations.util import any_changed

from apache_wsgi_deploy import effective, layout, outcome
from apache_wsgi_deploy.declared import conf_variables, template
from apache_wsgi_deploy.deploys.unit import ROOT_OWNED
from apache_wsgi_deploy.deploys.vhosts import daemon_processes
from apache_wsgi_deploy.facts.apache import EffectiveConfig, EnabledFiles, ManagedSites
from apache_wsgi_deploy.facts.cache import cached_fact
from apache_wsgi_deploy.operations import apache, capacity, packages


def apache_tasks(settings) -> int:
    """The threads and processes Apache's event MPM runs at most: each child's workers and
    its listener, one child more while others stop, and the parent."""
    children = settings.mpm_max_request_workers // settings.mpm_threads_per_child + 1
    return children * (settings.mpm_threads_per_child + 2) + 1


@deploy("Capacity")
def host_can_run_it(settings):
    """Before anything changes: the daemons and threads the settings ask for fit the host."""
    capacity.suffices(
        name="The host can run the sites' daemons and Apache's workers",
        daemons=[
            {"app_name": site.app_name, "processes": daemon_processes(site), "threads": site.wsgi_threads}
            for site in settings.present_sites
        ],
        apache_tasks=apache_tasks(settings),
    )


def server_conf(settings, conf: str, rendered: str, enabled: str) -> list:
    """conf-available/<conf>.conf from templates/<conf>.conf.j2, and its link in conf-enabled."""
    written = apache.config_template(
        name=rendered,
        src=template(f"{conf}.conf.j2"),
        dest=layout.conf_file(conf),
        **ROOT_OWNED,
        mode="644",
        **conf_variables(settings)[conf],
    )
    return [written, apache.conf(name=enabled, conf=conf)]


@deploy("Apache")
def apache_server_config(settings):
    unused = apache.modules(
        name="Modules no site needs are disabled", modules=layout.UNUSED_MODULES + layout.OTHER_MPMS, enabled=False
    )
    modules = apache.modules(
        name="Modules the site uses are enabled",
        modules=layout.APACHE_MODULES
        + ([layout.HTTP2_MODULE] if settings.uses_http2() else [])
        + (layout.PROXY_MODULES if settings.uses_own_instances() else []),
    )
    daemon_only = server_conf(settings, layout.DAEMON_ONLY_CONF, "Embedded mode is off", "Embedded mode off is enabled")
    hardening = server_conf(
        settings, layout.HARDENING_CONF, "Server-wide hardening is rendered", "Server-wide hardening is enabled"
    )
    performance = server_conf(
        settings, layout.PERFORMANCE_CONF, "Keep-alive settings are rendered", "Keep-alive settings are enabled"
    )
    logs = server_conf(
        settings,
        layout.LOGS_CONF,
        "Apache's own logs go through rotatelogs",
        "Apache's own logs through rotatelogs are enabled",
    )
    other_vhosts = apache.conf(
        name="Debian's other-vhosts-access-log gives way to ours",
        conf=layout.DEBIAN_OTHER_VHOSTS_CONF,
        enabled=False,
    )
    # Nothing read by Apache: rotatelogs rotates, so no reload is needed, nor done.
    packages.diverted(
        name="Debian's logrotate rule, which reloads Apache nightly, is set aside",
        path=layout.DEBIAN_LOGROTATE_RULE,
        to=layout.DIVERTED_LOGROTATE_RULE,
    )
    # Loaded after ours (conf-enabled is read in name order), it would win.
    debian_security = apache.conf(
        name="Debian's security.conf gives way to ours", conf=layout.DEBIAN_SECURITY_CONF, enabled=False
    )
    default = apache.site(name="Stock site is disabled", site=layout.DEFAULT_SITE, enabled=False)
    return [unused, modules, *daemon_only, *hardening, *performance, *logs, other_vhosts, debian_security, default]


def expected_names(settings, ours: list[str]) -> dict[str, set[str]]:
    """The names each *-enabled folder may hold (ENABLED_DIRS' kinds): those the deploy
    enables or disables (an operation of its own reports them), Debian's defaults it
    leaves enabled, and the sites whose vhosts file it wrote (ours: ManagedSites; one not
    in `sites` is reported as undeclared)."""
    return {
        # http2 and proxy too when no site asks for them: an earlier run may have enabled them.
        "mods": {
            *layout.APACHE_MODULES, layout.HTTP2_MODULE, *layout.PROXY_MODULES, *layout.UNUSED_MODULES,
            *layout.OTHER_MPMS,
            *layout.DEBIAN_DEFAULT_MODULES,
        },
        "conf": {
            *layout.OWN_CONFS, layout.DEBIAN_SECURITY_CONF, layout.DEBIAN_OTHER_VHOSTS_CONF,
            *layout.DEBIAN_DEFAULT_CONFS,
        },
        "sites": {site.app_name for site in settings.sites} | set(ours) | {layout.DEFAULT_SITE},
    }  # fmt: skip


def foreign_entries(enabled: dict[str, list[str]], expected: dict[str, set[str]], kept: list[str]) -> list[str]:
    """Each file of enabled (EnabledFiles) whose name is not expected, as <kind>-enabled/<file>,
    but those kept (expected_foreign_entries)."""
    return [
        entry
        for kind, filenames in sorted(enabled.items())
        for filename in filenames
        if filename.rpartition(".")[0] not in expected[kind] and (entry := f"{kind}-enabled/{filename}") not in kept
    ]


def apache_tree_reported(settings) -> None:
    """What Apache reads that the deploy would not have made (a conf dropped into
    conf-enabled, a module enabled by hand, an old vhost), each directive and module it
    runs with that neither the deploy nor Debian declares (an edit to a stock file, a conf
    included from elsewhere; an edit to a file of the deploy's shows as its diff), and a
    config on disk that fails its configtest, which the next restart turns into an
    outage: drift in the drift check; in a deploy, which removes only what it made, a
    warning. As the host was before this run."""
    managed = cached_fact(ManagedSites)
    foreign = foreign_entries(
        host.get_fact(EnabledFiles), expected_names(settings, managed), settings.expected_foreign_entries
    )
    for entry in foreign:
        logger.warning(f"{host.name}: {layout.APACHE_DIR}/{entry} was not made by this deploy, so it is left as it is.")
    config = host.get_fact(EffectiveConfig)
    error = config and config["error"]
    if error:
        logger.warning(f"{host.name}: apache2ctl configtest fails on the files on disk, so would a restart: {error}")
    undeclared = effective.findings(config, settings, managed) if config and not error else []
    for found in undeclared:
        logger.warning(f"{host.name}: Apache runs what neither this deploy nor Debian declares: {found}")
    outcome.record(host.name, outcome.FOREIGN_ENTRIES, foreign)
    outcome.record(host.name, outcome.UNDECLARED_CONFIG, undeclared)
    outcome.record(host.name, outcome.CONFIG_ERRORS, [error] if error else [])


def rotated_logs(settings) -> list[str]:
    """Every log the front Apache writes through rotatelogs: its own, and each present site's vhosts'."""
    sites = [log for site in settings.present_sites for log in site.paths.vhost_logs]
    return [layout.APACHE_ERROR_LOG, layout.OTHER_VHOSTS_LOG, *sites]


@deploy("Apache service")
def apache_service(settings, reload_when: list):
    apache.running(name="Apache is running and enabled at boot")
    # A reload that failed (configtest) is owed until one succeeds: the next run finds
    # the files already in place, so only this marker tells it to reload.
    owed_before = bool(host.get_fact(File, path=layout.RELOAD_OWED))
    changed = any_changed(*reload_when)
    files.file(name="Apache owes a reload", path=layout.RELOAD_OWED, **ROOT_OWNED, _if=changed)
    reload = apache.reload(
        name="Apache reloads after its configtest passed",
        logs=rotated_logs(settings),
        _if=lambda: owed_before or changed(),
    )
    files.file(name="Apache owes no reload", path=layout.RELOAD_OWED, present=False, _if=reload.did_change)

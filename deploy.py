"""
The whole server, declared: `pyinfra inventory.py deploy.py`.

Apache with mod_wsgi in daemon mode serving each site's app over HTTPS, port 80
redirecting, and one configtested reload when anything Apache reads changed.
"""

from pyinfra import host, inventory

from apache_wsgi_deploy import PROJECT
from apache_wsgi_deploy.connection import disable_nagle
from apache_wsgi_deploy.deploys import (
    acme_challenges,
    apache_server_config,
    apache_service,
    apache_tree_reported,
    app_release,
    app_removed,
    app_runs_unprivileged,
    former_layout_removed,
    host_tools,
    install_packages,
    site_certificate,
    site_vhosts,
    site_vhosts_removed,
    undeclared_sites_reported,
)
from apache_wsgi_deploy.lock import hold_deploy_lock
from apache_wsgi_deploy.settings import validate_inventory

# Every host is validated before this host's first operation is built: one bad value
# anywhere stops the run before anything is touched on any host.
settings = validate_inventory(inventory, PROJECT)[host.name]

# A no-change rerun is mostly fact commands: about 40 ms less for each.
disable_nagle(host)
# Before the first fact: another run's changes must not be half seen, nor its releases pruned.
hold_deploy_lock(host, settings.deploy_lock_timeout)
# Before anything changes: no app may run as an account that can become root.
for site in host.loop(settings.present_sites):
    app_runs_unprivileged(site)
install_packages(settings)
host_tools()
for site in host.loop(settings.present_sites):
    app_release(site)
reload_when = apache_server_config(settings) + acme_challenges(settings)
# Before the vhosts: an HTTPS vhost is enabled only once the certificate it names exists.
for site in host.loop(settings.present_sites):
    reload_when += site_certificate(site, settings)
for site in host.loop(settings.present_sites):
    reload_when += site_vhosts(site)
for site in host.loop(settings.absent_sites):
    reload_when += site_vhosts_removed(site)
undeclared_sites_reported(settings)
apache_tree_reported(settings)
apache_service(reload_when=reload_when)
# Once Apache no longer runs their daemon processes.
for site in host.loop(settings.absent_sites):
    app_removed(site, settings)
for site in host.loop(settings.present_sites):
    former_layout_removed(site)

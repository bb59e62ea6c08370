"""
The packaged deploys (`whole_server`, and `read_status`, `rollback`, `restore` for `awd`), and the
deploy units whole_server composes, in the order it runs them: the check that no app
runs privileged, the packages and host tools, each site's app release, the server-wide
Apache config and ACME, each site's certificate and vhosts, Apache's service, and what
removed sites leave behind.

Host-wide units take the host's validated Settings, per-site units one of its Sites;
units that return operations return those whose changes Apache must reload for, and
apache_service reloads once for all. Units read the control machine through
`apache_wsgi_deploy.sources` and the host's paths from `apache_wsgi_deploy.layout`.
"""

from apache_wsgi_deploy.deploys.acme import acme_challenges
from apache_wsgi_deploy.deploys.app import app_release, app_removed, app_runs_unprivileged, former_layout_removed
from apache_wsgi_deploy.deploys.certificates import site_certificate
from apache_wsgi_deploy.deploys.packages import apt_packages, host_tools, install_packages
from apache_wsgi_deploy.deploys.server import (
    apache_server_config,
    apache_service,
    apache_tree_reported,
    host_can_run_it,
)
from apache_wsgi_deploy.deploys.vhosts import site_vhosts, site_vhosts_removed, undeclared_sites_reported
from apache_wsgi_deploy.deploys.whole_server import read_status, restore, rollback, whole_server

__all__ = [
    "acme_challenges",
    "apache_server_config",
    "apache_service",
    "apache_tree_reported",
    "app_release",
    "app_removed",
    "app_runs_unprivileged",
    "apt_packages",
    "former_layout_removed",
    "host_can_run_it",
    "host_tools",
    "install_packages",
    "read_status",
    "restore",
    "rollback",
    "site_certificate",
    "site_vhosts",
    "site_vhosts_removed",
    "undeclared_sites_reported",
    "whole_server",
]

"""
What is live on a host, read and changed nothing: `./run.sh status` runs it in pyinfra's
dry mode for each host (apache_wsgi_deploy.status), which prints what it recorded.
"""

from pyinfra import host, inventory

from apache_wsgi_deploy import PROJECT, outcome
from apache_wsgi_deploy.connection import disable_nagle
from apache_wsgi_deploy.facts.apache import SiteAnswer
from apache_wsgi_deploy.facts.releases import Releases
from apache_wsgi_deploy.settings import validate_inventory

settings = validate_inventory(inventory, PROJECT)[host.name]
disable_nagle(host)
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

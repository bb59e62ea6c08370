"""
The whole server, declared: `pyinfra inventory.py deploy.py`.

Apache with mod_wsgi in daemon mode serving each site's app over HTTPS, port 80
redirecting, and one configtested reload when anything Apache reads changed.
"""

from pathlib import Path

from pyinfra import host, inventory

from apache_wsgi_deploy import deploys
from apache_wsgi_deploy.connection import disable_nagle
from apache_wsgi_deploy.settings import validate_inventory

# Every host is validated before this host's first operation is built: one bad value
# anywhere stops the run before anything is touched on any host.
settings = validate_inventory(inventory, Path(__file__).resolve().parent)[host.name]

# A no-change rerun is mostly fact commands: about 40 ms less for each.
disable_nagle(host)
deploys.packages(settings)
deploys.tools()
for site in host.loop(settings.present_sites):
    deploys.app(site)
reload_when = deploys.apache_config(settings) + deploys.acme(settings)
# Before the vhosts: an HTTPS vhost is enabled only once the certificate it names exists.
for site in host.loop(settings.present_sites):
    reload_when += deploys.tls(site, settings)
for site in host.loop(settings.present_sites):
    reload_when += deploys.site(site)
for site in host.loop(settings.absent_sites):
    reload_when += deploys.site_removed(site)
deploys.undeclared_sites_reported(settings)
deploys.service(reload_when=reload_when)
# Once Apache no longer runs their daemon processes.
for site in host.loop(settings.absent_sites):
    deploys.app_removed(site)
for site in host.loop(settings.present_sites):
    deploys.former_layout_removed(site)

"""
The whole server, declared: `pyinfra inventory.py deploy.py`.

Apache with mod_wsgi in daemon mode serving the app over HTTPS, port 80 redirecting,
and one configtested reload when anything Apache reads changed.
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
deploys.app(settings)
server_config = deploys.apache_config(settings)
# Before the site: its HTTPS vhost is enabled only once the certificate it names exists.
certificate = deploys.tls(settings)
site_config = deploys.site(settings)
deploys.service(reload_when=server_config + certificate + site_config)

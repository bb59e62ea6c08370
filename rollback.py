"""
Roll one site back to the release before its live one: `./run.sh rollback <app_name>`
(pyinfra: AWD_ROLLBACK_APP=<app_name> pyinfra inventory.py rollback.py).

The live release is marked rolled back, so later deploys of the same code leave the
rollback in place; deploying other code goes forward again. A second rollback goes one
release further back. The daemon processes pick up the switch without an Apache reload.
"""

import os

from pyinfra import host, inventory

from apache_wsgi_deploy import PROJECT
from apache_wsgi_deploy.connection import disable_nagle
from apache_wsgi_deploy.operations import releases
from apache_wsgi_deploy.settings import SettingsError, validate_inventory

settings = validate_inventory(inventory, PROJECT)[host.name]
app_name = os.environ.get("AWD_ROLLBACK_APP", "")
site = next((site for site in settings.present_sites if site.app_name == app_name), None)
if site is None:
    names = ", ".join(site.app_name for site in settings.present_sites)
    raise SettingsError(f"host {host.name}: no site named {app_name!r} to roll back (its sites: {names})")

disable_nagle(host)
releases.rollback(
    name=f"{app_name} goes back to its previous release",
    install_path=site.app_install_path,
    wsgi_script=site.paths.wsgi_script,
)

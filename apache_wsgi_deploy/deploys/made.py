"""What the deploy makes on the host from each site's settings, with the owner and mode
it gives each folder: recorded on the host before anything is made (a folder that
exists and was not made by the deploy is refused), and, last, what former settings made
removed or given back (operations.record)."""

from __future__ import annotations

from pyinfra.api import deploy

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.operations import instance, record


def _thing(path: str, role: str, app_name: str | None, setting: str) -> dict:
    return {"path": path, "role": role, "app_name": app_name, "setting": setting, "user": None, "group": None,
            "mode": None}  # fmt: skip


def site_items(site) -> list[dict]:
    paths = site.paths
    items = list(site.own_folders.values())
    if paths.acme:
        items.append(_thing(layout.certbot_lineage(site.server_name), "acme", site.app_name, "tls_certificate_source"))
    return items


def host_items(settings) -> list[dict]:
    if settings.uses_acme() and settings.acme_ca_bundle is not None:
        return [_thing(layout.ACME_CA_FILE, "ca", None, "acme_ca_bundle")]
    return []


def _present_items(settings) -> list[dict]:
    return [item for site in settings.present_sites for item in site_items(site)] + host_items(settings)


def _present_paths(settings) -> list[str]:
    return [item["path"] for item in _present_items(settings)]


def _everything(settings) -> list[dict]:
    return _present_items(settings) + [item for site in settings.absent_sites for item in site_items(site)]


@deploy("Record")
def made_recorded(settings):
    """Before anything is made: the host's record holds what the settings make."""
    record.claimed(
        name="What the settings make is recorded, and no folder the deploy did not make is taken over",
        items=_present_items(settings),
        everything=_everything(settings),
        adopted=settings.adopted_folders,
    )


@deploy("Record")
def instances_stopped(settings):
    """Once the front no longer passes requests on to them: the Apache instances of sites
    the settings remove or moved back into the front's daemon processes."""
    instance.former_stopped(
        name="Apache instances no site runs in are stopped",
        current=_present_paths(settings),
        declared=[site.app_name for site in settings.sites],
    )


@deploy("Record")
def leftovers_removed(settings):
    """Last: what former settings made is removed, and taken-over folders given back."""
    record.leftovers_removed(
        name="What former settings made is removed, and folders taken over are given back",
        current=_present_paths(settings),
        present=[site.app_name for site in settings.present_sites],
        absent={site.app_name: site.data_removed_with_site for site in settings.absent_sites},
    )

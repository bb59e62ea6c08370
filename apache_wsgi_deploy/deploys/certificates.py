"""The certificate and key a site's HTTPS vhost names, from its source."""

from __future__ import annotations

from io import StringIO

from apache_wsgi_deploy import layout, sources
from apache_wsgi_deploy.deploys.unit import ROOT_OWNED, site_deploy
from apache_wsgi_deploy.operations import apache, certbot, record, tls


@site_deploy("TLS")
def site_certificate(site, settings):
    paths = site.paths
    source = site.tls_certificate_source
    if source == "acme":
        return [
            certbot.certificate(
                name="Certificate from the ACME CA covers every name",
                cert_name=site.server_name,
                names=site.names(),
                directory_url=settings.acme_directory_url,
                webroot=layout.ACME_WEBROOT,
                key_type=settings.acme_key_type,
                email=settings.acme_email,
            )
        ]
    record.folders_exist(name="Certificate folder exists, root only", folders=[site.own_folders["certificate"]])
    if source == "selfsigned":
        generated = tls.selfsigned(
            name="Self-signed certificate names the site",
            certificate=paths.certificate_path,
            key=paths.key_path,
            names=site.names(),
        )
        return [generated]
    fullchain = apache.config_file(
        name="Certificate and chain are in place",
        src=StringIO(sources.fullchain(site.tls_certificate_file, site.tls_chain_file)),
        dest=paths.certificate_path,
        **ROOT_OWNED,
        mode="644",
    )
    key = apache.config_file(
        name="Private key is in place, 0600 root",
        src=str(sources.project_path(site.tls_key_file)),
        dest=paths.key_path,
        **ROOT_OWNED,
        mode="600",
        private=True,
    )
    return [fullchain, key]

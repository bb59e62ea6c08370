"""Host-wide ACME, for every site whose certificate comes from ACME: the CA's trust, the
challenge folder port 80 serves, and renewals that reload Apache."""

from __future__ import annotations

from io import StringIO

from pyinfra.api import deploy
from pyinfra.operations import files, server, systemd

from apache_wsgi_deploy import layout, sources
from apache_wsgi_deploy.deploys.server import server_conf
from apache_wsgi_deploy.deploys.unit import ROOT_OWNED
from apache_wsgi_deploy.operations import apache, managed

# certbot runs deploy hooks after each renewal: a graceful reload serves the new
# certificate without a restart, and never with a config that fails its test.
RENEWAL_HOOK_SCRIPT = f"""#!/bin/sh
# Managed by apache-wsgi-deploy: serve a renewed certificate without dropping requests,
# with a graceful reload checked before (configtest, certificates) and watched after.
exec {layout.HOST_PYTHON} {layout.RELOAD_TOOL} {layout.CONFIG_BEFORE_DIR} {layout.APACHE_DIR} \\
    {layout.APACHE_ERROR_LOG} {layout.APACHE_PID_FILE} {layout.APACHE_SERVICE}
"""


@deploy("ACME")
def acme_challenges(settings):
    if not settings.uses_acme():
        return [apache.conf(name="ACME challenges are not served", conf=layout.ACME_CHALLENGE_CONF, enabled=False)]
    if settings.acme_ca_bundle is not None:
        trusted = managed.file(
            name="Private ACME server's CA is trusted",
            src=str(sources.project_path(settings.acme_ca_bundle)),
            dest=layout.ACME_CA_FILE,
            **ROOT_OWNED,
            mode="644",
        )
    else:
        trusted = files.file(name="No private ACME CA is trusted", path=layout.ACME_CA_FILE, present=False)
    # certbot (Debian's python3-requests) trusts the system store, renewals included.
    server.shell(
        name="System trust store is rebuilt",
        commands=["update-ca-certificates --fresh >/dev/null"],
        _if=trusted.did_change,
    )
    files.directory(name="ACME challenge folder exists", path=layout.ACME_CHALLENGE_DIR, **ROOT_OWNED, mode="755")
    challenge = server_conf(
        settings, layout.ACME_CHALLENGE_CONF, "Port 80 answers ACME challenges", "ACME challenges are served"
    )
    managed.file(
        name="Renewals reload Apache gracefully",
        src=StringIO(RENEWAL_HOOK_SCRIPT),
        dest=layout.RENEWAL_HOOK,
        **ROOT_OWNED,
        mode="755",
    )
    systemd.service(name="certbot's renewal timer is active", service=layout.CERTBOT_TIMER, running=True, enabled=True)
    return challenge

"""
Certificates from an ACME CA with certbot's webroot plugin, asked for only when the
names, the CA or the key type differ from the lineage certbot already keeps.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation

from apache_wsgi_deploy.facts.tls import CertbotLineage
from apache_wsgi_deploy.operations import apache

KEY_TYPES = {
    "ecdsa": ["--key-type", "ecdsa", "--elliptic-curve", "secp256r1"],
    "rsa": ["--key-type", "rsa", "--rsa-key-size", "2048"],
}


@operation()
def certificate(
    cert_name: str,
    names: list[str],
    directory_url: str,
    webroot: str,
    key_type: str = "ecdsa",
    email: str | None = None,
):
    """
    Obtain (or re-obtain) a certificate with ``certbot certonly --webroot``.

    + cert_name: certbot's lineage name (``/etc/letsencrypt/live/<cert_name>/``)
    + names: DNS names the certificate must cover
    + directory_url: the ACME server's directory
    + webroot: folder Apache serves ``/.well-known/acme-challenge/`` from, on port 80
    + key_type: ``ecdsa`` (P-256) or ``rsa`` (2048)
    + email: ACME account contact, or None to register without one

    A rerun with the same names, CA and key type does not contact the CA: renewals are
    certbot's timer's job. Before asking, Apache reloads (after its configtest) so the
    challenge folder it must serve is live, as on a fresh server's first deploy. When
    the CA cannot be reached or refuses, the operation fails and the files certbot
    already had, which Apache serves, are left as they were.

    **Example:**

    .. code:: python

        certbot.certificate(cert_name="www.example.com", names=["www.example.com"],
                            directory_url="https://acme-v02.api.letsencrypt.org/directory",
                            webroot="/var/lib/apache-wsgi-deploy/acme")
    """
    lineage = host.get_fact(CertbotLineage, cert_name=cert_name)
    if (
        lineage is not None
        and sorted(lineage["names"]) == sorted(names)
        and lineage["server"] == directory_url
        and lineage["key_type"] == key_type
    ):
        host.noop(f"certificate {cert_name} covers {', '.join(names)}, from {directory_url}")
        return
    yield from apache.reload._inner()
    account = ["--email", QuoteString(email), "--no-eff-email"] if email else ["--register-unsafely-without-email"]
    domains = [part for name in names for part in ("-d", QuoteString(name))]
    failed = (
        f"apache-wsgi-deploy: no certificate for {', '.join(names)} from {directory_url}"
        " (certbot's message is above); the site keeps the certificate it has"
    )
    yield StringCommand(
        "certbot",
        "certonly",
        "--non-interactive",
        "--quiet",
        "--agree-tos",
        *account,
        "--webroot",
        "--webroot-path",
        QuoteString(webroot),
        "--cert-name",
        QuoteString(cert_name),
        *domains,
        "--server",
        QuoteString(directory_url),
        *KEY_TYPES[key_type],
        # Same names but another CA or key type: certbot would call it "not due yet".
        "--force-renewal",
        "||",
        "{",
        "echo",
        QuoteString(failed),
        ">&2;",
        "exit",
        "1;",
        "}",
    )


@operation()
def certificate_removed(cert_name: str):
    """
    Delete a lineage (certificate, key, renewal config), so certbot's timer stops
    renewing a name the host no longer serves.

    + cert_name: certbot's lineage name
    """
    if host.get_fact(CertbotLineage, cert_name=cert_name) is None:
        host.noop(f"no certificate {cert_name}")
        return
    yield StringCommand("certbot", "delete", "--non-interactive", "--cert-name", QuoteString(cert_name))

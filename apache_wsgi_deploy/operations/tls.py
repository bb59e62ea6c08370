"""
Certificates made on the host itself: a self-signed one for staging.
"""

from __future__ import annotations

import datetime

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation
from pyinfra.facts.files import File

from apache_wsgi_deploy.facts.tls import Certificate

OPENSSL_DATE = "%b %d %H:%M:%S %Y %Z"


def _days_left(not_after: str) -> float:
    expiry = datetime.datetime.strptime(" ".join(not_after.split()), OPENSSL_DATE)
    return (expiry.replace(tzinfo=datetime.UTC) - datetime.datetime.now(datetime.UTC)).days


# X.509's upper bound on a common name (RFC 5280, ub-common-name).
COMMON_NAME_MAX = 64


def _subject(name: str) -> str:
    """The subject of a self-signed certificate: its first name as the common name when it
    fits one; clients read the names from subjectAltName either way."""
    return f"/CN={name}" if len(name) <= COMMON_NAME_MAX else "/O=apache-wsgi-deploy self-signed"


@operation()
def selfsigned(certificate: str, key: str, names: list[str], days: int = 365, renew_within_days: int = 30):
    """
    Generate a self-signed certificate and its key on the host, again only when the names
    changed, the key is gone or fewer than renew_within_days are left.

    + certificate: path of the PEM certificate (0644)
    + key: path of the PEM private key (0600, written under umask 077: never readable by others)
    + names: DNS names, the first is the subject's CN when it fits one (64 characters)
    + days: validity of a new certificate

    **Example:**

    .. code:: python

        tls.selfsigned(certificate="/etc/ssl/site/fullchain.pem", key="/etc/ssl/site/privkey.pem",
                       names=["staging.example.com"])
    """
    current = host.get_fact(Certificate, path=certificate)
    if (
        current is not None
        and current["self_signed"]
        and sorted(current["names"]) == sorted(names)
        and _days_left(current["not_after"]) > renew_within_days
        and host.get_fact(File, path=key)
    ):
        host.noop(f"self-signed certificate for {', '.join(names)} is in place")
        return
    subject_alt_names = ",".join(f"DNS:{name}" for name in names)
    yield StringCommand(
        "umask 077 &&",
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-noenc",
        "-days",
        str(days),
        "-subj",
        QuoteString(_subject(names[0])),
        "-addext",
        QuoteString(f"subjectAltName={subject_alt_names}"),
        "-keyout",
        QuoteString(key),
        "-out",
        QuoteString(certificate),
    )
    yield StringCommand("chmod", "644", QuoteString(certificate))

"""
Facts about the certificates a site serves: a PEM file read with openssl, and the
lineage certbot keeps for a certificate name.
"""

from __future__ import annotations

import shlex
from typing import TypedDict

from pyinfra.api import FactBase

from apache_wsgi_deploy import layout

# What `openssl x509 -noout` prints first for each field we ask for.
_FIELDS = {"serial=": "serial", "notAfter=": "not_after", "issuer=": "issuer", "subject=": "subject"}


def certificate_fields(lines: list[str]) -> dict:
    """Parse `openssl x509 -noout -serial -enddate -issuer -subject -ocsp_uri -ext subjectAltName`."""
    fields = {"names": [], "ocsp_urls": []}
    after_san_header = False
    for line in lines:
        stripped = line.strip()
        if after_san_header:
            fields["names"] = [part.strip()[4:] for part in stripped.split(",") if part.strip().startswith("DNS:")]
            after_san_header = False
        elif stripped.startswith("X509v3 Subject Alternative Name"):
            after_san_header = True
        elif stripped.startswith(("http://", "https://")):
            fields["ocsp_urls"].append(stripped)
        else:
            for prefix, key in _FIELDS.items():
                if stripped.startswith(prefix):
                    fields[key] = stripped[len(prefix) :]
    return fields


class CertificateDict(TypedDict):
    names: list[str]
    serial: str
    not_after: str
    self_signed: bool
    ocsp_urls: list[str]


class Certificate(FactBase[CertificateDict | None]):
    """
    Returns what a PEM certificate file says about itself, or None when there is no file.

    ``not_after`` is openssl's text (``Nov 24 09:17:08 2031 GMT``); ``self_signed`` means
    issuer and subject are the same name; ``ocsp_urls`` lists the OCSP responders in its
    Authority Information Access (Let's Encrypt certificates have none since 2025).

    .. code:: python

        {
            "names": ["www.example.com", "example.com"],
            "serial": "595F054E1EC158C9",
            "not_after": "Nov 24 09:17:08 2031 GMT",
            "self_signed": False,
            "ocsp_urls": [],
        }
    """

    requires_command = "openssl"

    @staticmethod
    def command(path: str) -> str:
        quoted = shlex.quote(path)
        return (
            f"! test -f {quoted} || openssl x509 -in {quoted} -noout"
            " -serial -enddate -issuer -subject -ocsp_uri -ext subjectAltName"
        )

    @staticmethod
    def process(output: list[str]) -> CertificateDict | None:
        if not output:
            return None
        fields = certificate_fields(output)
        return {
            "names": fields["names"],
            "serial": fields.get("serial", ""),
            "not_after": fields.get("not_after", ""),
            "self_signed": fields.get("issuer") is not None and fields.get("issuer") == fields.get("subject"),
            "ocsp_urls": fields["ocsp_urls"],
        }


class CertbotLineageDict(TypedDict):
    names: list[str]
    server: str
    key_type: str
    ocsp_urls: list[str]


class CertbotLineage(FactBase[CertbotLineageDict | None]):
    """
    Returns the certificate certbot keeps under a name: the names it covers, the ACME
    directory it came from, its key type and OCSP responders, or None when certbot has
    no such lineage.

    Everything a deploy needs to know of it, in one command: the renewal configuration
    and the current certificate's names and responders (for stapling).

    .. code:: python

        {
            "names": ["www.example.com", "example.com"],
            "server": "https://acme-v02.api.letsencrypt.org/directory",
            "key_type": "ecdsa",
            "ocsp_urls": [],
        }
    """

    @staticmethod
    def command(cert_name: str) -> str:
        renewal = shlex.quote(layout.certbot_renewal_conf(cert_name))
        certificate = shlex.quote(f"{layout.certbot_lineage(cert_name)}/cert.pem")
        return (
            f"! test -f {renewal} || {{ grep -E '^(server|key_type) = ' {renewal};"
            f" ! test -f {certificate} || openssl x509 -in {certificate} -noout -ext subjectAltName -ocsp_uri; }}"
        )

    @staticmethod
    def process(output: list[str]) -> CertbotLineageDict | None:
        if not output:
            return None
        settings = dict(line.split(" = ", 1) for line in output if " = " in line)
        fields = certificate_fields(output)
        return {
            "names": fields["names"],
            "server": settings.get("server", "").strip(),
            # certbot before 2.0 wrote no key_type: its lineages are RSA.
            "key_type": settings.get("key_type", "rsa").strip(),
            "ocsp_urls": fields["ocsp_urls"],
        }

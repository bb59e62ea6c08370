"""
HTTP probes of a deployed site, from the control machine, with requests.

A probe asks for https://<name>/ as a browser would (SNI, certificate checked against
the name, Host header) while it may connect to another address and port: a test host
publishes its ports 80 and 443 on loopback ports.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import requests
from cryptography import x509
from requests.adapters import HTTPAdapter
from sslyze import (
    CertificateInfoExtraArgument,
    ScanCommand,
    ScanCommandsExtraArguments,
    Scanner,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanResult,
)
from sslyze.mozilla_tls_profile.tls_config_checker import (
    SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
    MozillaTlsConfiguration,
    ServerNotCompliantWithTlsConfiguration,
    TlsConfigurationEnum,
    check_server_against_tls_configuration,
)

from apache_wsgi_deploy.host_tools import redirects

TIMEOUT = 10
# Paths a server must not serve, each a classic leak: Apache's own status and config
# pages (mod_status, mod_info), a deployed git checkout, an environment file.
SENSITIVE_PATHS = ("/server-status", "/server-info", "/.git/", "/.git/config", "/.env")
# A Probe's ca_bundle that checks no certificate: a rolling deploy's probe of a site whose
# self-signed certificate the control machine does not hold.
UNVERIFIED = "unverified"
# Answers that serve nothing: forbidden, not found, gone, or asking for credentials.
REFUSED = (401, 403, 404, 410)


@dataclass(frozen=True)
class Answer:
    status: int
    location: str | None
    body: bytes

    @classmethod
    def of(cls, response: requests.Response) -> Answer:
        return cls(response.status_code, response.headers.get("Location"), response.content)


def exposure(path: str, answer: Answer, unknown_path: str, unknown: Answer) -> str | None:
    """What path is served with, unless it is refused or answered as the app answers an
    unknown path (unknown, asked at unknown_path: an app may answer every path, port 80
    redirects every path), that path swapped for this one; None when nothing is exposed."""
    if answer.status in REFUSED:
        return None
    swapped = unknown.location.replace(unknown_path, path) if unknown.location else None
    if (answer.status, answer.location, answer.body) == (
        unknown.status,
        swapped,
        unknown.body.replace(unknown_path.encode(), path.encode()),
    ):
        return None
    where = f" to {answer.location}" if answer.location else ""
    return f"{path} answers {answer.status}{where} with {len(answer.body)} bytes: {answer.body[:80]!r}"


def served(path: str, ask, server_name: str, unknown_path: str, unknown: Answer) -> str | None:
    """exposure() of path, ask(path) giving its Answer, where a redirect with no body of its
    own (an app that sends every unknown path to a page of its own) serves nothing itself:
    it exposes what it leads to within the site, judged the same way, and nothing when it
    leaves the site; redirects.MAX_REDIRECTS hops at most."""
    for _ in range(redirects.MAX_REDIRECTS + 1):
        answer = ask(path)
        problem = exposure(path, answer, unknown_path, unknown)
        if problem is None or answer.body or not 300 <= answer.status < 400:
            return problem
        onward = redirects.within_site(answer.location, server_name, path)
        if onward is None:
            return None
        path = onward
    return problem


def aliased_urls(path: str, aliases: list[tuple[str, str]]) -> list[str]:
    """The URL paths at which the Aliases given as (URL path, the folder's real path) map
    onto path, a file's real path: where Apache would serve that file."""
    return [
        f"{url.rstrip('/')}/{path[len(folder.rstrip('/')) + 1 :]}"
        for url, folder in aliases
        if path.startswith(folder.rstrip("/") + "/")
    ]


class _PinnedNameAdapter(HTTPAdapter):
    """HTTPS to any address, with SNI and certificate verification for one name."""

    def __init__(self, name: str):
        self._name = name
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["server_hostname"] = self._name
        kwargs["assert_hostname"] = self._name
        super().init_poolmanager(*args, **kwargs)


class _Session(requests.Session):
    """Asks for one name, never following redirects (each is an answer to check), with
    a timeout, and verifying the certificate with the CA bundle given (passed with each
    request: requests lets REQUESTS_CA_BUNDLE override a session's own)."""

    def __init__(self, name: str, ca_bundle: str | None):
        super().__init__()
        self.mount("https://", _PinnedNameAdapter(name))
        self.headers["Host"] = name
        self._ca_bundle = ca_bundle

    def request(self, method, url, **kwargs):
        kwargs.setdefault("verify", False if self._ca_bundle == UNVERIFIED else self._ca_bundle or True)
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", TIMEOUT)
        return super().request(method, url, **kwargs)


@dataclass(frozen=True)
class Probe:
    """Where and how to reach one host's site; address None means resolve the name."""

    address: str | None
    http_port: int
    https_port: int
    ca_bundle: str | None

    @classmethod
    def for_settings(cls, settings, ca_bundle: str | None) -> Probe:
        return cls(settings.verify_address, settings.verify_http_port, settings.verify_https_port, ca_bundle)

    def get(
        self, scheme: str, name: str, path: str, user_agent: str | None = None, headers: dict | None = None
    ) -> requests.Response:
        """GET scheme://name/path without following redirects; raises on TLS errors."""
        return self.request("GET", scheme, name, path, user_agent=user_agent, headers=headers)

    def url(self, scheme: str, name: str, path: str) -> str:
        port = self.http_port if scheme == "http" else self.https_port
        return f"{scheme}://{self.address or name}:{port}{path}"

    def session(self, name: str) -> requests.Session:
        """A session (its cookies kept) that asks for name, verifying its certificate."""
        return _Session(name, self.ca_bundle)

    def get_within_site(self, name: str, server_name: str, path: str) -> redirects.Answer:
        """GET https://name/path as the deploy's health check judges the answer: redirects
        within the site (server_name's) followed, each asked of name again; one that
        leaves it is the answer."""

        def ask(onward: str) -> tuple[int, str | None]:
            response = self.get("https", name, onward)
            return response.status_code, response.headers.get("Location")

        return redirects.follow(ask, server_name, path)

    def request(
        self,
        method: str,
        scheme: str,
        name: str,
        path: str,
        data: dict | None = None,
        user_agent: str | None = None,
        headers: dict | None = None,
    ) -> requests.Response:
        """Any method, with a form's data and headers of its own, without following redirects."""
        with self.session(name) as session:
            return session.request(
                method,
                self.url(scheme, name, path),
                data=data,
                headers={**({"User-Agent": user_agent} if user_agent else {}), **(headers or {})},
            )

    def served_certificate(self, name: str) -> x509.Certificate:
        """The leaf certificate a TLS handshake for name presents, verified like get()'s."""
        with self._handshake(name) as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))

    def negotiated_protocol(self, name: str) -> str | None:
        """The application protocol (ALPN) the server picks when a client offers h2 and http/1.1."""
        with self._handshake(name, alpn=["h2", "http/1.1"]) as tls:
            return tls.selected_alpn_protocol()

    def _handshake(self, name: str, alpn: list[str] | None = None) -> ssl.SSLSocket:
        context = ssl.create_default_context(cafile=self.ca_bundle)
        if alpn:
            context.set_alpn_protocols(alpn)
        raw = socket.create_connection((self.address or name, self.https_port), timeout=TIMEOUT)
        try:
            return context.wrap_socket(raw, server_hostname=name)
        except BaseException:
            raw.close()
            raise

    def tls_scan(self, name: str) -> ServerScanResult:
        """sslyze's scan of the HTTPS port for name: what Mozilla's intermediate profile
        is checked against (protocol versions, cipher suites, curves, the certificate and
        its chain as sent, known TLS vulnerabilities), and session resumption."""
        extra = (
            ScanCommandsExtraArguments(
                certificate_info=CertificateInfoExtraArgument(custom_ca_file=Path(self.ca_bundle))
            )
            if self.ca_bundle
            else None
        )
        request = ServerScanRequest(
            server_location=ServerNetworkLocation(hostname=name, port=self.https_port, ip_address=self.address),
            scan_commands={*SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER, ScanCommand.SESSION_RESUMPTION},
            scan_commands_extra_arguments=extra or ScanCommandsExtraArguments(),
        )
        scanner = Scanner()
        scanner.queue_scans([request])
        (result,) = scanner.get_results()
        return result


def mozilla_intermediate_issues(scan: ServerScanResult) -> dict[str, str]:
    """A scan against Mozilla's intermediate profile: {check: what is wrong}, empty when
    the server complies."""
    try:
        check_server_against_tls_configuration(
            scan, MozillaTlsConfiguration.get(TlsConfigurationEnum.MOZILLA_INTERMEDIATE)
        )
    except ServerNotCompliantWithTlsConfiguration as error:
        return error.issues
    return {}

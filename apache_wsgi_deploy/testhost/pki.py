"""
The test CA: a root and an intermediate, made once, issuing each test host's
certificate so the HTTP probes verify a real chain and the host name.
"""

from __future__ import annotations

import datetime
import fcntl
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

LEAF_DAYS = 90
RENEW_BEFORE = datetime.timedelta(days=30)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write_key(path: Path, key) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _certificate(
    subject: str,
    issuer_name: x509.Name,
    public_key,
    signing_key,
    days: int,
    ca: bool,
    names=(),
    addresses=(),
    ocsp_url: str | None = None,
):
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(_now() + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name) for name in names]
                + [x509.IPAddress(ipaddress.ip_address(address)) for address in addresses]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if ocsp_url:
        responder = x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))
        builder = builder.add_extension(x509.AuthorityInformationAccess([responder]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def ensure_ca(state: Path) -> Path:
    """Create the root and intermediate once; return the root certificate (the probes' CA).
    The root's key is not kept: it signs the intermediate and nothing else, ever."""
    ca_dir = state / "ca"
    ca_dir.mkdir(parents=True, exist_ok=True)
    # Two fleets coming up at once (the Debian 12 and 13 test passes) must make one CA.
    with (ca_dir / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ca(ca_dir)


def _ca(ca_dir: Path) -> Path:
    root_pem = ca_dir / "root.pem"
    if all((ca_dir / name).exists() for name in ("root.pem", "intermediate.pem", "intermediate.key")):
        return root_pem
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "apache-wsgi-deploy test root")])
    root = _certificate("apache-wsgi-deploy test root", root_name, root_key.public_key(), root_key, 3650, ca=True)
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    intermediate = _certificate(
        "apache-wsgi-deploy test intermediate", root.subject, intermediate_key.public_key(), root_key, 1825, ca=True
    )
    _write_key(ca_dir / "intermediate.key", intermediate_key)
    (ca_dir / "intermediate.pem").write_bytes(_pem(intermediate))
    root_pem.write_bytes(_pem(root))
    return root_pem


def _signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """By this very intermediate: a recreated CA has the same names but new keys."""
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _still_good(certificate_file: Path, names: list[str], addresses: list[str], intermediate) -> bool:
    if not certificate_file.exists():
        return False
    certificate = x509.load_pem_x509_certificate(certificate_file.read_bytes())
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (
        san.get_values_for_type(x509.DNSName) == names
        and [str(address) for address in san.get_values_for_type(x509.IPAddress)] == addresses
        and _signed_by(certificate, intermediate)
        and certificate.not_valid_after_utc - _now() > RENEW_BEFORE
    )


def issue_certificate(state: Path, names: list[str], addresses: list[str] = ()) -> Path:
    """A leaf for names (first is the CN) and IP addresses under certs/<first name>/: cert,
    chain, privkey, fullchain."""
    addresses = list(addresses)
    ca_dir = state / "ca"
    ensure_ca(state)
    intermediate = x509.load_pem_x509_certificate((ca_dir / "intermediate.pem").read_bytes())
    folder = state / "certs" / names[0]
    if _still_good(folder / "cert.pem", names, addresses, intermediate):
        return folder
    return issue_leaf(state, folder, names, addresses)


def issue_leaf(state: Path, folder: Path, names: list[str], addresses=(), ocsp_url: str | None = None) -> Path:
    """A new leaf of the test CA's intermediate in folder, as issue_certificate's, naming
    ocsp_url as its OCSP responder if given."""
    ca_dir = state / "ca"
    intermediate = x509.load_pem_x509_certificate((ca_dir / "intermediate.pem").read_bytes())
    folder.mkdir(parents=True, exist_ok=True)
    intermediate_key = serialization.load_pem_private_key((ca_dir / "intermediate.key").read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _certificate(
        names[0],
        intermediate.subject,
        key.public_key(),
        intermediate_key,
        LEAF_DAYS,
        False,
        names,
        list(addresses),
        ocsp_url,
    )
    _write_key(folder / "privkey.pem", key)
    (folder / "chain.pem").write_bytes(_pem(intermediate))
    (folder / "fullchain.pem").write_bytes(_pem(leaf) + _pem(intermediate))
    (folder / "cert.pem").write_bytes(_pem(leaf))
    return folder

"""An uploaded certificate that would not serve its site is refused before any host is
touched: its key, its names, its PEM and its dates are read on the control machine."""

import shutil
import subprocess
import sys

import pytest

from apache_wsgi_deploy.deploys.packages import HOST_TOOLS
from apache_wsgi_deploy.settings import SettingsError, validate_host
from apache_wsgi_deploy.sources import uploaded_certificate_problems
from apache_wsgi_deploy.testhost import pki
from tests.unit.test_settings import AGREED, DEFAULTS


@pytest.fixture
def issued(tmp_path):
    """Certificates of the test CA for www.example.com (and *.example.org), and another's key."""
    folder = pki.issue_certificate(tmp_path, ["www.example.com", "*.example.org"])
    other = pki.issue_certificate(tmp_path, ["other.example.com"])
    shutil.copy(other / "privkey.pem", folder / "other-key.pem")
    return folder


@pytest.fixture(autouse=True)
def in_project(issued, monkeypatch):
    """The certificates' folder is the project folder, where settings name files from."""
    monkeypatch.chdir(issued)


def problems(folder, names, key="privkey.pem", certificate="cert.pem"):
    return uploaded_certificate_problems(certificate, "chain.pem", key, names)


def test_a_certificate_with_its_key_and_names_passes(issued):
    assert problems(issued, ["www.example.com", "shop.example.org"]) == []


def test_another_key_is_refused_naming_the_setting(issued):
    (found,) = problems(issued, ["www.example.com"], key="other-key.pem")
    assert found.startswith("setting 'tls_key_file' = 'other-key.pem' is not the key of tls_certificate_file")


def test_a_name_the_certificate_does_not_cover_is_refused(issued):
    (found,) = problems(issued, ["www.example.com", "a.b.example.org", "example.com"])
    assert "does not cover a.b.example.org, example.com (it names www.example.com, *.example.org)" in found


def test_garbage_is_refused_without_a_traceback(issued):
    (issued / "garbage.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    assert problems(issued, ["www.example.com"], certificate="garbage.pem") == [
        "setting 'tls_certificate_file' = 'garbage.pem' holds no PEM certificate"
    ]
    assert problems(issued, ["www.example.com"], key="garbage.pem") == [
        "setting 'tls_key_file' = 'garbage.pem' holds no unencrypted PEM private key"
    ]


def test_the_inventory_is_refused_before_any_host_is_touched(issued):
    data = {
        **DEFAULTS,
        **AGREED,
        "app_source": str(issued),  # any folder: only its existence is checked here
        "tls_certificate_source": "files",
        "tls_certificate_file": str(issued / "cert.pem"),
        "tls_chain_file": str(issued / "chain.pem"),
        "tls_key_file": str(issued / "other-key.pem"),
    }
    with pytest.raises(SettingsError, match="host web1: setting 'tls_key_file' = .* is not the key of"):
        validate_host("web1", data)


VHOST = """<VirtualHost *:80>
    ServerName {name}
</VirtualHost>
<VirtualHost *:443>
    ServerName {name}
    ServerAlias shop.example.org
    SSLCertificateFile {folder}/fullchain.pem
    SSLCertificateKeyFile {folder}/{key}
</VirtualHost>
"""


def host_check(enabled) -> tuple[int, str]:
    """tlscheck.py as the reload runs it on the host: the real openssl, real files."""
    check = subprocess.run(
        [sys.executable, str(HOST_TOOLS / "tlscheck.py"), str(enabled)], capture_output=True, text=True
    )
    return check.returncode, check.stderr


@pytest.mark.parametrize(
    ("name", "key", "complaint"),
    [
        ("www.example.com", "privkey.pem", None),
        ("www.example.com", "other-key.pem", "other-key.pem is not the key of certificate"),
        ("api.example.com", "privkey.pem", "does not cover api.example.com"),
    ],
)
def test_the_host_check_before_a_reload_finds_what_would_stop_apache(issued, tmp_path, name, key, complaint):
    enabled = tmp_path / "sites-enabled"
    enabled.mkdir()
    (enabled / "shop.conf").write_text(VHOST.format(name=name, folder=issued, key=key))
    status, said = host_check(enabled)
    if complaint is None:
        assert (status, said) == (0, "")
    else:
        assert status == 1 and f"{enabled}/shop.conf: {name}: " in said and complaint in said


def test_the_host_check_names_a_missing_certificate(tmp_path):
    enabled = tmp_path / "sites-enabled"
    enabled.mkdir()
    (enabled / "shop.conf").write_text(VHOST.format(name="www.example.com", folder=tmp_path / "gone", key="k.pem"))
    assert host_check(enabled) == (
        1,
        f"{enabled}/shop.conf: www.example.com: certificate {tmp_path}/gone/fullchain.pem is missing\n",
    )


@pytest.mark.parametrize(
    "name",
    ["staging.example.com", ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])],
    ids=["a short name", "a 253-character name"],
)
def test_a_self_signed_certificate_is_made_for_any_dns_name(name, tmp_path):
    """A common name holds 64 characters at most: a longer name is in subjectAltName only."""
    from cryptography import x509

    from apache_wsgi_deploy.operations import tls
    from tests.unit.harness import LocalHost, operation_commands

    certificate, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    host = LocalHost()
    host.execute(operation_commands(host, tls.selfsigned, str(certificate), str(key), [name]))
    made = x509.load_pem_x509_certificate(certificate.read_bytes())
    assert made.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    ) == [name]


def test_a_ca_bundle_holding_a_private_key_is_refused(issued):
    """The host trusts it, and every user reads it: a key in it would be published."""
    from apache_wsgi_deploy.settings import validate_host

    (issued / "app").mkdir()
    (issued / "app" / "requirements.txt").write_text("Flask==3.1.3\n")
    (issued / "bundle.pem").write_text((issued / "chain.pem").read_text() + (issued / "privkey.pem").read_text())
    data = {**AGREED, "acme_ca_bundle": "bundle.pem"}
    with pytest.raises(SettingsError, match="holds PRIVATE KEY: a CA bundle holds certificates only"):
        validate_host("web1", data)
    (issued / "bundle.pem").write_text((issued / "chain.pem").read_text())
    assert validate_host("web1", data).acme_ca_bundle == "bundle.pem"

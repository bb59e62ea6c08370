"""Bad group_data is refused with a message naming host, setting, value and allowed form."""

import runpy
from dataclasses import fields
from pathlib import Path

import pytest

from apache_wsgi_deploy.settings import SCHEMA, Settings, SettingsError

PROJECT = Path(__file__).resolve().parents[2]
DEFAULTS = {
    key: value
    for key, value in runpy.run_path(str(PROJECT / "group_data" / "all.py")).items()
    if not key.startswith("__")
}


def validate(**overrides):
    return Settings.from_data("web1", {**DEFAULTS, **overrides})


def test_group_data_all_defines_exactly_the_schema():
    assert list(DEFAULTS) == list(SCHEMA)
    assert [field.name for field in fields(Settings)] == list(SCHEMA)


def test_defaults_are_valid():
    assert validate().server_name == "www.example.com"


def test_pyinfra_keys_share_host_data():
    settings = validate(ssh_user="deploy", _sudo=True, ssh_config_file="/x/ssh_config")
    assert settings.wsgi_user == "www-data"


HOSTILE = [
    "www.example.com\n    Redirect / http://evil/",  # newline: a second directive
    'www.example.com" evil="1',  # quote
    "<VirtualHost *:80>",  # angle brackets: a new section
    "www.example.com>",
    "www.example.com; reboot",  # shell
    "www.example.com $(reboot)",
    "`reboot`",
]


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("server_name", "www.exämple.com", "a DNS name"),
        ("server_name", "Www.Example.com", "a DNS name"),
        ("server_name", "-bad.example.com", "a DNS name"),
        ("server_name", "a" * 64 + ".example.com", "a DNS name"),
        ("server_name", "example..com", "a DNS name"),
        ("server_name", "", "a DNS name"),
        ("server_name", 42, "a DNS name"),
        ("server_aliases", "example.com", "a list of DNS names"),
        ("server_aliases", ["ok.example.com", "bad name"], "a DNS name"),
        ("app_name", "Flask App", "a name of 1-32 characters"),
        ("app_name", "../etc", "a name of 1-32 characters"),
        ("app_install_path", "srv/app", "an absolute path"),
        ("app_install_path", "/", "an absolute path"),
        ("app_install_path", "/srv/app/", "an absolute path"),
        ("app_install_path", "/srv/../etc", "normalised path"),
        ("app_install_path", "/srv/my app", "no spaces or quotes"),
        ("app_install_path", "/var/www/html/app", "outside any DocumentRoot"),
        ("app_install_path", "/var/www", "outside any DocumentRoot"),
        ("log_dir", "logs", "an absolute path"),
        ("tls_dir", "/etc/ssl/x'y", "no spaces or quotes"),
        ("wsgi_user", "root user", "a user or group name"),
        ("wsgi_group", "", "a user or group name"),
        ("wsgi_processes", 0, "from 1 to 64"),
        ("wsgi_processes", 65, "from 1 to 64"),
        ("wsgi_processes", "2", "from 1 to 64"),
        ("wsgi_processes", True, "from 1 to 64"),
        ("wsgi_threads", 2.5, "from 1 to 256"),
        ("hsts_max_age", -1, "from 0 to"),
        ("tls_certificate_source", "letsencrypt", "one of 'files'"),
        ("tls_key_file", "key\n.pem", "a path on the control machine"),
        ("verify_address", "127.0.0.1 evil", "None or a DNS name"),
        ("verify_https_port", 70000, "from 1 to 65535"),
        *[("server_name", value, "a DNS name") for value in HOSTILE],
        *[("app_install_path", "/srv/" + value, "no spaces or quotes") for value in HOSTILE if "\n" not in value],
        ("app_install_path", "/srv/app\nInclude /etc/shadow", "no spaces or quotes"),
    ],
)
def test_bad_value_is_refused_naming_host_setting_value_and_form(key, value, allowed):
    with pytest.raises(SettingsError) as error:
        validate(**{key: value})
    message = str(error.value)
    assert message.startswith("host web1: ")
    assert f"setting {key!r} = {value!r}" in message
    assert allowed in message


def test_unknown_setting_is_refused_as_a_typo():
    with pytest.raises(SettingsError, match="host web1: unknown setting 'server_nmae'"):
        validate(server_nmae="www.example.com")


def test_missing_setting_is_refused():
    data = dict(DEFAULTS)
    del data["hsts_max_age"]
    with pytest.raises(SettingsError, match="setting 'hsts_max_age' is missing"):
        Settings.from_data("web1", data)


def test_every_problem_is_reported_at_once():
    with pytest.raises(SettingsError) as error:
        validate(server_name="bad name", wsgi_threads=0, typo=1)
    assert str(error.value).count("host web1:") == 3


def test_valid_overrides_are_kept():
    settings = validate(server_aliases=["example.com"], wsgi_processes=4, verify_address="127.0.0.1")
    assert settings.server_aliases == ("example.com",)
    assert settings.wsgi_processes == 4
    assert settings.verify_address == "127.0.0.1"

"""Bad group_data is refused with a message naming host, setting, value and allowed form."""

import ast
import re
from dataclasses import fields

import pytest

from apache_wsgi_deploy import schema, validators
from apache_wsgi_deploy.schema import HOST_KEYS, SETTINGS, SITE_KEYS
from apache_wsgi_deploy.settings import Settings, SettingsError, Site, shown
from tests import CHECKOUT

DEFAULTS = schema.defaults()


# The defaults ask for Let's Encrypt, whose terms only the user can agree to.
AGREED = {"acme_agree_tos": True}
FILES = {
    "tls_certificate_source": "files",
    "tls_certificate_file": "certs/cert.pem",
    "tls_chain_file": "certs/chain.pem",
    "tls_key_file": "certs/privkey.pem",
}


def validate(**overrides):
    return Settings.from_data("web1", {**DEFAULTS, **AGREED, **overrides})


def test_settings_hold_exactly_the_schema():
    assert [field.name for field in fields(Settings)] == list(HOST_KEYS)
    assert [field.name for field in fields(Site)] == [*SITE_KEYS, "dedicated_user"]


def test_a_setting_left_out_takes_its_default():
    settings = Settings.from_data("web1", AGREED)
    assert settings == validate()
    assert settings.sites[0].hsts_max_age == SETTINGS["hsts_max_age"].default


def test_the_reference_is_current():
    """docs/settings.md follows the schema: `python -m apache_wsgi_deploy.schema`."""
    assert (CHECKOUT / schema.REFERENCE_FILE).read_text() == schema.reference()


def test_the_scaffolds_settings_are_the_schemas_with_its_defaults():
    """Each commented `name = value` line of the group_data `awd init` writes names a
    setting and shows its default."""
    text = (CHECKOUT / "apache_wsgi_deploy" / "scaffold" / "group_data" / "web_servers.py").read_text()
    shown = dict(line.removeprefix("# ").split(" = ", 1) for line in text.splitlines() if " = " in line)
    assert shown
    assert {name: ast.literal_eval(value) for name, value in shown.items()} == {
        name: SETTINGS[name].default for name in shown
    }


def test_every_setting_is_documented_with_its_allowed_form():
    assert [name for name, setting in SETTINGS.items() if not setting.doc or not setting.validate.form] == []


def test_defaults_need_only_the_agreement_to_the_acme_terms():
    with pytest.raises(SettingsError) as error:
        Settings.from_data("web1", DEFAULTS)
    assert str(error.value) == (
        "host web1: setting 'acme_agree_tos' is False but tls_certificate_source is 'acme': read the terms"
        " of service of https://acme-v02.api.letsencrypt.org/directory and set it to True"
    )
    assert validate().sites[0].server_name == "www.example.com"


def test_pyinfra_keys_share_host_data():
    settings = validate(ssh_user="deploy", _sudo=True, ssh_config_file="/x/ssh_config")
    assert settings.sites[0].wsgi_user == "flaskapp"


HOSTILE = [
    "www.example.com\n    Redirect / http://evil/",  # newline: a second directive
    "www.example.com\n",  # a trailing newline, which "$" in a regex lets through
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
        # Folders the deploy makes, and removes with their site, are never the system's.
        *[
            ("app_install_path", path, "a folder of its own")
            for path in ("/opt", "/srv", "/home", "/etc", "/usr/local")
        ],
        *[("app_install_path", path, "a folder of its own") for path in ("/etc/app", "/usr/lib/app", "/run/app")],
        ("log_dir", "/var/log", "a folder of its own"),
        ("log_dir", "/etc/app-logs", "a folder of its own"),
        ("tls_dir", "/etc", "a folder of its own"),
        ("tls_dir", "/usr/share/certs", "a folder of its own"),
        # Names Debian already gives a site, a conf, a user or a group.
        *[("app_name", name, "a name of the app's own") for name in ("default-ssl", "security", "www-data", "shadow")],
        # Identities that could become root or read every app's secrets.
        ("wsgi_user", "www-data", "www-data is Apache's"),
        ("wsgi_user", "nobody", "a system account of Debian's"),
        *[("wsgi_group", name, "can become root") for name in ("root", "shadow", "sudo", "adm", "docker")],
        ("wsgi_group", "www-data", "www-data is Apache's"),
        ("log_dir", "logs", "an absolute path"),
        ("tls_dir", "/etc/ssl/x'y", "no spaces or quotes"),
        ("wsgi_entry", "app", "module:callable or module:factory() of Python names"),
        ("wsgi_entry", "app:app\nimport os", "module:callable or module:factory() of Python names"),
        ("wsgi_entry", "os; os.system('x'):app", "module:callable or module:factory() of Python names"),
        ("wsgi_entry", "import:app", "module:callable or module:factory() of Python names"),
        ("wsgi_entry", "my-app:app", "module:callable or module:factory() of Python names"),
        ("wsgi_entry", "app:create_app(1)", "module:factory() of Python names, such as app:app"),
        ("wsgi_entry", "app:create_app( )", "module:factory()"),
        ("wsgi_entry", "app:()", "module:factory()"),
        ("wsgi_entry", "app():app", "module:factory()"),
        ("health_check_path", "/admin/../secret", "such as /health or /admin/login/"),
        ("health_check_path", "/./health", "no '.' or '..' segment"),
        ("health_check_path", "/admin//login", "a path the app serves"),
        ("health_check_path", "health", "a path the app serves"),
        ("health_check_path", "/health?full=1", "no query string"),
        ("health_check_path", "/health\n", "a path the app serves"),
        ("health_check_path", "/he alth", "a path the app serves"),
        ("wsgi_user", "root user", "a user or group name"),
        ("wsgi_user", "_\n", "a user or group name"),  # found by the hypothesis test
        ("wsgi_group", "", "a user or group name"),
        ("wsgi_processes", 0, "from 1 to 64"),
        ("wsgi_processes", 65, "from 1 to 64"),
        ("wsgi_processes", "2", "from 1 to 64"),
        ("wsgi_processes", "Auto", '"auto" or a whole number from 1 to 64'),
        ("keepalive_max_requests", -1, "from 0 to 1000000"),
        ("http2", "yes", "True or False"),
        ("mpm_threads_per_child", 65, "from 1 to 64"),
        ("wsgi_queue_timeout", 1.5, "from 0 to 3600"),
        ("wsgi_processes", True, "from 1 to 64"),
        ("wsgi_threads", 2.5, "from 1 to 256"),
        ("hsts_max_age", -1, "from 0 to"),
        ("referrer_policy", "always", "one of 'no-referrer'"),
        ("expected_listeners", [9100, 70000], "a list of distinct TCP ports"),
        ("expected_listeners", ["9100"], "a list of distinct TCP ports"),
        ("verify_host_baseline", "no", "True or False"),
        ("content_security_policy", "default-src 'self'\"\nHeader unset X", 'without " \\ or %'),
        ("content_security_policy", "default-src %{HTTP_HOST}e", 'without " \\ or %'),
        ("content_security_policy", "", "one line of printable ASCII"),
        ("accepted_header_findings", ["cors"], "each one of 'frame-ancestors'"),
        ("accepted_header_findings", "cookie-secure", "a list of distinct items"),
        ("accepted_header_findings", ["cookie-secure", "cookie-secure"], "a list of distinct items"),
        ("tls_certificate_source", "letsencrypt", "one of 'acme', 'files', 'selfsigned'"),
        ("acme_directory_url", "http://acme.example.com/dir", "an https:// URL"),
        ("acme_directory_url", "https://acme.example.com/dir\nInclude /etc/shadow", "an https:// URL"),
        ("acme_directory_url", "https://acme.example.com/dir' --evil", "an https:// URL"),
        ("acme_directory_url", "https://acme.example.com/dir?x=$(reboot)", "an https:// URL"),
        ("acme_email", "ops team@example.com", "an e-mail address"),
        ("acme_email", "ops@example.com;reboot", "an e-mail address"),
        ("acme_email", "ops", "an e-mail address"),
        ("acme_agree_tos", "yes", "True or False"),
        ("acme_key_type", "ed25519", "one of 'ecdsa', 'rsa'"),
        ("verify_certificate_min_days", -1, "from 0 to 365"),
        ("static_url", "static", "None or a URL path such as /static"),
        ("static_url", "/", "a URL path"),
        ("static_url", "/static/", "no trailing '/'"),
        ("static_url", "/static/../app", "a URL path"),
        ("static_url", "/static\nAlias / /etc/", "a URL path"),
        ("static_url", "/st atic", "a URL path"),
        ("static_dir", "../secrets", "a folder inside app_source"),
        ("static_dir", "/etc", "a folder inside app_source"),
        ("static_dir", "", "a folder inside app_source"),
        ("static_max_age", -1, "from 0 to"),
        ("app_source", {"git": "https://example.com/x.git"}, 'a folder, or {"git"'),
        ("app_source", {"git": "https://example.com/x.git", "ref": "v1", "depth": 1}, 'a folder, or {"git"'),
        ("app_source", {"git": "https://user:token@example.com/x.git", "ref": "v1"}, "without credentials"),
        ("app_source", {"git": "-oProxyCommand=reboot", "ref": "v1"}, "a git URL"),
        ("app_source", {"git": "file:///etc", "ref": "v1"}, "a git URL"),
        ("app_source", {"git": "https://example.com/x.git; reboot", "ref": "v1"}, "a git URL"),
        ("app_source", {"git": "https://example.com/x.git", "ref": "--upload-pack=reboot"}, "a git ref"),
        ("app_source", {"git": "https://example.com/x.git", "ref": "main..evil"}, "a git ref"),
        ("app_source", {"git": "https://example.com/x.git", "ref": "+main:refs/x"}, "a git ref"),
        ("app_env", ["SECRET_KEY"], "a dict of environment variables"),
        ("app_env", {"SECRET KEY": "x"}, "environment variable names of letters"),
        ("app_env", {"1KEY": "x"}, "environment variable names of letters"),
        ("app_env", {"KEY": 42}, 'for KEY: a string, {"from_env": "VARIABLE"}'),
        ("app_env", {"KEY": "a\0b"}, "for KEY: a string"),
        ("app_env", {"KEY": {"from_env": "A B"}}, "for KEY: a string"),
        ("app_env", {"KEY": {"from_env": "A", "from_file": "b"}}, "for KEY: a string"),
        ("app_env", {"KEY": {"from_vault": "x"}}, "for KEY: a string"),
        ("secret_files", ["htpasswd"], "a dict of file names"),
        ("secret_files", {"../htpasswd": {"from_env": "X"}}, "file names of letters, digits and . _ -"),
        ("secret_files", {".env": {"from_env": "X"}}, "file names of letters, digits and . _ -"),
        ("secret_files", {"htpasswd": "alice:x"}, 'for htpasswd: {"from_env": "VARIABLE"}'),
        ("secret_files", {"htpasswd": {"from_env": "A B"}}, 'for htpasswd: {"from_env": "VARIABLE"}'),
        *[
            (key, {"KEY": {"from_command": command}}, '{"from_command": "program args"}')
            for key in ("app_env", "secret_files")
            for command in ("", "  ", [], [""], ["op", 1], 'op read "unclosed', "a\0b", 42, {"op": "read"})
        ],
        ("maintenance_allowed", "10.0.0.0/8", "a list of IP addresses or networks"),
        ("maintenance_allowed", ["10.0.0.0/33"], "a list of IP addresses or networks"),
        ("maintenance_allowed", ["10.0.0.1' || true || '"], "a list of IP addresses or networks"),
        ("maintenance_allowed", [" 10.0.0.1"], "a list of IP addresses or networks"),
        ("maintenance_retry_after", 0, "from 1 to 86400"),
        ("adopted_folders", "/mnt/data", "a list of absolute folders"),
        ("adopted_folders", ["/mnt/data/."], "a list of absolute folders"),
        ("wsgi_umask", "027", "a umask of four octal digits"),
        ("wsgi_umask", 23, "a umask of four octal digits"),
        ("server_tokens", "Prod\nInclude /etc/shadow", "one of 'Prod'"),
        ("server_signature", "off", "one of 'Off', 'On', 'EMail'"),
        ("trace_enable", False, "one of 'Off', 'On', 'extended'"),
        ("directory_listings", "no", "True or False"),
        ("apache_instance", "separate", "one of 'shared', 'own'"),
        ("apache_instance_port", 443, "other than 80 and 443"),
        ("apache_instance_port", 8080, "from 1 to 1023"),
        ("apache_instance_port", "8000", "from 1 to 1023"),
        ("request_body_limit", -1, "from 0 to"),
        ("request_timeout", 0, "from 1 to 3600"),
        ("tls_key_file", "key\n.pem", "a path on the control machine"),
        ("verify_address", "127.0.0.1 evil", "None or a DNS name"),
        ("verify_https_port", 70000, "from 1 to 65535"),
        ("expected_foreign_entries", "sites-enabled/monitoring.conf", "a list of files as <kind>-enabled/<file>"),
        ("expected_foreign_entries", ["sites-enabled/../../shadow.conf"], "a list of files as <kind>-enabled/<file>"),
        ("expected_foreign_entries", ["conf-enabled/x.load"], "a list of files as <kind>-enabled/<file>"),
        ("expected_foreign_entries", ["/etc/apache2/sites-enabled/x.conf"], "a list of files as <kind>-enabled/<file>"),
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
    assert f"setting {key!r} = {shown(key, value)}" in message
    assert allowed in message


@pytest.mark.parametrize(
    ("key", "value", "secret"),
    [
        ("app_source", {"git": "https://bob:hunter2@example.com/shop.git", "ref": "main"}, "hunter2"),
        ("app_source", {"git": "ssh://deploy:hunter2@example.com/shop.git", "ref": "main"}, "hunter2"),
        ("app_env", {"SECRET_KEY": "hunter2", "BAD": 1}, "hunter2"),
        ("sites", [{"app_env": {"SECRET_KEY": "hunter2", "BAD": 1}}], "hunter2"),
    ],
)
def test_a_refused_value_never_prints_a_secret(key, value, secret):
    with pytest.raises(SettingsError) as error:
        validate(**{key: value})
    assert f"setting {key!r}" in str(error.value) or "setting 'sites[0].app_env'" in str(error.value)
    assert secret not in str(error.value)


def test_unknown_setting_is_refused_as_a_typo():
    with pytest.raises(SettingsError, match="host web1: unknown setting 'server_nmae'"):
        validate(server_nmae="www.example.com")


def test_every_problem_is_reported_at_once():
    with pytest.raises(SettingsError) as error:
        validate(server_name="bad name", wsgi_threads=0, typo=1)
    assert str(error.value).count("host web1:") == 3


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({**FILES, "tls_chain_file": None}, "setting 'tls_chain_file' is None but tls_certificate_source is 'files'"),
        ({"tls_key_file": "certs/privkey.pem"}, "setting 'tls_key_file' = 'certs/privkey.pem' is only used when"),
        ({"tls_certificate_source": "selfsigned", "acme_ca_bundle": "ca.pem"}, "setting 'acme_ca_bundle' = 'ca.pem'"),
        # Apache would round it down to a multiple, or need a full restart for a higher ServerLimit.
        (
            {"mpm_max_request_workers": 160},
            "'mpm_max_request_workers' = 160 must be a multiple of mpm_threads_per_child (64)",
        ),
        ({"mpm_threads_per_child": 10, "mpm_max_request_workers": 170}, "at most 16 times it (160)"),
    ],
)
def test_incomplete_or_contradictory_settings_are_refused(overrides, complaint):
    with pytest.raises(SettingsError, match=re.escape(complaint)):
        validate(**overrides)


def test_each_certificate_source_is_complete_on_its_own():
    assert [key for key, _ in validate(**FILES).control_files()] == [
        "app_source",
        "tls_certificate_file",
        "tls_chain_file",
        "tls_key_file",
    ]
    acme = validate(acme_email="ops@example.com", acme_ca_bundle="pebble.pem", acme_key_type="rsa")
    assert acme.sites[0].paths.key_path == "/etc/letsencrypt/live/www.example.com/privkey.pem"
    assert acme.control_files() == [("app_source", "app"), ("acme_ca_bundle", "pebble.pem")]
    selfsigned = validate(tls_certificate_source="selfsigned", acme_agree_tos=False).sites[0]
    assert selfsigned.paths.certificate_path == "/etc/ssl/apache-wsgi-deploy/www.example.com/fullchain.pem"


def test_valid_overrides_are_kept():
    settings = validate(server_aliases=["example.com"], wsgi_processes=4, verify_address="127.0.0.1")
    assert settings.sites[0].server_aliases == ("example.com",)
    assert settings.sites[0].wsgi_processes == 4
    assert settings.verify_address == "127.0.0.1"


@pytest.mark.parametrize("path", ["/", "/health", "/admin/login/", "/api/v1.2/status~/", "/.well-known/ok"])
def test_any_path_the_app_serves_is_a_health_check_path(path):
    assert validate(health_check_path=path).sites[0].health_check_path == path


@pytest.mark.parametrize(
    ("entry", "module", "name", "factory"),
    [
        ("app:app", "app", "app", False),
        ("myproject.wsgi:application", "myproject.wsgi", "application", False),
        ("flaskr:create_app()", "flaskr", "create_app", True),
    ],
)
def test_wsgi_entry_names_an_application_or_its_factory(entry, module, name, factory):
    site = validate(wsgi_entry=entry).sites[0]
    assert (site.wsgi_module, site.wsgi_callable, site.wsgi_factory) == (module, name, factory)


def test_auto_daemon_processes_follow_the_host_cpu_count():
    site = validate().sites[0]
    assert site.daemon_processes(cpu_count=6) == 6
    assert site.daemon_processes(cpu_count=0) == 1
    assert site.daemon_processes(cpu_count=512) == 64
    assert validate(wsgi_processes=3).sites[0].daemon_processes(cpu_count=6) == 3


def test_static_files_name_their_folder_on_the_control_machine():
    site = validate(static_url="/assets", static_dir="web/static").sites[0]
    assert ("static_dir", "app/web/static") in site.control_files()
    assert site.paths.static_path == "/srv/flaskapp/current/static"
    assert "static_dir" not in dict(validate().sites[0].control_files())


ENV = {"LOG_LEVEL": "info", "SECRET_KEY": {"from_env": "SHOP_SECRET"}, "DB": {"from_file": "/etc/shop/db"}}


def test_app_env_names_what_the_control_machine_must_provide():
    site = validate(app_env=ENV).sites[0]
    assert ("app_env.DB", "/etc/shop/db") in site.control_files()
    assert site.control_environment() == [("app_env.SECRET_KEY", "SHOP_SECRET")]
    assert site.paths.env_file == "/srv/flaskapp/current/environment.json"
    # Values, literal ones included, stay out of the settings' printed form.
    assert "info" not in repr(site)


def test_missing_environment_variable_or_file_stops_the_run(monkeypatch, tmp_path):
    from apache_wsgi_deploy.settings import validate_host

    monkeypatch.delenv("SHOP_SECRET", raising=False)
    # Files a setting names are looked for in the project folder: the current one.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "requirements.txt").write_text("Flask==3.1.3\n")
    data = {**DEFAULTS, **AGREED, "app_env": ENV}
    with pytest.raises(SettingsError) as error:
        validate_host("web1", data)
    assert "setting 'app_env.SECRET_KEY' reads environment variable SHOP_SECRET, which is not set" in str(error.value)
    assert "setting 'app_env.DB' = '/etc/shop/db' names no file on the control machine" in str(error.value)
    # A run that only reads the hosts compares these as the host has them: not a problem there.
    assert validate_host("web1", data, app_values=False).sites[0].app_env == ENV


def test_a_command_source_is_a_program_and_its_words_never_a_shell():
    site = validate(
        app_env={"A": {"from_command": "op read 'op://shop/api/token key'"}},
        secret_files={"b": {"from_command": ["pass", "show", "shop/htpasswd"]}},
    ).sites[0]
    assert site.control_commands() == [
        ("app_env.A", "op read 'op://shop/api/token key'"),
        ("secret_files.b", ["pass", "show", "shop/htpasswd"]),
    ]
    assert validators.command_words(site.app_env["A"]["from_command"]) == ["op", "read", "op://shop/api/token key"]
    # A site to remove reads nothing of its app.
    assert validate(app_present=False, app_env={"A": {"from_command": "op read x"}}).sites[0].control_commands() == []


def test_git_sources_name_no_file_on_the_control_machine():
    source = {"git": "git@github.com:me/shop.git", "ref": "v1.2"}
    site = validate(app_source=source, static_url="/static").sites[0]
    assert site.from_git and site.app_source == source
    assert [key for key, _ in site.control_files()] == []
    assert site.paths.git_cache == "/srv/flaskapp/git"


def test_auto_gives_each_own_instance_a_port_of_its_own_below_1024_on_every_run():
    sites = validate(sites=[{"apache_instance": "own"}, {**BLOG, "apache_instance": "own"}]).sites
    ports = [site.apache_instance_port for site in sites]
    assert all(600 <= port < 1000 for port in ports) and ports[0] != ports[1]
    assert ports == [site.apache_instance_port for site in validate(sites=[{}, BLOG]).sites]
    # Only a site in an instance of its own claims its port.
    assert validate(sites=[{"apache_instance_port": 700}, {**BLOG, "apache_instance_port": 700}])


def test_auto_gives_each_app_its_own_user_and_folder():
    site = validate(app_name="shop").sites[0]
    assert (site.wsgi_user, site.wsgi_group, site.app_install_path, site.dedicated_user) == (
        "shop",
        "shop",
        "/srv/shop",
        True,
    )
    named = validate(wsgi_user="shopd").sites[0]
    assert (named.wsgi_user, named.wsgi_group, named.dedicated_user) == ("shopd", "shopd", False)


BLOG = {"app_name": "blog", "server_name": "blog.example.com", "wsgi_threads": 4}


def test_each_site_overrides_the_defaults_it_names():
    flaskapp, blog = validate(sites=[{}, BLOG], wsgi_threads=8).sites
    assert (flaskapp.app_name, flaskapp.server_name, flaskapp.wsgi_threads) == ("flaskapp", "www.example.com", 8)
    assert (blog.app_name, blog.server_name, blog.wsgi_threads, blog.app_install_path) == (
        "blog",
        "blog.example.com",
        4,
        "/srv/blog",
    )


def test_a_renamed_site_takes_over_the_dns_names_of_its_absent_old_name():
    renamed = validate(sites=[{**BLOG, "app_present": False}, {**BLOG, "app_name": "journal"}])
    assert [site.server_name for site in renamed.sites] == [BLOG["server_name"]] * 2
    # Its app name, folder and user stay the old one's until it is gone.
    with pytest.raises(SettingsError, match="sites\\[0\\] and sites\\[1\\] both have app_name 'blog'"):
        validate(sites=[{**BLOG, "app_present": False}, BLOG])


def test_absent_sites_are_told_apart():
    settings = validate(sites=[{}, {**BLOG, "app_present": False}])
    assert [site.app_name for site in settings.present_sites] == ["flaskapp"]
    assert [site.app_name for site in settings.absent_sites] == ["blog"]


@pytest.mark.parametrize(
    ("sites", "complaint"),
    [
        ([], "setting 'sites' = [] is invalid: expected a non-empty list of dicts"),
        ({}, "expected a non-empty list of dicts"),
        (["blog"], "expected a non-empty list of dicts"),
        (
            [{}, {"app_name": "blog", "server_nmae": "x"}],
            "setting 'sites[1]' has 'server_nmae', which is not a per-site",
        ),
        ([{}, {"app_name": "blog", "acme_email": "x@example.com"}], "'acme_email', which is not a per-site setting"),
        ([{}, {**BLOG, "server_name": "bad name"}], "setting 'sites[1].server_name' = 'bad name' is invalid"),
        (
            [{}, {**BLOG, "wsgi_user": "root"}],
            "setting 'sites[1].wsgi_user' = 'root' is invalid: expected \"auto\" or an unprivileged",
        ),
        ([{"app_name": "root"}], "setting 'sites[0].app_name' = 'root' is invalid: expected a name of the app's own"),
        (
            [{}, {**BLOG, "server_name": "www.example.com"}],
            "sites[0] and sites[1] both have server_name/server_aliases 'www.example.com'",
        ),
        (
            [{}, {**BLOG, "server_aliases": ["www.example.com"]}],
            "both have server_name/server_aliases 'www.example.com'",
        ),
        ([{}, {**BLOG, "app_name": "flaskapp"}], "sites[0] and sites[1] both have app_name 'flaskapp'"),
        (
            [
                {"apache_instance": "own", "apache_instance_port": 700},
                {**BLOG, "apache_instance": "own", "apache_instance_port": 700},
            ],
            "sites[0] and sites[1] both have apache_instance_port 700",
        ),
        ([{}, {**BLOG, "app_install_path": "/srv/flaskapp"}], "both have app_install_path '/srv/flaskapp'"),
        (
            [{}, {**BLOG, "app_install_path": "/srv/flaskapp/blog"}],
            "'/srv/flaskapp/blog' is inside another site's '/srv/flaskapp'",
        ),
        ([{}, {**BLOG, "tls_certificate_source": "files"}], "setting 'sites[1].tls_certificate_file' is None but"),
        ([{}, {**BLOG, "wsgi_user": "flaskapp"}], "sites[0] and sites[1] both have wsgi_user 'flaskapp'"),
        ([{}, {**BLOG, "wsgi_group": "flaskapp"}], "sites[0] and sites[1] both have wsgi_group 'flaskapp'"),
        (
            [{"server_aliases": ["www.example.com"]}],
            "sites[0] names a DNS name twice in server_name and server_aliases",
        ),
    ],
)
def test_bad_sites_are_refused_naming_the_entry(sites, complaint):
    with pytest.raises(SettingsError, match=re.escape(complaint)):
        validate(sites=sites)


def test_acme_terms_are_needed_only_when_a_site_uses_acme():
    validate(**FILES, acme_agree_tos=False)
    with pytest.raises(SettingsError, match="'acme_agree_tos' is False"):
        validate(**FILES, acme_agree_tos=False, sites=[{}, {**BLOG, "tls_certificate_source": "acme"}])


def test_the_ssh_user_is_never_an_apps_user():
    with pytest.raises(SettingsError, match="setting 'wsgi_user' = 'deploy' is the SSH user the deploy logs in as"):
        validate(ssh_user="deploy", wsgi_user="deploy")
    assert validate(ssh_user="deploy").sites[0].wsgi_user == "flaskapp"


def test_the_data_folder_is_the_apps_own_by_default_and_in_its_environment():
    (site,) = validate().sites
    assert site.data_dir == f"/var/lib/{site.app_name}"
    assert site.paths.linked_dir("instance") == f"/var/lib/{site.app_name}/instance"


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        # The app could rename its own code away, or rewrite its logs or keys.
        ({"data_dir": "/srv"}, "setting 'data_dir' = '/srv' is invalid"),
        ({"data_dir": "/srv/flaskapp"}, "setting 'data_dir' = '/srv/flaskapp' overlaps app_install_path"),
        ({"app_install_path": "/var/lib/flaskapp/code"}, "overlaps app_install_path '/var/lib/flaskapp/code'"),
        ({"data_dir": "/var/log/apache2/flaskapp"}, "overlaps log_dir '/var/log/apache2'"),
        ({"data_dir": "/var/lib/apache-wsgi-deploy"}, "overlaps the deploy's own folder"),
        ({"app_env": {"APP_DATA_DIR": "/tmp"}}, "setting 'app_env' sets APP_DATA_DIR, which the deploy sets itself"),
        ({"linked_dirs": ["instance/db"]}, "setting 'linked_dirs' = ['instance/db'] is invalid: expected a list of"),
        ({"linked_dirs": [".."]}, "setting 'linked_dirs' = ['..'] is invalid"),
        ({"linked_dirs": ["media", "media"]}, "expected a list of distinct folder names"),
        ({"release_commands": ["migrate\nrm -rf /"]}, "setting 'release_commands' = ['migrate\\nrm -rf /'] is invalid"),
        ({"release_commands": [" "]}, "setting 'release_commands' = [' '] is invalid"),
        ({"app_source_exclude": ["a/b"]}, "setting 'app_source_exclude' = ['a/b'] is invalid"),
        ({"build_dirs": ["staticfiles"]}, "setting 'build_dirs' names folders but no release_commands make them"),
        (
            {"build_dirs": ["media"], "linked_dirs": ["media"], "release_commands": ["true"]},
            "setting 'build_dirs' has 'media', which linked_dirs has too",
        ),
    ],
)
def test_a_data_folder_the_app_could_escape_from_and_bad_release_settings_are_refused(overrides, complaint):
    with pytest.raises(SettingsError, match=re.escape(complaint)):
        validate(**overrides)


def test_two_sites_cannot_share_a_data_folder():
    with pytest.raises(SettingsError, match=re.escape("setting 'sites[1].data_dir' = '/var/lib/shared' overlaps")):
        validate(sites=[{"data_dir": "/var/lib/shared"}, {"app_name": "blog", "data_dir": "/var/lib/shared"}])


def test_a_folder_source_leaves_out_the_excluded_names_and_the_linked_and_built_folders():
    (site,) = validate(linked_dirs=["instance", "media"], build_dirs=["staticfiles"], release_commands=["true"]).sites
    assert site.code_exclude == [*DEFAULTS["app_source_exclude"], "/instance", "/media", "/staticfiles"]


def test_a_static_folder_the_release_commands_make_need_not_exist_on_the_control_machine():
    site = validate(
        static_url="/static", static_dir="staticfiles", build_dirs=["staticfiles"], release_commands=["true"]
    )
    assert "static_dir" not in [key for key, _ in site.control_files()]


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"app_env": {"DB": {"from_file": "secrets"}}}, "setting 'app_env.DB' = 'secrets' names a folder"),
        ({"app_env": {"DB": {"from_file": "photo.png"}}}, "setting 'app_env.DB' = 'photo.png' is not UTF-8 text"),
        ({"app_env": {"DB": {"from_file": "dangling"}}}, "setting 'app_env.DB' = 'dangling' names no file"),
        ({"app_source": "photo.png"}, "setting 'app_source' = 'photo.png' names a file on the control machine, not a"),
        (
            {**FILES, "tls_certificate_file": "secrets"},
            "setting 'tls_certificate_file' = 'secrets' names a folder on the control machine, not a file",
        ),
        ({"acme_ca_bundle": "photo.png"}, "setting 'acme_ca_bundle' = 'photo.png' is not UTF-8 text"),
    ],
    ids=["a folder", "a binary file", "a dangling link", "a file as app_source", "a folder as a certificate", "bundle"],
)
def test_what_a_setting_names_on_the_control_machine_must_be_what_the_deploy_reads(
    settings, problem, monkeypatch, tmp_path
):
    from apache_wsgi_deploy.settings import validate_host

    monkeypatch.chdir(tmp_path)
    (tmp_path / "app").mkdir()
    (tmp_path / "secrets").mkdir()
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    (tmp_path / "dangling").symlink_to("nowhere")
    with pytest.raises(SettingsError) as error:
        validate_host("web1", {**AGREED, **settings})
    assert f"host web1: {problem}" in str(error.value)
    assert "Traceback" not in str(error.value)


@pytest.mark.parametrize(
    ("link", "target", "problem"),
    [
        ("settings.py", "/etc/shadow", "settings.py is a link to /etc/shadow, outside the folder"),
        ("config.py", "../outside.py", "config.py is a link to ../outside.py, outside the folder"),
        ("secrets.py", ".env", "secrets.py is a link to .env, which app_source_exclude leaves out of releases"),
        ("gone.py", "nothing.py", "gone.py is a link to nothing.py, which does not exist"),
        ("lib", "/usr/lib/python3", "lib is a link to /usr/lib/python3, outside the folder"),
        ("pkg", "package", "pkg is a link to package, a folder"),
    ],
)
def test_a_folder_sources_links_never_take_what_is_not_the_apps_into_a_release(
    link, target, problem, monkeypatch, tmp_path
):
    from apache_wsgi_deploy.settings import validate_host

    monkeypatch.chdir(tmp_path)
    app = tmp_path / "app"
    (app / "package").mkdir(parents=True)
    (app / "app.py").write_text("application = None\n")
    (app / ".env").write_text("SECRET=1\n")
    (tmp_path / "outside.py").write_text("x = 1\n")
    (app / link).symlink_to(target)
    with pytest.raises(SettingsError) as error:
        validate_host("web1", AGREED)
    assert f"host web1: setting 'app_source' = 'app': {problem}" in str(error.value)


def test_a_link_to_a_file_of_the_release_is_uploaded_as_that_file(monkeypatch, tmp_path):
    from apache_wsgi_deploy.settings import validate_host

    monkeypatch.chdir(tmp_path)
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "app.py").write_text("application = None\n")
    (tmp_path / "app" / "requirements.txt").write_text("Flask==3.1.3\n")
    (tmp_path / "app" / "wsgi.py").symlink_to("app.py")
    assert validate_host("web1", AGREED).sites[0].app_source == "app"


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"static_dir": "shop"}, "setting 'static_dir' = 'shop' holds the app's entry module (shop/wsgi)"),
        ({"static_dir": "instance", "linked_dirs": ["instance"]}, "'static_dir' = 'instance' is in linked_dirs"),
    ],
)
def test_a_static_folder_never_holds_the_apps_code_or_data(settings, problem):
    with pytest.raises(SettingsError, match=re.escape(problem)):
        validate(static_url="/static", wsgi_entry="shop.wsgi:application", **settings)


def test_a_static_folder_holding_python_modules_is_refused(monkeypatch, tmp_path):
    from apache_wsgi_deploy.settings import validate_host

    monkeypatch.chdir(tmp_path)
    (tmp_path / "app" / "shop").mkdir(parents=True)
    (tmp_path / "app" / "shop" / "settings.py").write_text("SECRET_KEY = 'x'\n")
    with pytest.raises(SettingsError) as error:
        validate_host("web1", {**AGREED, "static_url": "/static", "static_dir": "shop"})
    assert "setting 'static_dir' names 'app/shop', which holds Python code (settings.py)" in str(error.value)


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"requirements.txt": "flask\n"}, "requirements.txt: pin every requirement as name==version: ['flask']"),
        ({"pyproject.toml": "[project\n"}, "pyproject.toml is not valid TOML"),
        ({}, "no requirements.txt or pyproject.toml to build the virtualenv from"),
    ],
)
def test_a_folder_sources_requirements_are_read_before_any_host_is_touched(files, problem, monkeypatch, tmp_path):
    from apache_wsgi_deploy.settings import validate_host

    monkeypatch.chdir(tmp_path)
    (tmp_path / "app").mkdir()
    for name, text in files.items():
        (tmp_path / "app" / name).write_text(text)
    with pytest.raises(SettingsError) as error:
        validate_host("web1", AGREED)
    assert str(error.value).startswith("host web1: setting 'app_source' = 'app': ")
    assert problem in str(error.value)


def test_an_adopted_folder_must_be_one_the_settings_name():
    assert validate(data_dir="/mnt/shop-data", adopted_folders=["/mnt/shop-data"]).adopted_folders == ["/mnt/shop-data"]
    with pytest.raises(SettingsError, match="setting 'adopted_folders' lists '/mnt/other', which is no present site's"):
        validate(adopted_folders=["/mnt/other"])

"""Apache's effective configuration held against the declared one, on captured dumps."""

import json
from types import SimpleNamespace

from apache_wsgi_deploy import effective
from apache_wsgi_deploy.facts.apache import EffectiveConfig, first_error
from apache_wsgi_deploy.host_tools import apacheconf

# What `apache2ctl -t -D DUMP_INCLUDES -D DUMP_CONFIG -D DUMP_MODULES` prints, shortened.
DUMP = """\
Included configuration files:
  (*) /etc/apache2/apache2.conf
    (146) /etc/apache2/mods-enabled/ssl.load
    (225) /etc/apache2/sites-enabled/shop.conf
      (3) /etc/apache2-shop/front-token.conf
# In file: /etc/apache2/apache2.conf
#  98:
KeepAlive On
# 134:
ErrorLog /var/log/apache2/error.log
# In file: /etc/apache2/mods-enabled/ssl.conf
#  71:
SSLProtocol all
# In file: /etc/apache2/sites-enabled/shop.conf
#  14:
<VirtualHost *:443>
  #  15:
  ServerName shop.example.com
  #  20:
  RequestHeader set X-Front-Token "s3cr3t-t0ken-value"
  #  29:
  <Directory /srv/shop>
    #  30:
    Options   SymLinksIfOwnerMatch
  </Directory>
</VirtualHost>
Loaded Modules:
 core_module (static)
 ssl_module (shared)
 info_module (shared)
"""

DECLARED_VHOST = """\
# Managed by apache-wsgi-deploy
<IfModule ssl_module>
<VirtualHost *:443>
    ServerName shop.example.com
    # The token
    RequestHeader set X-Front-Token "${AWD_FRONT_TOKEN_shop}"
    <Directory /srv/shop>
        Options SymLinksIfOwnerMatch
    </Directory>
</VirtualHost>
</IfModule>
"""
VHOST = "/etc/apache2/sites-enabled/shop.conf"


def config(directives, stock=None):
    return {
        "error": None,
        "modules": ["core_module", "ssl_module"],
        "variables": {"APACHE_LOG_DIR": "/var/log/apache2"},
        "stock": stock or {},
        "directives": directives,
    }


def test_the_host_tool_reads_the_dump_into_files_directives_with_their_sections_and_modules():
    included, directives, modules = apacheconf.parse(DUMP)
    assert included[-1] == "/etc/apache2-shop/front-token.conf"
    assert directives[0] == ["/etc/apache2/apache2.conf", 98, [], "KeepAlive On"]
    assert directives[-1] == [
        VHOST,
        30,
        ["<VirtualHost *:443>", "<Directory /srv/shop>"],
        "Options   SymLinksIfOwnerMatch",
    ]
    assert modules == ["core_module", "ssl_module", "info_module"]


def test_a_defined_value_is_shown_as_the_name_that_refers_to_it(tmp_path):
    token = tmp_path / "front-token.conf"
    token.write_text('Define AWD_FRONT_TOKEN_shop "s3cr3t-t0ken-value"\nDefine SHORT On\n')
    assert apacheconf.defined_values([str(token), str(tmp_path / "missing")]) == {
        "s3cr3t-t0ken-value": "${AWD_FRONT_TOKEN_shop}"
    }


def test_a_link_in_an_enabled_folder_is_held_against_its_name_in_the_available_folder():
    assert apacheconf.available_name("/etc/apache2/mods-enabled/ssl.conf") == "/etc/apache2/mods-available/ssl.conf"
    assert apacheconf.available_name("/etc/apache2/apache2.conf") == "/etc/apache2/apache2.conf"


def test_a_config_text_parses_as_the_dump_shows_it():
    text = (
        "# comment\n<IfModule x>\n  <Location /a>\n    Require \\\n  local\n  </Location>\n</IfModule>\nKeepAlive On\n"
    )
    assert effective.parse(text) == [(("<Location /a>",), "Require local"), ((), "KeepAlive On")]


def test_what_the_deploy_declares_and_debian_ships_is_not_reported():
    _, directives, _ = apacheconf.parse(DUMP.replace("s3cr3t-t0ken-value", "${AWD_FRONT_TOKEN_shop}"))
    found = effective.undeclared(
        config(directives, stock={"/etc/apache2/apache2.conf": True, "/etc/apache2/mods-enabled/ssl.conf": False}),
        {VHOST: DECLARED_VHOST},
        set(),
    )
    # ssl.conf was edited: its line is held against the catalogue, which has Debian's.
    assert [str(directive) for directive in found] == ["/etc/apache2/mods-enabled/ssl.conf:71: SSLProtocol all"]


def test_an_edit_to_a_stock_or_declared_file_is_reported_with_its_file_line_and_sections():
    edited = [
        ["/etc/apache2/apache2.conf", 98, [], "KeepAlive Off"],
        ["/etc/apache2/apache2.conf", 134, [], "ErrorLog /var/log/apache2/error.log"],
        [VHOST, 30, ["<VirtualHost *:443>", "<Directory /srv/shop>"], "Options Indexes"],
        [VHOST, 15, ["<VirtualHost *:443>"], "ServerName shop.example.com"],
    ]
    found = effective.undeclared(
        config(edited, stock={"/etc/apache2/apache2.conf": False}), {VHOST: DECLARED_VHOST}, set()
    )
    assert [str(directive) for directive in found] == [
        "/etc/apache2/apache2.conf:98: KeepAlive Off",
        f"{VHOST}:30: <VirtualHost *:443> <Directory /srv/shop> Options Indexes",
    ]


def test_a_foreign_file_is_reported_whole_unless_left_out():
    foreign = [["/opt/extra/admin.conf", 1, [], "ProxyPass /admin http://127.0.0.1:8080/"]]
    assert len(effective.undeclared(config(foreign), {}, set())) == 1
    assert effective.undeclared(config(foreign), {}, {"/opt/extra/admin.conf"}) == []


def test_a_module_is_undeclared_unless_the_deploy_debian_or_apache_itself_enables_it():
    loaded = config([])
    loaded["modules"] = ["core_module", "ssl_module", "alias_module", "dumpio_module", "info_module"]
    assert effective.undeclared_modules(loaded, {"ssl"}) == ["dumpio_module", "info_module"]
    settings = SimpleNamespace(expected_foreign_entries=["mods-enabled/info.load", "conf-enabled/x.conf"])
    assert "info" in effective.declared_modules(settings)
    assert "x" not in effective.declared_modules(settings)


def test_each_undeclared_directive_is_judged_by_what_it_does():
    def directive(text, context=()):
        return effective.Directive("/etc/apache2/conf-enabled/x.conf", 1, context, text)

    found = effective.judged(
        [
            directive("SetHandler server-info", ("<Location /info>",)),
            directive("SSLInsecureRenegotiation on"),
            directive("LogLevel warn dumpio:trace7"),
            directive("WSGIDaemonProcess shop maximum-requests=5"),
            directive("KeepAlive Off"),
            directive("AddLanguage eo .eo"),
        ]
    )
    assert {kind: [entry.text.split()[0] for entry in entries] for kind, entries in found.items()} == {
        effective.ROUTES: ["SetHandler"],
        effective.TLS: ["SSLInsecureRenegotiation"],
        effective.LEAKS: ["LogLevel"],
        effective.DAEMONS: ["WSGIDaemonProcess", "KeepAlive"],
    }


def test_the_stock_catalogue_has_debians_main_files():
    catalogue = effective.stock_catalogue()
    assert ["KeepAlive On"] in catalogue["/etc/apache2/apache2.conf"]
    assert ["ErrorLog ${APACHE_LOG_DIR}/error.log"] in catalogue["/etc/apache2/apache2.conf"]
    assert ["SSLSessionCacheTimeout 300"] in catalogue["/etc/apache2/mods-available/ssl.conf"]
    assert "/etc/apache2/mods-available/wsgi.load" in catalogue


def test_a_failing_configtest_is_told_by_its_first_error_and_what_is_wrong_there():
    output = [
        "AH00558: apache2: Could not reliably determine the server's fully qualified domain name",
        "AH00526: Syntax error on line 1 of /etc/apache2/conf-enabled/x.conf:",
        "Invalid command 'Foo', perhaps misspelled",
        "Action '-t' failed.",
    ]
    assert first_error(output) == (
        "AH00526: Syntax error on line 1 of /etc/apache2/conf-enabled/x.conf: Invalid command 'Foo', perhaps misspelled"
    )
    missing = [
        "apache2: Syntax error on line 225 of /etc/apache2/apache2.conf: Syntax error on line 40 of"
        " /etc/apache2/sites-enabled/shop.conf: SSLCertificateFile: file '/etc/ssl/x.pem' does not exist or is empty",
        "Action '-t' failed.",
    ]
    assert first_error(missing) == missing[0]
    assert first_error(output[:1]) is None


def test_the_fact_says_why_a_configtest_fails_or_returns_what_apache_runs_with():
    failing = EffectiveConfig().process(['{"error": ["AH00526: Syntax error on line 1 of x.conf:", "Bad"]}'])
    assert failing == {"error": "AH00526: Syntax error on line 1 of x.conf: Bad"}
    passing = {"error": None, "modules": [], "variables": {}, "stock": {}, "directives": []}
    assert EffectiveConfig().process([json.dumps(passing)]) == passing
    assert EffectiveConfig().requires_command() == "apache2ctl"


def test_the_aliases_and_routes_apache_runs_with_are_read_from_its_directives():
    """From any file Apache includes, as it parsed them: a route excluding a path, one in a
    <Location>, one by an expression naming no path, and one left unclosed are not routes."""
    found = config(
        [
            ["/etc/apache2/mods-enabled/alias.conf", 13, [], 'Alias /icons/ "/usr/share/apache2/icons/"'],
            ["/opt/extra/backup.conf", 1, [], "alias /backup /srv/backup"],
            ["/etc/apache2/conf-enabled/broken.conf", 1, [], 'Alias "/unclosed /srv/x'],
            [VHOST, 44, ["<VirtualHost *:443>"], "ProxyPass /.well-known/acme-challenge/ !"],
            [VHOST, 47, ["<VirtualHost *:443>"], "ProxyPass / http://127.0.0.1:727/ disablereuse=On timeout=75"],
            ["/etc/apache2/conf-enabled/admin.conf", 2, [], "proxypass /internal-admin/ http://127.0.0.1:8080/"],
            ["/etc/apache2/conf-enabled/dump.conf", 1, [], 'AliasMatch "^/dump/(.*)$" "/var/backups/$1"'],
            ["/etc/apache2/conf-enabled/rewrite.conf", 3, [], "RewriteRule ^/(.*)$ http://127.0.0.1:9000/$1 [P]"],
            [
                "/etc/apache2/conf-enabled/rewrite.conf",
                5,
                [],
                'RewriteRule "^/old-api/v1/(.*)" "http://127.0.0.1:9001/$1" [P,L]',
            ],
            ["/etc/apache2/conf-enabled/location.conf", 2, ["<Location /x>"], "ProxyPass http://127.0.0.1:8081/"],
        ]
    )
    assert effective.aliases(found) == [
        {"url": "/icons/", "folder": "/usr/share/apache2/icons/", "file": "/etc/apache2/mods-enabled/alias.conf"},
        {"url": "/backup", "folder": "/srv/backup", "file": "/opt/extra/backup.conf"},
    ]
    assert [(route["directive"], route["url"], route["line"]) for route in effective.routes(found)] == [
        ("ProxyPass", "/", 47),
        ("ProxyPass", "/internal-admin/", 2),
        ("AliasMatch", "/dump/", 1),
        ("RewriteRule", "/old-api/v1/", 5),
    ]
    assert effective.literal_prefix("^/admin/(.*)$") == "/admin/"
    assert effective.literal_prefix("^/(.*)$") is None

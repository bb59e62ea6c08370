"""The templates render the site the issue describes, and none of the seed's defects."""

import re
import subprocess
import sys

import jinja2
import pytest

from apache_wsgi_deploy.declared import (
    TEMPLATES,
    instance_variables,
    piped_logs,
    proxy_timeout,
    token_variables,
    vhost_variables,
)
from apache_wsgi_deploy.facts.apache import SITE_MARKER
from apache_wsgi_deploy.layout import ACME_WEBROOT, APACHE_ERROR_LOG, ENTRY_POINT, OTHER_VHOSTS_LOG, piped_log
from tests.unit.harness import HOST_TOOLS
from tests.unit.test_settings import FILES, validate


def render(name, ocsp_stapling=False, cpu_count=2, run_dir=None, pid_file=None, **overrides):
    # The same environment pyinfra's files.template uses: undefined values fail loudly.
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    template = environment.from_string((TEMPLATES / name).read_text())
    settings = validate(**overrides)
    site = settings.sites[0]
    if name == "instance.conf.j2":
        return template.render(**instance_variables(site, settings, site.daemon_processes(cpu_count)))
    if name == "site.conf.j2":
        return template.render(**vhost_variables(site, settings, site.daemon_processes(cpu_count), ocsp_stapling))
    return template.render(
        settings=settings,
        site=site,
        paths=site.paths,
        ocsp_stapling=ocsp_stapling,
        webroot=ACME_WEBROOT,
        entry_point=ENTRY_POINT,
        processes=site.daemon_processes(cpu_count),
        logs=piped_logs(site, settings),
        error_log=piped_log(APACHE_ERROR_LOG, settings.log_rotation_seconds),
        other_vhosts_log=piped_log(OTHER_VHOSTS_LOG, settings.log_rotation_seconds),
        proxy_timeout=proxy_timeout(site, settings),
        run_dir=run_dir,
        pid_file=pid_file,
        **token_variables(site),
    )


@pytest.fixture
def site():
    return render("site.conf.j2", server_aliases=["example.com", "web.example.com"], **FILES)


def vhost(config, port):
    match = re.search(rf"<VirtualHost \*:{port}>(.*?)</VirtualHost>", config, re.S)
    assert match, f"no VirtualHost for port {port}"
    return match.group(1)


def directives(block):
    return [line.split()[0] for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]


REDIRECT = re.compile(r'RedirectMatch permanent "(.+)" "https://www.example.com/\$1"')


def test_port_80_only_redirects_to_https_with_path_and_query(site):
    http = vhost(site, 80)
    assert "WSGI" not in http
    assert set(directives(http)) == {"ServerName", "ServerAlias", "RedirectMatch"}
    pattern = re.compile(REDIRECT.search(http).group(1))
    assert pattern.match("/a/b").group(1) == "a/b"
    assert pattern.match("/").group(1) == ""
    assert pattern.match("/.well-known/other").group(1) == ".well-known/other"


def test_port_80_leaves_acme_challenges_to_the_challenge_folder(site):
    pattern = re.compile(REDIRECT.search(vhost(site, 80)).group(1))
    assert pattern.match("/.well-known/acme-challenge/token") is None
    challenge = render("acme-challenge.conf.j2")
    assert f"Alias /.well-known/acme-challenge/ {ACME_WEBROOT}/.well-known/acme-challenge/\n" in challenge


def test_port_443_runs_the_app_in_daemon_mode(site):
    https = vhost(site, 443)
    assert re.search(
        r"WSGIDaemonProcess flaskapp user=flaskapp group=flaskapp processes=2 threads=15 "
        r"python-home=/srv/flaskapp/current/venv home=/srv/flaskapp/current/app display-name=%\{GROUP\} ",
        https,
    )
    assert "WSGIProcessGroup flaskapp\n" in https
    assert "WSGIApplicationGroup %{GLOBAL}\n" in https
    assert "WSGIScriptAlias / /srv/flaskapp/flaskapp.wsgi\n" in https


def test_port_443_sends_hsts_always(site):
    assert 'Header always set Strict-Transport-Security "max-age=31536000"' in vhost(site, 443)


def test_port_443_sends_nosniff_and_the_referrer_policy_always_once_each(site):
    https = vhost(site, 443)
    for name, value in (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "strict-origin-when-cross-origin")):
        # The app's own header unset, so the answer carries one.
        assert f"    Header unset {name}\n    Header always set {name} {value}\n" in https


def test_the_content_security_policy_is_a_default_the_apps_own_overrides():
    assert """Header setifempty Content-Security-Policy "frame-ancestors 'self'"\n""" in render("site.conf.j2", **FILES)
    custom = render("site.conf.j2", content_security_policy="default-src 'self'; img-src https:", **FILES)
    assert """Header setifempty Content-Security-Policy "default-src 'self'; img-src https:"\n""" in custom
    assert "Content-Security-Policy" not in render("site.conf.j2", content_security_policy=None, **FILES)


def test_port_443_follows_mozilla_intermediate(site):
    https = vhost(site, 443)
    assert "SSLProtocol -all +TLSv1.2 +TLSv1.3\n" in https
    assert "SSLHonorCipherOrder off" in https
    ciphers = re.search(r"SSLCipherSuite (\S+)", https).group(1).split(":")
    assert all(cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher) for cipher in ciphers)
    assert "SSLCertificateFile /etc/ssl/apache-wsgi-deploy/www.example.com/fullchain.pem" in https
    assert "SSLCertificateKeyFile /etc/ssl/apache-wsgi-deploy/www.example.com/privkey.pem" in https


def test_aliases_are_served_by_both_vhosts(site):
    for port in (80, 443):
        assert "ServerAlias example.com\n" in vhost(site, port)
        assert "ServerAlias web.example.com\n" in vhost(site, port)


def test_vhosts_file_starts_with_the_mark_the_managed_sites_fact_looks_for(site):
    assert site.startswith(SITE_MARKER)


@pytest.mark.parametrize(
    "defect",
    [
        "php_value",
        "AssignUserID",
        "SSLUseStapling",
        "SSLStaplingCache",
        "DocumentRoot",
        "AllowOverride All",
        "SSLv3",
        "DES-CBC3",
        "RC4",
        "CAMELLIA",
        ":DHE-",
        "MultiViews",
        "RewriteEngine",
    ],
)
def test_none_of_the_seed_defects(site, defect):
    config = "\n".join(line for line in site.splitlines() if not line.strip().startswith("#"))
    assert defect not in config


def test_only_the_entry_point_is_granted(site):
    https = vhost(site, 443)
    assert re.search(
        r"<Directory /srv/flaskapp>\s*Options SymLinksIfOwnerMatch\s*"
        r"<Files flaskapp.wsgi>\s*Require all granted\s*</Files>\s*</Directory>",
        https,
    )


def test_settings_reach_the_template(site):
    custom = render(
        "site.conf.j2",
        app_name="shop",
        wsgi_processes=4,
        wsgi_threads=8,
        hsts_max_age=600,
        server_name="shop.example.org",
    )
    assert "WSGIDaemonProcess shop user=shop group=shop processes=4 threads=8" in custom
    assert "max-age=600" in custom
    assert '"https://shop.example.org/$1"' in custom


def test_daemon_processes_default_to_one_per_cpu_with_every_timeout():
    daemon = next(
        line for line in render("site.conf.j2", cpu_count=8, **FILES).splitlines() if "WSGIDaemonProcess" in line
    )
    assert " processes=8 threads=15 " in daemon
    for option in (
        "queue-timeout=45",
        "request-timeout=60",
        "graceful-timeout=15",
        "inactivity-timeout=0",
        "listen-backlog=100",
    ):
        assert f" {option}" in daemon


def test_http2_is_offered_on_https_only_and_can_be_turned_off(site):
    assert "Protocols h2 http/1.1" in directives_text(vhost(site, 443))
    assert "Protocols" not in vhost(site, 80)
    assert "Protocols" not in render("site.conf.j2", http2=False, **FILES)


def directives_text(block):
    return "\n".join(line.strip() for line in block.splitlines() if not line.strip().startswith("#"))


def test_keep_alive_and_mpm_settings_reach_the_performance_conf():
    conf = render(
        "performance.conf.j2",
        keepalive_timeout=3,
        keepalive_max_requests=500,
        mpm_threads_per_child=32,
        mpm_max_request_workers=256,
    )
    assert directives_text(conf).split() == [
        "KeepAlive",
        "On",
        "KeepAliveTimeout",
        "3",
        "MaxKeepAliveRequests",
        "500",
        "<IfModule",
        "mpm_event_module>",
        "ThreadsPerChild",
        "32",
        "MaxRequestWorkers",
        "256",
        "MaxSpareThreads",
        "256",
        "</IfModule>",
    ]


def test_embedded_mode_is_off():
    assert "WSGIRestrictEmbedded On" in render("wsgi-daemon-only.conf.j2")


def test_each_certificate_source_has_its_paths():
    acme = vhost(render("site.conf.j2"), 443)
    assert "SSLCertificateFile /etc/letsencrypt/live/www.example.com/fullchain.pem\n" in acme
    assert "SSLCertificateKeyFile /etc/letsencrypt/live/www.example.com/privkey.pem\n" in acme
    selfsigned = vhost(render("site.conf.j2", tls_certificate_source="selfsigned"), 443)
    assert "SSLCertificateFile /etc/ssl/apache-wsgi-deploy/www.example.com/fullchain.pem\n" in selfsigned


def test_stapling_only_when_the_certificate_names_a_responder():
    stapled = render("site.conf.j2", ocsp_stapling=True)
    assert "SSLUseStapling on" in vhost(stapled, 443)
    assert "Stapling" not in render("site.conf.j2", ocsp_stapling=False)
    # Server-wide, stapling or not: a reload that removes the cache crashes Apache.
    assert "\nSSLStaplingCache shmcb:" in render("hardening.conf.j2")


def test_hardening_defaults():
    hardening = render("hardening.conf.j2")
    for directive in (
        "ServerTokens Prod\n",
        "ServerSignature Off\n",
        "TraceEnable Off\n",
        "LimitRequestBody 10485760\n",
        "Timeout 60\n",
    ):
        assert directive in hardening
    root = re.search(r"<Directory />(.*?)</Directory>", hardening, re.S).group(1)
    assert directives(root) == ["Options", "AllowOverride", "Require"]
    assert "Options None" in root and "AllowOverride None" in root and "Require all denied" in root
    assert "Indexes" not in hardening and "FollowSymLinks" not in hardening


def test_hardening_is_overridable():
    relaxed = render(
        "hardening.conf.j2",
        server_tokens="OS",
        trace_enable="On",
        directory_listings=True,
        htaccess_overrides=True,
        request_body_limit=0,
    )
    assert "ServerTokens OS\n" in relaxed and "TraceEnable On\n" in relaxed
    assert "Options Indexes\n" in relaxed and "AllowOverride All\n" in relaxed
    assert "LimitRequestBody 0\n" in relaxed


def test_static_files_are_aliased_with_caching_only_when_asked_for(site):
    https = vhost(render("site.conf.j2", static_url="/static", static_max_age=600), 443)
    assert "Alias /static/ /srv/flaskapp/current/static/\n" in https
    assert re.search(
        r"<Directory /srv/flaskapp/current/static>\s+#[^\n]*\s+Options -FollowSymLinks -SymLinksIfOwnerMatch\s+"
        r"Require all granted\s+"
        r'Header set Cache-Control "public, max-age=600"\s+#[^\n]*\s+UnsetEnv no-gzip\s+</Directory>',
        https,
    )
    # mod_wsgi gives an Alias precedence whatever the order, but the reader expects it after.
    assert https.index("WSGIScriptAlias /") < https.index("Alias /static/")
    assert "Alias /static" not in vhost(site, 443) and "Alias" not in vhost(site, 80).replace("ServerAlias", "")


@pytest.mark.parametrize(("entry", "answer"), [("shop:application", "hi"), ("shop:create_app()", "made once: hi")])
def test_the_wsgi_file_loads_the_live_releases_code_environment_and_entry(tmp_path, entry, answer):
    """Run as mod_wsgi runs it, against a release on disk: the release `current` names
    when the process starts, with the environment and entry point that release holds."""
    release = tmp_path / "releases" / "one"
    (release / "app").mkdir(parents=True)
    (release / "app" / "shop.py").write_text(
        "import os\n"
        "greeting = os.environ['GREETING']\n"
        "def application(environ, start_response):\n    return [greeting]\n"
        "def create_app():\n    return lambda environ, start_response: ['made once: ' + greeting]\n"
    )
    (release / "environment.json").write_text('{"GREETING": "hi"}')
    (release / "wsgi-entry").write_text(entry + "\n")
    (tmp_path / "current").symlink_to("releases/one")
    wsgi = render("app.wsgi.j2").replace("/srv/flaskapp", str(tmp_path))
    wsgi = wsgi.replace(ENTRY_POINT, str(HOST_TOOLS / "entrypoint.py"))
    assert "logging.basicConfig(stream=sys.stderr" in wsgi
    (tmp_path / "flaskapp.wsgi").write_text(wsgi)
    run = "import runpy, sys; print(runpy.run_path(sys.argv[1])['application']({}, None)[0])"
    result = subprocess.run(
        [sys.executable, "-c", run, str(tmp_path / "flaskapp.wsgi")], capture_output=True, text=True
    )
    assert (result.returncode, result.stdout) == (0, f"{answer}\n"), result.stderr


def test_app_environment_reads_the_control_machine(monkeypatch, tmp_path):
    from apache_wsgi_deploy.sources import app_environment

    secret_file = tmp_path / "db"
    secret_file.write_text("postgres://db/shop\n")
    monkeypatch.setenv("SHOP_SECRET", "s3cr3t")
    site = validate(
        app_env={"A": "1", "SECRET_KEY": {"from_env": "SHOP_SECRET"}, "DB": {"from_file": str(secret_file)}}
    ).sites[0]
    assert app_environment(site.app_env) == {"A": "1", "SECRET_KEY": "s3cr3t", "DB": "postgres://db/shop"}


def test_the_apps_responses_are_never_compressed_but_static_files_may_be(site):
    https = vhost(render("site.conf.j2", static_url="/static"), 443)
    assert "SetEnv no-gzip 1\n" in https
    static = re.search(r"<Directory /srv/flaskapp/current/static>(.*?)</Directory>", https, re.S).group(1)
    assert "UnsetEnv no-gzip" in static


@pytest.mark.parametrize(
    ("failure", "logged"),
    [("RuntimeError('no database')", "RuntimeError: no database"), ("SystemExit(0)", "SystemExit: 0")],
)
def test_the_wsgi_file_loads_even_when_the_release_does_not_and_tries_again(tmp_path, failure, logged):
    """mod_wsgi restarts a daemon process at a release switch only if its .wsgi file
    loaded: a failing app, even one that exits, answers 500 from a file that loaded, and
    is loaded again on the next request, serving once the cause is gone."""
    release = tmp_path / "releases" / "one"
    (release / "app").mkdir(parents=True)
    cause = tmp_path / "database-down"
    cause.touch()
    (release / "app" / "shop.py").write_text(
        f"import os\nif os.path.exists({str(cause)!r}):\n    raise {failure}\n"
        "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'served']\n"
    )
    (release / "environment.json").write_text("{}")
    (release / "wsgi-entry").write_text("shop:application\n")
    (tmp_path / "current").symlink_to("releases/one")
    wsgi = render("app.wsgi.j2").replace("/srv/flaskapp", str(tmp_path))
    wsgi = wsgi.replace(ENTRY_POINT, str(HOST_TOOLS / "entrypoint.py"))
    (tmp_path / "flaskapp.wsgi").write_text(wsgi)
    run = (
        "import os, runpy, sys\n"
        "application = runpy.run_path(sys.argv[1])['application']\n"
        "for attempt in range(2):\n"
        "    statuses = []\n"
        "    body = application({}, lambda status, headers: statuses.append(status))\n"
        "    print(statuses[0], b''.join(body))\n"
        "    os.remove(sys.argv[2]) if attempt == 0 else None\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", run, str(tmp_path / "flaskapp.wsgi"), str(cause)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first.startswith("500 Internal Server Error")
    assert second == "200 OK b'served'"
    assert logged in result.stderr


def test_each_log_goes_through_rotatelogs_which_rotates_with_no_reload(site):
    # The embedded-mode log first: the access log, which the same log phase writes next.
    hook = "/var/lib/apache-wsgi-deploy/tools/logs_rotated.py"
    rotated = "||/bin/sh -c 'umask 027 && exec /usr/bin/rotatelogs -l -f -L {log} -p " + hook + " {log}.%Y%m%d 86400'"
    https = [line.strip() for line in vhost(site, 443).splitlines()]
    assert [line for line in https if line.startswith(("ErrorLog", "CustomLog"))] == [
        f'ErrorLog "{rotated.format(log="/var/log/apache2/flaskapp-error.log")}"',
        f'CustomLog "{rotated.format(log="/var/log/apache2/flaskapp-embedded-mode.log")}" combined'
        " \"expr=-n reqenv('mod_wsgi.callable_object') && -z reqenv('mod_wsgi.process_group')\"",
        f'CustomLog "{rotated.format(log="/var/log/apache2/flaskapp-access.log")}" combined',
    ]
    # A file has one writer: port 80 logs with Apache's own.
    assert {"ErrorLog", "CustomLog"} & set(directives(vhost(site, 80))) == set()
    own = render("logs.conf.j2", log_rotation_seconds=3600, log_dir="/srv/logs/shop").splitlines()
    hourly = (
        "||/bin/sh -c 'umask 027 && exec /usr/bin/rotatelogs -l -f -L {log} -p " + hook + " {log}.%Y%m%dT%H%M%S 3600'"
    )
    assert own[-2:] == [
        f'ErrorLog "{hourly.format(log="/var/log/apache2/error.log")}"',
        f'CustomLog "{hourly.format(log="/var/log/apache2/other_vhosts_access.log")}" vhost_combined',
    ]


def test_the_authorization_header_reaches_the_app_unless_withheld(site):
    assert "    WSGIPassAuthorization On\n" in vhost(site, 443)
    assert "    WSGIPassAuthorization Off\n" in vhost(render("site.conf.j2", wsgi_pass_authorization=False), 443)
    assert "WSGIPassAuthorization" not in vhost(site, 80)


def test_the_daemons_write_with_the_sites_umask(site):
    assert " umask=0027\n" in vhost(site, 443)
    assert " umask=0077\n" in vhost(render("site.conf.j2", wsgi_umask="0077"), 443)


@pytest.fixture
def own():
    """A site in an Apache instance of its own, with static files."""
    return {"apache_instance": "own", "static_url": "/static"}


def test_an_own_instance_site_is_passed_on_without_wsgi_in_the_front(own):
    config = render("site.conf.j2", **own)
    https = vhost(config, 443)
    assert not [directive for directive in directives(https) if directive.startswith("WSGI")]
    # No file of the app's folder is granted by the front, not even the .wsgi file.
    assert "<Files" not in https
    port = validate(**own).sites[0].apache_instance_port
    # Static files, ACME challenges and the maintenance page stay with the front: excluded before "/".
    passes = re.findall(r"^\s*ProxyPass (\S+) (\S+)(.*)$", https, re.M)
    assert passes == [
        ("/.well-known/acme-challenge/", "!", ""),
        ("/.awd-maintenance/", "!", ""),
        ("/static/", "!", ""),
        ("/", f"http://127.0.0.1:{port}/", " disablereuse=On timeout=60"),
    ]
    assert 'RequestHeader set X-Apache-Wsgi-Deploy-Front "${apache_wsgi_deploy_token_flaskapp}"' in https
    assert "ProxyPreserveHost On" in https
    # The token's Define comes before the vhost that uses it, from the root-only file.
    assert config.index("Include /etc/apache2-flaskapp/front-token.conf") < config.index("<VirtualHost *:443>")


def test_a_shared_site_has_no_proxy_and_no_token(site):
    assert "Proxy" not in site and "front-token" not in site


def test_the_own_instance_answers_only_the_front_on_loopback(own):
    config = render("instance.conf.j2", **own)
    port = validate(**own).sites[0].apache_instance_port
    assert re.findall(r"^Listen .*$", config, re.M) == [f"Listen 127.0.0.1:{port}"]
    assert "Include /etc/apache2-flaskapp/front-token.conf\n" in config
    location = re.search(r"<Location />(.*?)</Location>", config, re.S).group(1)
    assert (
        "Require expr \"%{IS_SUBREQ} == 'true' || req_novary('X-Apache-Wsgi-Deploy-Front')"
        " == '${apache_wsgi_deploy_token_flaskapp}'\"" in location
    )
    # The app never sees the token.
    assert "RequestHeader unset X-Apache-Wsgi-Deploy-Front" in location


def test_the_own_instance_runs_the_app_in_its_processes_and_restarts_only_gracefully(own):
    config = render("instance.conf.j2", wsgi_threads=8, **own)
    assert "WSGIDaemonProcess" not in config and "WSGIRestrictEmbedded" not in config
    assert "WSGIScriptReloading Off" in config
    assert "WSGIScriptAlias / /srv/flaskapp/flaskapp.wsgi\n" in config
    assert "WSGIPythonHome /srv/flaskapp/current/venv\n" in config
    for line in ("StartServers 2", "ServerLimit 4", "ThreadsPerChild 8", "MaxRequestWorkers 16", "ThreadLimit 256"):
        assert f"{line}\n" in config
    assert "User ${APACHE_RUN_USER}" in config
    envvars = render("instance-envvars.j2", run_dir="/run/apache2-flaskapp", pid_file="/run/x.pid", **own)
    assert "export APACHE_RUN_USER=flaskapp\n" in envvars and "umask 0027\n" in envvars
    assert piped_log("/var/log/apache2/flaskapp-app-error.log", 86400) in config


def test_maintenance_is_a_flag_file_the_https_vhost_tests_with_the_allowed_networks_let_through():
    https = vhost(render("site.conf.j2", maintenance_allowed=["203.0.113.7", "10.0.0.0/8"], **FILES), 443)
    assert (
        "<If \"-f '/srv/flaskapp/maintenance-on' && %{REQUEST_URI} !~ m#^/\\.awd\\-maintenance/#"
        " && ! -R '203.0.113.7' && ! -R '10.0.0.0/8'\">\n"
        "        Redirect 503 /\n"
        "        ErrorDocument 503 /.awd-maintenance/503.html\n"
        "    </If>\n"
    ) in https
    assert "    Alias /.awd-maintenance/ /srv/flaskapp/maintenance-page/\n" in https
    assert 'Header always set Retry-After "300" "expr=%{REQUEST_STATUS} == 503"' in https
    # Port 80 only redirects.
    assert "maintenance" not in vhost(render("site.conf.j2", **FILES), 80)

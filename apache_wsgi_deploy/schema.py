"""
Every setting, declared once: its default, validator, scope (each site, or the whole
host) and what it means. Validation reads it, and fills in the default of every setting
the inventory and group_data leave out; docs/settings.md (the reference) is generated
from it, in a checkout of this repository:

    .venv/bin/python -m apache_wsgi_deploy.schema      # rewrites it; a unit test checks it is current
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apache_wsgi_deploy import layout
from apache_wsgi_deploy import validators as v

SITE, HOST = "site", "host"
# The event MPM's ServerLimit and ThreadLimit defaults. Raising either takes a full
# restart of Apache (a graceful reload ignores them), so the settings stay within.
MPM_SERVER_LIMIT, MPM_THREAD_LIMIT = 16, 64


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    validate: v.Validator
    scope: str
    doc: str
    # A longer explanation, shown before the setting.
    notes: str = ""
    # Kept out of the settings' printed form: a literal value may be a secret.
    secret: bool = False


@dataclass(frozen=True)
class Section:
    title: str
    settings: tuple[Setting, ...]


# The Referrer-Policy values browsers know (W3C Referrer Policy).
REFERRER_POLICIES = (
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
)
# What the verification suite's header checks can be told to accept for a site: each names a check's finding.
HEADER_FINDINGS = ("frame-ancestors", "cookie-secure", "cookie-httponly", "cookie-samesite")

# wsgi_threads' largest value: also what an own Apache instance makes room for (ThreadLimit).
MAX_WSGI_THREADS = 256


def _site(name, default, validate, doc, **more) -> Setting:
    return Setting(name, default, validate, SITE, doc, **more)


def _host(name, default, validate, doc, **more) -> Setting:
    return Setting(name, default, validate, HOST, doc, **more)


SECTIONS = (
    Section(
        "Sites",
        (
            _host(
                "sites",
                [{}],
                v.sites,
                "the sites this host serves, each with its own vhosts, app, daemon processes, user, logs and"
                " certificate",
                notes="An entry is a dict of the per-site settings (server_name to tls_dir) that differ from their"
                " defaults here: [{}] is one site of the defaults. A second app is one more entry (docs/sites.md),"
                ' e.g. [{}, {"app_name": "blog", "server_name": "blog.example.com", "app_source": "../blog"}].'
                ' To remove a site, deploy once with "app_present": False in its entry, then drop it.',
            ),
            _host(
                "adopted_folders",
                [],
                v.folder_list,
                "folders that exist on the host before the deploy and that it may take over for a site (a mount"
                " point made for its data): each one a site's app_install_path, data_dir, log_dir or"
                " <tls_dir>/<server_name>",
                notes="The deploy gives every folder its settings name its own owner and mode, and records on the"
                " host which ones it made: an existing folder it did not make is refused, unless listed here. Its"
                " owner and mode before are recorded, given back when no setting names it any more, and it is never"
                " deleted. See docs/safety.md.",
            ),
        ),
    ),
    Section(
        "The site",
        (
            _site(
                "server_name",
                "www.example.com",
                v.dns_name,
                "DNS name the HTTPS vhost serves; port 80 redirects to https://<server_name>",
            ),
            _site(
                "server_aliases",
                [],
                v.dns_names,
                "more DNS names served by the same vhosts (each must be on the certificate)",
            ),
        ),
    ),
    Section(
        "The application",
        (
            _site(
                "app_name",
                "flaskapp",
                v.app_name,
                "short name: site file, mod_wsgi daemon process group, log file names, dedicated user",
            ),
            _site(
                "app_present",
                True,
                v.boolean,
                "False removes the site: vhosts, daemon processes, code, venv, certificate and its dedicated user"
                " (logs stay)",
            ),
            _site(
                "app_source",
                "app",
                v.app_source,
                "folder on the control machine with the WSGI app and its pinned requirements.txt (or pyproject.toml"
                ' [project] dependencies), or {"git": "<repository URL>", "ref": "<branch, tag or commit>"}'
                " fetched on the host",
            ),
            _site(
                "app_source_exclude",
                [".git", ".venv", "venv", "__pycache__", "*.pyc", "node_modules", ".env", "instance"],
                v.name_patterns,
                "names a folder source leaves out of its releases, wherever they are in it (fnmatch patterns): add"
                " to the list or replace it; a git source holds what its commit holds",
            ),
            _site(
                "app_install_path",
                "auto",
                v.auto_or(v.app_folder),
                'where code, venv and .wsgi live on the host, never under a DocumentRoot: "auto" is /srv/<app_name>',
            ),
            _site(
                "wsgi_entry",
                "app:app",
                v.wsgi_entry,
                "module:callable of the WSGI application in app_source (any WSGI app, not only Flask), or"
                " module:factory() of an application factory, called with no arguments once per daemon process",
            ),
            _site(
                "wsgi_user",
                "auto",
                v.auto_or(v.daemon_user),
                'user the daemon processes run as (never the code\'s owner): "auto" is a system user named'
                " <app_name>, created for the site alone, so two apps cannot read each other's code",
            ),
            _site(
                "wsgi_group",
                "auto",
                v.auto_or(v.daemon_group),
                'group the daemon processes run as, which may read the code: "auto" is the group named like wsgi_user',
            ),
            _site(
                "wsgi_processes",
                "auto",
                v.auto_or(v.int_range(1, 64)),
                'daemon processes: "auto" is one per CPU of the host, or a number',
                notes="Figures: `./run.sh bench` on 2 cores (docs/benchmarks.md), the sample app at 64 connections:"
                " 1 process served 0.54x the requests/s of 2 (the GIL lets one process use one core).",
            ),
            _site(
                "wsgi_threads",
                15,
                v.int_range(1, MAX_WSGI_THREADS),
                "threads per daemon process (mod_wsgi's default): 4 or 15 serve a CPU-bound app alike (6.4k req/s"
                " either way), and threads are what waits on a database",
            ),
            _site(
                "wsgi_queue_timeout",
                45,
                v.int_range(0, 3600),
                "seconds a request may wait for a free daemon thread before it gets a 504, instead of piling up"
                " behind a stuck app (0: wait forever)",
            ),
            _site(
                "wsgi_umask",
                "0027",
                v.umask,
                "umask of the app's daemon processes, its release commands and `awd app`: with 0027 what the app"
                " writes (its database, uploads) is readable by its group at most, never by other users",
            ),
            _site(
                "wsgi_pass_authorization",
                True,
                v.boolean,
                "True: a request's Authorization header (HTTP Basic credentials, a bearer token) reaches the app"
                " (WSGIPassAuthorization On); False withholds it, as mod_wsgi does by default",
                notes="On by default: the deploy configures no authentication in Apache, so only the app can check"
                " credentials, and each site runs in daemon processes of its own user: the header reaches that app"
                " alone. mod_wsgi withholds it by default for servers where Apache itself authenticates and a script"
                " should not see the password; with it withheld, every client of an app with its own login (an API"
                " with tokens, a package index, CalDAV) gets 401 while the deploy and verification pass.",
            ),
            _site(
                "wsgi_request_timeout",
                60,
                v.int_range(0, 3600),
                "seconds a request may run before mod_wsgi restarts its daemon process to free the thread (0:"
                " never); matches request_timeout",
            ),
            _site(
                "wsgi_graceful_timeout",
                15,
                v.int_range(0, 3600),
                "seconds a daemon process restart (new code, a timeout) waits for running requests to finish",
            ),
            _site(
                "wsgi_inactivity_timeout",
                0,
                v.int_range(0, 86400),
                "seconds without requests before a daemon process restarts to release memory (0: never; a restart"
                " costs the next request a cold start)",
            ),
            _site(
                "wsgi_listen_backlog",
                100,
                v.int_range(1, 65535),
                "daemon socket's queue of requests waiting for a thread (mod_wsgi's default)",
            ),
            _site(
                "apache_instance",
                "shared",
                v.choice("shared", "own"),
                '"shared": the app runs in mod_wsgi daemon processes of the host\'s Apache; "own": in an Apache'
                " instance of its own (Debian's apache2@<app_name>, mod_wsgi inside its processes, which run as"
                " wsgi_user), which the host's Apache passes requests on to: a reload of the host's Apache (a"
                " certificate renewal, a vhost change) then never touches the app, and a code or settings change"
                " restarts only the app's instance, gracefully",
                notes="A graceful reload of Apache makes mod_wsgi's daemon processes answer 503 to requests in"
                " flight (docs/mod_wsgi-reload-loss); an instance of the app's own is reloaded gracefully as a"
                " whole, its old processes finishing their requests. Per request the host's Apache opens a"
                " connection to the instance on 127.0.0.1 (apache_instance_port) and sends a token only root can"
                " read, without which the instance answers 403. wsgi_processes and wsgi_threads size the"
                " instance's processes; wsgi_request_timeout becomes the proxy's timeout (the request's thread runs"
                " on); wsgi_queue_timeout, wsgi_graceful_timeout, wsgi_inactivity_timeout and wsgi_listen_backlog"
                " are mod_wsgi daemon options and do not apply. Figures: docs/benchmarks.md.",
            ),
            _site(
                "apache_instance_port",
                "auto",
                v.auto_or(v.instance_port),
                'port of the app\'s own Apache instance on 127.0.0.1 (apache_instance "own"): "auto" is one from'
                " 600 to 999 chosen by the app's name; below 1024, so no unprivileged program can take it",
            ),
            _site(
                "app_env",
                {},
                v.app_env,
                "environment of the app's daemon processes (os.environ): each value a literal string, or read on the"
                ' control machine from its environment ({"from_env": "VARIABLE"}), a file ({"from_file": "path"},'
                ' best outside the repository) or what a program prints ({"from_command": "program args"}: a'
                " password manager); on the host readable by the app's group alone, never shown in diffs",
                notes='E.g. {"LOG_LEVEL": "info", "SECRET_KEY": {"from_env": "SHOP_SECRET_KEY"},'
                ' "DATABASE_URL": {"from_file": "/etc/shop/database-url"}, "API_TOKEN": {"from_command":'
                ' "op read op://shop/api/token"}}. A command runs once per deploy, in the project folder, with no'
                " terminal, and never in a drift check. See docs/sites.md.",
                secret=True,
            ),
            _site(
                "secret_files",
                {},
                v.secret_files,
                "files only the app may read (an htpasswd, a users file, a config.py with its SECRET_KEY), each read"
                " on the control machine from a file, an environment variable or what a program prints: on the host"
                " in a folder of their own outside every release and everything served, root's and readable by the"
                " app's group alone, that folder's path in the app's environment as APP_SECRETS_DIR; a change is a"
                " new release",
                notes='E.g. {"htpasswd": {"from_file": "/etc/shop/htpasswd"}, "config.py": {"from_env":'
                ' "SHOP_CONFIG"}, "token": {"from_command": ["vault", "kv", "get", "-field=token", "shop/api"]}}.'
                " The app and its release commands read $APP_SECRETS_DIR/htpasswd. See docs/releases.md.",
                secret=True,
            ),
            _site(
                "data_dir",
                "auto",
                v.auto_or(v.app_folder),
                "the app's own writable folder, which outlives its releases: the app's user's, mode 0750, its"
                ' path in the app\'s environment as APP_DATA_DIR; "auto" is /var/lib/<app_name>',
            ),
            _site(
                "linked_dirs",
                [],
                v.code_folders,
                "folders of the app's code that are its data's instead (Flask's instance, Django's media): in every"
                " release each is a link to the folder of that name in data_dir, and a folder source leaves it out",
            ),
            _site(
                "data_removed_with_site",
                False,
                v.boolean,
                "True: removing the site (present = False) deletes data_dir too; otherwise it stays, and the deploy"
                " says so",
            ),
            _site(
                "setup_commands",
                [],
                v.commands,
                "shell commands run once for the site's data, ever (the first database set-up: an init-db that"
                " drops its tables, loading fixtures): in the first release that has each, before its release"
                " commands, as release commands run; recorded in data_dir, so no later release, rollback or rerun"
                " runs one again",
                notes='E.g. ["flask --app flaskr init-db"]. A command whose text changes runs once more; one that'
                " fails stops the release and runs again at the next deploy. See docs/releases.md.",
            ),
            _site(
                "release_commands",
                [],
                v.commands,
                "shell commands run once in each new release before its health check (migrations), as"
                " the app's user, in the release's code folder, its virtualenv first on PATH, with the app's"
                " environment: one that fails stops the release, and the live one keeps serving",
                notes='E.g. ["python manage.py migrate --noinput"] or ["flask --app shop db upgrade"]. They run'
                " again in every new release: what must run once (an init-db that drops its tables) belongs in"
                " setup_commands. They run while the previous release still serves: a migration must leave a"
                " schema the live release can use (add columns and tables; drop them in a later release). See"
                " docs/releases.md.",
            ),
            _site(
                "release_command_timeout",
                900,
                v.int_range(1, 86400),
                "seconds each release command may run: past them it is killed with every process it started, and"
                " the release fails (a background job it leaves is killed when the command ends)",
            ),
            _site(
                "build_dirs",
                [],
                v.code_folders,
                "folders of the app's code that its release commands make (collectstatic's STATIC_ROOT): in each new"
                " release each is an empty folder the app's user may write during the commands, then root's and"
                " read-only, like the code; a folder source leaves it out; static_dir may name one",
            ),
            _site(
                "releases_kept",
                5,
                v.int_range(2, 100),
                "release folders kept on the host (at least 2): each deploy of new code is a new one, switched to"
                " atomically; `./run.sh rollback <app_name>` goes back one",
            ),
            _site(
                "snapshots_kept",
                3,
                v.int_range(0, 100),
                "snapshots of the data folder kept on the host (0: none taken): one is taken, as the app's user, before"
                " the release commands of a release that replaces a live one, SQLite databases through SQLite's"
                " backup API; `awd restore <app_name>` puts the newest back with the release then live",
                notes="A snapshot is a tar file in <app_install_path>/snapshots, root's and readable by the app's"
                " group: it needs as much disk as the data folder. A database other than SQLite (PostgreSQL) is not"
                " in the data folder: snapshot_command dumps it. See docs/releases.md.",
            ),
            _site(
                "snapshot_command",
                None,
                v.optional(v.command),
                "shell command run with each snapshot, as the app's user in the live release's context (its"
                " environment: the database's credentials), its output kept beside the snapshot: a database"
                " outside the data folder; None runs none",
                notes="E.g. pg_dump --format=custom or mysqldump --single-transaction shop. Bounded by"
                " release_command_timeout; one that fails fails the deploy before the release commands run.",
            ),
            _site(
                "snapshot_restore_command",
                None,
                v.optional(v.command),
                "shell command `awd restore` runs with that output on its standard input, as the app's user in the"
                " snapshot's release's context, before the data folder is swapped in; None runs none",
                notes="E.g. pg_restore --clean --if-exists --dbname=shop. A snapshot taken without a command's"
                " output is restored without running it.",
            ),
            _site(
                "health_check_path",
                "/",
                v.request_path,
                "path a new release must answer with a status below 400 (a WSGI request on the host, before it goes"
                " live, as https://<server_name><path>; redirects within the site are followed), or it is not"
                " switched to",
            ),
            _site(
                "health_check_timeout",
                60,
                v.int_range(1, 3600),
                "seconds a new release has to load and answer its health check: an app that never answers fails"
                " it, and whatever the app started is killed when the check ends",
            ),
        ),
    ),
    Section(
        "Static files",
        (
            _site(
                "static_url",
                None,
                v.optional(v.url_path),
                'URL prefix such as "/static" that Apache serves straight from static_dir, never through the app'
                " (None: the app serves everything)",
            ),
            _site(
                "static_dir",
                "static",
                v.relative_dir,
                "folder inside app_source with the static files; copied into each release, readable by Apache",
            ),
            _site(
                "static_max_age",
                86400,
                v.int_range(0, 365 * 24 * 3600),
                "Cache-Control max-age in seconds for static files (a day; use a long one with fingerprinted file"
                " names)",
            ),
        ),
    ),
    Section(
        "HTTP",
        (
            _site(
                "hsts_max_age",
                31536000,
                v.int_range(0, 2 * 365 * 24 * 3600),
                "Strict-Transport-Security max-age in seconds: one year",
            ),
            _site(
                "log_dir",
                layout.APACHE_LOG_DIR,
                v.folder_of_its_own(),
                "per-site logs: <log_dir>/<app_name>-error.log and -access.log, written through rotatelogs like"
                " Apache's own; elsewhere than /var/log/apache2 the deploy makes the folder (root:adm 750)",
            ),
            _host(
                "log_rotation_seconds",
                86400,
                v.int_range(10, 7 * 86400),
                "how often every log Apache writes starts a new file (rotatelogs, local time: 86400 is daily at"
                " midnight, 3600 hourly); the closed files are compressed and kept 14 days, and nothing reloads"
                " Apache",
                notes="Under a minute only makes sense in a test. Rotated files are named <log>.YYYYMMDD (daily) or"
                " <log>.YYYYMMDDTHHMMSS; <log> itself is always a hard link to the current file (tail -F works).",
            ),
            _site(
                "referrer_policy",
                "strict-origin-when-cross-origin",
                v.choice(*REFERRER_POLICIES),
                "Referrer-Policy on every HTTPS answer (the app's own gives way): what a link tells the site it"
                " leads to; the default sends other sites the origin alone, and nothing over plain HTTP",
            ),
            _site(
                "content_security_policy",
                "frame-ancestors 'self'",
                v.optional(v.header_value),
                "Content-Security-Policy on the app's answers that carry none of their own (an app's own policy"
                " wins); the default only keeps other sites from framing the app (clickjacking) and restricts no"
                " script; None sends none",
            ),
            _site(
                "accepted_header_findings",
                [],
                v.choices_list(*HEADER_FINDINGS),
                "what the verification suite accepts from this app's answers on purpose: frame-ancestors (other"
                " sites may frame it), cookie-secure, cookie-httponly, cookie-samesite (a cookie without that"
                " attribute); a wildcard CORS answer with credentials is never accepted",
            ),
            _site(
                "app_compresses_responses",
                False,
                v.boolean,
                "True: the app compresses its own responses on purpose (Radicale does), and the verification suite"
                " accepts an encoded answer from it; Apache never compresses the app's responses either way",
                notes="BREACH: a compressed HTTPS response that echoes a request's input beside a secret (a CSRF"
                " token, a session cookie) leaks the secret's length. Apache leaves the app's responses"
                " uncompressed (SetEnv no-gzip 1, checked by the verification suite); an app that compresses"
                " its own fails `test_the_apps_responses_are_not_compressed` unless this says it is meant to.",
            ),
            _site(
                "http2",
                True,
                v.boolean,
                "HTTP/2 on the HTTPS vhost (Protocols h2 http/1.1, Mozilla's profile): browsers multiplex a page's"
                " requests on one connection. Each request costs Apache more over HTTP/2 (mod_http2 hands each"
                " stream to a thread of its own: docs/benchmarks.md); a site serving only API clients of one request"
                " at a time may set it off",
            ),
        ),
    ),
    Section(
        "Maintenance (awd maintenance on|off APP)",
        (
            _site(
                "maintenance_page",
                None,
                v.optional(v.local_path),
                "HTML file (control machine) the site answers every request with, as 503 with Retry-After, while"
                " `awd maintenance on` holds; None: a plain page naming the site",
            ),
            _site(
                "maintenance_allowed",
                [],
                v.networks,
                "addresses and networks whose requests still reach the app during maintenance (the team's office,"
                " a VPN), as Apache sees the client's address",
            ),
            _site(
                "maintenance_retry_after",
                300,
                v.int_range(1, 86400),
                "seconds the maintenance answer's Retry-After header tells clients to wait",
            ),
            _site(
                "maintenance_during_release_commands",
                False,
                v.boolean,
                "the site is in maintenance from before a new release's release commands until the release is live"
                " (a migration the live release cannot serve through), or until they or its health check failed;"
                " a site an operator put in maintenance stays so",
            ),
        ),
    ),
    Section(
        "TLS",
        (
            _site(
                "tls_certificate_source",
                "acme",
                v.choice("acme", "files", "selfsigned"),
                "where the certificate comes from",
                notes='"acme": certbot on the host gets it from an ACME CA (Let\'s Encrypt by default) and renews it;'
                ' the CA must reach port 80 of every name, and acme_agree_tos must be True. "files": the three'
                ' tls_*_file files below are uploaded from the control machine. "selfsigned": generated on the'
                " host, for staging; browsers will not trust it.",
            ),
            _site(
                "tls_certificate_file",
                None,
                v.optional(v.local_path),
                '"files" only: leaf certificate (control machine)',
            ),
            _site(
                "tls_chain_file",
                None,
                v.optional(v.local_path),
                '"files" only: intermediate chain (control machine)',
            ),
            _site(
                "tls_key_file",
                None,
                v.optional(v.local_path),
                '"files" only: private key (control machine); uploaded 0600 root',
            ),
            _site(
                "tls_dir",
                "/etc/ssl/apache-wsgi-deploy",
                v.folder_of_its_own(certificates=True),
                '"files"/"selfsigned": <tls_dir>/<server_name>/fullchain.pem and privkey.pem',
            ),
        ),
    ),
    Section(
        "Hardening (server-wide; conf-available/hardening.conf replaces Debian's security.conf)",
        (
            _host(
                "server_tokens",
                "Prod",
                v.choice("Prod", "Major", "Minor", "Minimal", "OS", "Full"),
                'Server header: "Apache", no version or OS (Debian\'s default "OS" tells both)',
            ),
            _host(
                "server_signature",
                "Off",
                v.choice("Off", "On", "EMail"),
                "no server version line on Apache's own error pages",
            ),
            _host(
                "trace_enable",
                "Off",
                v.choice("Off", "On", "extended"),
                "TRACE answers 405: it can echo cookies back to scripts (cross-site tracing)",
            ),
            _host("directory_listings", False, v.boolean, "True allows Options Indexes: never for an app"),
            _host(
                "htaccess_overrides",
                False,
                v.boolean,
                "True allows .htaccess files (AllowOverride All); we configure everything centrally",
            ),
            _host(
                "request_body_limit",
                10485760,
                v.int_range(0, 2**31 - 1),
                "LimitRequestBody in bytes (10 MiB; 0 = unlimited): larger requests get 413",
            ),
            _host(
                "request_timeout",
                60,
                v.int_range(1, 3600),
                "Apache's Timeout in seconds (Debian: 300): a slow client cannot hold a worker longer",
            ),
        ),
    ),
    Section(
        "What else Apache reads",
        (
            _host(
                "expected_foreign_entries",
                [],
                v.enabled_entries,
                "files of Apache's *-enabled folders this deploy did not make and that belong there",
                notes="Every other file in sites-enabled, conf-enabled and mods-enabled is reported: drift in the drift"
                " check (exit 2), a warning in a deploy, which leaves it as it is, and a vhost of its own fails the"
                " verification suite's `test_every_vhost_apache_runs_is_ours`; its directives are undeclared"
                " (test_effective_config). List here what is there on purpose (a monitoring vhost, another package's"
                " conf, a module: `mods-enabled/info.load`). What it serves is still probed: sensitive paths, Aliases.",
            ),
        ),
    ),
    Section(
        "Connections (server-wide; conf-available/performance.conf)",
        (
            _host(
                "keepalive_timeout",
                5,
                v.int_range(1, 300),
                "seconds an idle keep-alive connection stays open (Debian's); the event MPM holds it without a thread",
            ),
            _host(
                "keepalive_max_requests",
                0,
                v.int_range(0, 1000000),
                "requests per keep-alive connection, 0 = unlimited: Debian's 100 made wrk see 518 connections closed"
                " under it in 28.5k requests at 64 connections (a client racing a close must retry)",
            ),
            _host(
                "mpm_threads_per_child",
                64,
                v.int_range(1, MPM_THREAD_LIMIT),
                "threads per Apache child process (at most 64, the default ThreadLimit)",
                notes="The event MPM (ensured: prefork and worker are disabled) serves every site. A child whose worker"
                " threads are all busy closes its idle keep-alive connections, and a client that just sent a request"
                " on one sees it fail: with Debian's 25 threads per child, 1,074 of 44.6k requests at 64 connections"
                " failed so (wrk read errors); with 64, none. A child reaped as idle closes its keep-alive connections"
                " too (190 of 126k static requests failed), so children are never reaped: MaxSpareThreads is"
                " mpm_max_request_workers.",
            ),
            _host(
                "mpm_max_request_workers",
                256,
                v.int_range(1, MPM_SERVER_LIMIT * MPM_THREAD_LIMIT),
                "requests Apache serves at once, 4 children (Debian: 150): a multiple of mpm_threads_per_child, at"
                " most 16 times it",
            ),
        ),
    ),
    Section(
        'ACME (host-wide: one account for every "acme" site)',
        (
            _host(
                "acme_directory_url",
                "https://acme-v02.api.letsencrypt.org/directory",
                v.https_url,
                "ACME directory (staging: https://acme-staging-v02.api.letsencrypt.org/directory)",
            ),
            _host("acme_email", None, v.optional(v.email), "contact for the ACME account; None registers without one"),
            _host(
                "acme_agree_tos",
                False,
                v.boolean,
                'set True once you agree to the ACME CA\'s terms of service ("acme" refuses to run without)',
            ),
            _host(
                "acme_ca_bundle",
                None,
                v.optional(v.local_path),
                "PEM file (control machine) of the CA behind a private ACME server (step-ca, Pebble): the host"
                " trusts it",
            ),
            _host(
                "acme_key_type",
                "ecdsa",
                v.choice("ecdsa", "rsa"),
                '"ecdsa" (P-256, smaller and faster handshakes) or "rsa" (2048 bits, for very old clients)',
            ),
        ),
    ),
    Section(
        "Packages",
        (
            _host(
                "apt_cache_time",
                86400,
                v.int_range(0, 30 * 24 * 3600),
                "refresh apt's cache before installing only if it is older than this (seconds)",
            ),
            _host(
                "apt_lock_timeout",
                300,
                v.int_range(0, 3600),
                "seconds a deploy waits for apt's and dpkg's locks while another apt holds them (unattended-upgrades"
                " on a fresh server), before it fails",
            ),
            _host(
                "deploy_lock_timeout",
                600,
                v.int_range(0, 86400),
                "seconds a deploy (or a drift check) waits for the host's deploy lock while another run holds it,"
                " before it fails naming the holder",
            ),
        ),
    ),
    Section(
        "Notifications (awd deploy, awd rollback and awd restore)",
        (
            _host(
                "deploy_hooks",
                {},
                v.hooks,
                "shell commands the control machine runs at each of the host's events (started, then succeeded or"
                " failed; rolled_back), the facts in AWD_* environment variables; each within 30 s, a failing one"
                " reported without failing the run",
                notes='E.g. {"succeeded": ["./notify.sh"], "failed": ["./page-on-call.sh"]}. See docs/cli.md.',
            ),
            _host(
                "deploy_webhook",
                None,
                v.optional(v.webhook_url),
                "URL the control machine posts each of the host's events to, as JSON with a Slack-compatible"
                ' "text"; None posts nothing',
                secret=True,
            ),
        ),
    ),
    Section(
        "Verification suite (awd verify)",
        (
            _host(
                "verify_address",
                None,
                v.optional(v.dns_name),
                "address the HTTP probes connect to; None resolves server_name through DNS",
            ),
            _host(
                "verify_http_port",
                80,
                v.int_range(1, 65535),
                "port the probes use for http:// (the test hosts publish it on a loopback port)",
            ),
            _host("verify_https_port", 443, v.int_range(1, 65535), "port the probes use for https://"),
            _host(
                "verify_ca_bundle",
                None,
                v.optional(v.local_path),
                "CA file the probes trust; None uses the system's trust store (\"selfsigned\": the host's own"
                " certificate)",
            ),
            _host(
                "verify_certificate_min_days",
                14,
                v.int_range(0, 365),
                "the certificate on the host must stay valid at least this many more days",
            ),
            _host(
                "verify_host_baseline",
                True,
                v.boolean,
                "False leaves out the verification suite's host baseline (one uid 0 account, sshd refusing"
                " root's password, no unknown listener, no pending security update, apt's timers, Apache under"
                " Debian's unit), for a team that verifies the OS with another tool",
            ),
            _host(
                "expected_listeners",
                [],
                v.port_list,
                "TCP ports other software of the host listens on, on a public address, that the host baseline"
                " accepts (a monitoring agent's 9100); sshd's, and Apache's 80 and 443, always are",
            ),
        ),
    ),
)

SETTINGS: dict[str, Setting] = {setting.name: setting for section in SECTIONS for setting in section.settings}
# What a `sites` entry may set: the top-level value of each is every site's default.
SITE_KEYS = tuple(name for name, setting in SETTINGS.items() if setting.scope == SITE)
HOST_KEYS = tuple(name for name, setting in SETTINGS.items() if setting.scope == HOST)


def defaults() -> dict[str, Any]:
    """Every setting's default."""
    return {name: setting.default for name, setting in SETTINGS.items()}


REFERENCE_FILE = "docs/settings.md"


def literal(value: Any) -> str:
    """A default as Python source, in the project's style (double quotes)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(key)}: {literal(item)}" for key, item in value.items()) + "}"
    return repr(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def reference() -> str:
    """docs/settings.md: every setting's default, scope, allowed values and meaning."""
    lines = [
        "# Settings",
        "",
        "Generated from `apache_wsgi_deploy/schema.py` by `.venv/bin/python -m apache_wsgi_deploy.schema`.",
        "A setting left out takes its default. Set the others in your project's `group_data/<group>.py`",
        "(`group_data/all.py` for every host), as host data in the inventory, or per run with",
        "`--data key=value`. A per-site setting's top-level value is every site's default; an entry of",
        "`sites` overrides it for that site.",
    ]
    for section in SECTIONS:
        lines += ["", f"## {section.title}", ""]
        lines += [f"- `{s.name}`: {s.notes}" for s in section.settings if s.notes]
        if any(s.notes for s in section.settings):
            lines.append("")
        lines += ["| Setting | Scope | Default | Allowed | Meaning |", "|---|---|---|---|---|"]
        for s in section.settings:
            cells = [f"`{s.name}`", s.scope, f"`{_cell(literal(s.default))}`", _cell(s.validate.form), _cell(s.doc)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    Path(REFERENCE_FILE).write_text(reference())
    print(f"wrote {REFERENCE_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

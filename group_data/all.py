# Every setting of apache-wsgi-deploy with its default, generated from apache_wsgi_deploy/schema.py
# (edit it there, then run `.venv/bin/python -m apache_wsgi_deploy.schema`). Override them per group
# in group_data/<group>.py, per host in inventory.py, or per run with --data key=value; each value
# is validated before anything is touched. The reference with allowed values: docs/settings.md.

# --- Sites ---
# the sites this host serves, each with its own vhosts, app, daemon processes, user, logs and
# certificate
# An entry is a dict of the per-site settings (server_name to tls_dir) that differ from their
# defaults here: [{}] is one site of the defaults. A second app is one more entry (docs/sites.md),
# e.g. [{}, {"app_name": "blog", "server_name": "blog.example.com", "app_source": "../blog"}]. To
# remove a site, deploy once with "app_present": False in its entry, then drop it.
sites = [{}]

# ===== Per-site settings: every site's defaults =====

# --- The site ---
# DNS name the HTTPS vhost serves; port 80 redirects to https://<server_name>
server_name = "www.example.com"
# more DNS names served by the same vhosts (each must be on the certificate)
server_aliases = []

# --- The application ---
# short name: site file, mod_wsgi daemon process group, log file names, dedicated user
app_name = "flaskapp"
# False removes the site: vhosts, daemon processes, code, venv, certificate and its dedicated user
# (logs stay)
app_present = True
# folder on the control machine with the WSGI app and its pinned requirements.txt (or pyproject.toml
# [project] dependencies), or {"git": "<repository URL>", "ref": "<branch, tag or commit>"} fetched
# on the host
app_source = "app"
# names a folder source leaves out of its releases, wherever they are in it (fnmatch patterns): add
# to the list or replace it; a git source holds what its commit holds
app_source_exclude = [".git", ".venv", "venv", "__pycache__", "*.pyc", "node_modules", ".env", "instance"]
# where code, venv and .wsgi live on the host, never under a DocumentRoot: "auto" is /srv/<app_name>
app_install_path = "auto"
# module:callable of the WSGI application in app_source (any WSGI app, not only Flask), or
# module:factory() of an application factory, called with no arguments once per daemon process
wsgi_entry = "app:app"
# user the daemon processes run as (never the code's owner): "auto" is a system user named
# <app_name>, created for the site alone, so two apps cannot read each other's code
wsgi_user = "auto"
# group the daemon processes run as, which may read the code: "auto" is the group named like
# wsgi_user
wsgi_group = "auto"
# daemon processes: "auto" is one per CPU of the host, or a number
# Figures: `./run.sh bench` on 2 cores (docs/benchmarks.md), the sample app at 64 connections: 1
# process served 0.54x the requests/s of 2 (the GIL lets one process use one core).
wsgi_processes = "auto"
# threads per daemon process (mod_wsgi's default): 4 or 15 serve a CPU-bound app alike (6.4k req/s
# either way), and threads are what waits on a database
wsgi_threads = 15
# seconds a request may wait for a free daemon thread before it gets a 504, instead of piling up
# behind a stuck app (0: wait forever)
wsgi_queue_timeout = 45
# seconds a request may run before mod_wsgi restarts its daemon process to free the thread (0:
# never); matches request_timeout
wsgi_request_timeout = 60
# seconds a daemon process restart (new code, a timeout) waits for running requests to finish
wsgi_graceful_timeout = 15
# seconds without requests before a daemon process restarts to release memory (0: never; a restart
# costs the next request a cold start)
wsgi_inactivity_timeout = 0
# daemon socket's queue of requests waiting for a thread (mod_wsgi's default)
wsgi_listen_backlog = 100
# environment of the app's daemon processes (os.environ): each value a literal string, or read on
# the control machine from its environment ({"from_env": "VARIABLE"}) or a file ({"from_file":
# "path"}, best outside the repository); on the host readable by the app's group alone, never shown
# in diffs
# E.g. {"LOG_LEVEL": "info", "SECRET_KEY": {"from_env": "SHOP_SECRET_KEY"}, "DATABASE_URL":
# {"from_file": "/etc/shop/database-url"}}.
app_env = {}
# the app's own writable folder, which outlives its releases: the app's user's, mode 0750, its path
# in the app's environment as APP_DATA_DIR; "auto" is /var/lib/<app_name>
data_dir = "auto"
# folders of the app's code that are its data's instead (Flask's instance, Django's media): in every
# release each is a link to the folder of that name in data_dir, and a folder source leaves it out
linked_dirs = []
# True: removing the site (present = False) deletes data_dir too; otherwise it stays, and the deploy
# says so
data_removed_with_site = False
# shell commands run once in each new release before its health check (migrations, an init-db), as
# the app's user, in the release's code folder, its virtualenv first on PATH, with the app's
# environment: one that fails stops the release, and the live one keeps serving
# E.g. ["flask --app flaskr init-db"] or ["python manage.py migrate --noinput"]. They run while the
# previous release still serves: a migration must leave a schema the live release can use (add
# columns and tables; drop them in a later release). See docs/releases.md.
release_commands = []
# folders of the app's code that its release commands make (collectstatic's STATIC_ROOT): in each
# new release each is an empty folder the app's user may write during the commands, then root's and
# read-only, like the code; a folder source leaves it out; static_dir may name one
build_dirs = []
# release folders kept on the host (at least 2): each deploy of new code is a new one, switched to
# atomically; `./run.sh rollback <app_name>` goes back one
releases_kept = 5
# path a new release must answer with a status below 400 (a WSGI request on the host, before it goes
# live, as https://<server_name><path>; redirects within the site are followed), or it is not
# switched to
health_check_path = "/"

# --- Static files ---
# URL prefix such as "/static" that Apache serves straight from static_dir, never through the app
# (None: the app serves everything)
static_url = None
# folder inside app_source with the static files; copied into each release, readable by Apache
static_dir = "static"
# Cache-Control max-age in seconds for static files (a day; use a long one with fingerprinted file
# names)
static_max_age = 86400

# --- HTTP ---
# Strict-Transport-Security max-age in seconds: one year
hsts_max_age = 31536000
# per-site logs: <log_dir>/<app_name>-error.log and -access.log; elsewhere than /var/log/apache2
# (which Debian's logrotate rule covers), the deploy makes the folder and a logrotate rule of the
# site's own
log_dir = "/var/log/apache2"
# HTTP/2 on the HTTPS vhost (Protocols h2 http/1.1, Mozilla's profile): browsers multiplex a page's
# requests on one connection. Each request costs Apache more over HTTP/2 (mod_http2 hands each
# stream to a thread of its own: docs/benchmarks.md); a site serving only API clients of one request
# at a time may set it off
http2 = True

# --- TLS ---
# where the certificate comes from
# "acme": certbot on the host gets it from an ACME CA (Let's Encrypt by default) and renews it; the
# CA must reach port 80 of every name, and acme_agree_tos must be True. "files": the three
# tls_*_file files below are uploaded from the control machine. "selfsigned": generated on the host,
# for staging; browsers will not trust it.
tls_certificate_source = "acme"
# "files" only: leaf certificate (control machine)
tls_certificate_file = None
# "files" only: intermediate chain (control machine)
tls_chain_file = None
# "files" only: private key (control machine); uploaded 0600 root
tls_key_file = None
# "files"/"selfsigned": <tls_dir>/<server_name>/fullchain.pem and privkey.pem
tls_dir = "/etc/ssl/apache-wsgi-deploy"

# ===== Server-wide settings =====

# --- Hardening (server-wide; conf-available/hardening.conf replaces Debian's security.conf) ---
# Server header: "Apache", no version or OS (Debian's default "OS" tells both)
server_tokens = "Prod"
# no server version line on Apache's own error pages
server_signature = "Off"
# TRACE answers 405: it can echo cookies back to scripts (cross-site tracing)
trace_enable = "Off"
# True allows Options Indexes: never for an app
directory_listings = False
# True allows .htaccess files (AllowOverride All); we configure everything centrally
htaccess_overrides = False
# LimitRequestBody in bytes (10 MiB; 0 = unlimited): larger requests get 413
request_body_limit = 10485760
# Apache's Timeout in seconds (Debian: 300): a slow client cannot hold a worker longer
request_timeout = 60

# --- What else Apache reads ---
# files of Apache's *-enabled folders this deploy did not make and that belong there
# Every other file in sites-enabled, conf-enabled and mods-enabled is reported: drift in the drift
# check (exit 2), a warning in a deploy, which leaves it as it is, and a vhost of its own fails the
# verification suite's `test_every_vhost_apache_runs_is_ours`. List here what is there on purpose (a
# monitoring vhost, another package's conf). What it serves is still probed: sensitive paths,
# Aliases.
expected_foreign_entries = []

# --- Connections (server-wide; conf-available/performance.conf) ---
# seconds an idle keep-alive connection stays open (Debian's); the event MPM holds it without a
# thread
keepalive_timeout = 5
# requests per keep-alive connection, 0 = unlimited: Debian's 100 made wrk see 518 connections
# closed under it in 28.5k requests at 64 connections (a client racing a close must retry)
keepalive_max_requests = 0
# threads per Apache child process (at most 64, the default ThreadLimit)
# The event MPM (ensured: prefork and worker are disabled) serves every site. A child whose worker
# threads are all busy closes its idle keep-alive connections, and a client that just sent a request
# on one sees it fail: with Debian's 25 threads per child, 1,074 of 44.6k requests at 64 connections
# failed so (wrk read errors); with 64, none. A child reaped as idle closes its keep-alive
# connections too (190 of 126k static requests failed), so children are never reaped:
# MaxSpareThreads is mpm_max_request_workers.
mpm_threads_per_child = 64
# requests Apache serves at once, 4 children (Debian: 150): a multiple of mpm_threads_per_child, at
# most 16 times it
mpm_max_request_workers = 256

# --- ACME (host-wide: one account for every "acme" site) ---
# ACME directory (staging: https://acme-staging-v02.api.letsencrypt.org/directory)
acme_directory_url = "https://acme-v02.api.letsencrypt.org/directory"
# contact for the ACME account; None registers without one
acme_email = None
# set True once you agree to the ACME CA's terms of service ("acme" refuses to run without)
acme_agree_tos = False
# PEM file (control machine) of the CA behind a private ACME server (step-ca, Pebble): the host
# trusts it
acme_ca_bundle = None
# "ecdsa" (P-256, smaller and faster handshakes) or "rsa" (2048 bits, for very old clients)
acme_key_type = "ecdsa"

# --- Packages ---
# refresh apt's cache before installing only if it is older than this (seconds)
apt_cache_time = 86400
# seconds a deploy waits for apt's and dpkg's locks while another apt holds them
# (unattended-upgrades on a fresh server), before it fails
apt_lock_timeout = 300
# seconds a deploy (or a drift check) waits for the host's deploy lock while another run holds it,
# before it fails naming the holder
deploy_lock_timeout = 600

# --- Verification suite (tests/verify) ---
# address the HTTP probes connect to; None resolves server_name through DNS
verify_address = None
# port the probes use for http:// (the test hosts publish it on a loopback port)
verify_http_port = 80
# port the probes use for https://
verify_https_port = 443
# CA file the probes trust; None uses the system's trust store ("selfsigned": the host's own
# certificate)
verify_ca_bundle = None
# the certificate on the host must stay valid at least this many more days
verify_certificate_min_days = 14

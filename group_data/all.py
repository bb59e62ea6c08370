# Every setting of apache-wsgi-deploy with its default. Override per group in
# group_data/<group>.py, per host in inventory.py, or per run with --data key=value.
# apache_wsgi_deploy/settings.py validates each value before anything is touched.

# --- Sites ---
# The sites this host serves, each with its own vhosts, app, daemon processes, user,
# logs and certificate. An entry is a dict of the per-site settings below (server_name
# to tls_dir) that differ from their defaults here: [{}] is one site of the defaults.
# A second app is one more entry (README "A second app"), e.g.
#   sites = [{}, {"app_name": "blog", "server_name": "blog.example.com", "app_source": "../blog"}]
# To remove a site, deploy once with "app_present": False in its entry, then drop it.
sites = [{}]

# ===== Per-site settings: every site's defaults =====

# --- The site ---
server_name = "www.example.com"  # DNS name the HTTPS vhost serves; port 80 redirects to https://<server_name>
server_aliases = []  # more DNS names served by the same vhosts (each must be on the certificate)

# --- The application ---
app_name = "flaskapp"  # short name: site file, mod_wsgi daemon process group, log file names, dedicated user
app_present = True  # False removes the site: vhosts, daemon processes, code, venv and its dedicated user (logs and certificate stay)
app_source = "app"  # folder on the control machine with the WSGI app and its pinned requirements.txt (or pyproject.toml [project] dependencies), or {"git": "<repository URL>", "ref": "<branch, tag or commit>"} fetched on the host
app_install_path = (
    "auto"  # where code, venv and .wsgi live on the host, never under a DocumentRoot: "auto" is /srv/<app_name>
)
wsgi_entry = "app:app"  # module:callable of the WSGI application in app_source (any WSGI app, not only Flask)
wsgi_user = "auto"  # user the daemon processes run as (never the code's owner): "auto" is a system user named <app_name>, created for the site alone, so two apps cannot read each other's code
wsgi_group = (
    "auto"  # group the daemon processes run as, which may read the code: "auto" is the group named like wsgi_user
)
# Figures: `./run.sh bench` on 2 cores (README "Benchmarks"), the sample app at 64 connections.
wsgi_processes = "auto"  # daemon processes: "auto" is one per CPU of the host (1 process on 2 cores: 0.54x the requests/s of 2; the GIL lets one process use one core), or a number
wsgi_threads = 15  # threads per daemon process (mod_wsgi's default): 4 or 15 serve a CPU-bound app alike (6.4k req/s either way), and threads are what waits on a database
wsgi_queue_timeout = 45  # seconds a request may wait for a free daemon thread before it gets a 504, instead of piling up behind a stuck app (0: wait forever)
wsgi_request_timeout = 60  # seconds a request may run before mod_wsgi restarts its daemon process to free the thread (0: never); matches request_timeout
wsgi_graceful_timeout = (
    15  # seconds a daemon process restart (new code, a timeout) waits for running requests to finish
)
wsgi_inactivity_timeout = 0  # seconds without requests before a daemon process restarts to release memory (0: never; a restart costs the next request a cold start)
wsgi_listen_backlog = 100  # daemon socket's queue of requests waiting for a thread (mod_wsgi's default)
app_env = {}  # environment of the app's daemon processes (os.environ), e.g. {"LOG_LEVEL": "info", "SECRET_KEY": {"from_env": "SHOP_SECRET_KEY"}, "DATABASE_URL": {"from_file": "/etc/shop/database-url"}}: a literal string, or read on the control machine from its environment or a file (keep secrets out of the repository); on the host readable by the app's group alone, never shown in diffs
releases_kept = 5  # release folders kept on the host (at least 2): each deploy of new code is a new one, switched to atomically; `./run.sh rollback <app_name>` goes back one
health_check_path = "/"  # path a new release must answer with a status below 400 (a WSGI request on the host, before it goes live), or it is not switched to

# --- Static files ---
static_url = None  # URL prefix such as "/static" that Apache serves straight from static_dir, never through the app (None: the app serves everything)
static_dir = "static"  # folder inside app_source with the static files; copied into each release, readable by Apache
static_max_age = (
    86400  # Cache-Control max-age in seconds for static files (a day; use a long one with fingerprinted file names)
)

# --- HTTP ---
hsts_max_age = 31536000  # Strict-Transport-Security max-age in seconds: one year
log_dir = "/var/log/apache2"  # per-site logs: <log_dir>/<app_name>-error.log and -access.log
http2 = True  # HTTP/2 on the HTTPS vhost (Protocols h2 http/1.1, Mozilla's profile): browsers multiplex a page's requests on one connection (no figure: wrk speaks HTTP/1.1 only)

# --- TLS ---
# Where the certificate comes from:
#   "acme": certbot on the host gets it from an ACME CA (Let's Encrypt by default) and
#           renews it; the CA must reach port 80 of every name. Needs acme_agree_tos.
#   "files": upload the three tls_*_file files below from the control machine.
#   "selfsigned": generated on the host, for staging; browsers will not trust it.
tls_certificate_source = "acme"
tls_certificate_file = None  # "files" only: leaf certificate (control machine)
tls_chain_file = None  # "files" only: intermediate chain (control machine)
tls_key_file = None  # "files" only: private key (control machine); uploaded 0600 root
tls_dir = "/etc/ssl/apache-wsgi-deploy"  # "files"/"selfsigned": <tls_dir>/<server_name>/fullchain.pem and privkey.pem

# ===== Server-wide settings =====

# --- Hardening (server-wide; conf-available/hardening.conf replaces Debian's security.conf) ---
server_tokens = "Prod"  # Server header: "Apache", no version or OS (Debian's default "OS" tells both)
server_signature = "Off"  # no server version line on Apache's own error pages
trace_enable = "Off"  # TRACE answers 405: it can echo cookies back to scripts (cross-site tracing)
directory_listings = False  # True allows Options Indexes: never for an app
htaccess_overrides = False  # True allows .htaccess files (AllowOverride All); we configure everything centrally
request_body_limit = 10485760  # LimitRequestBody in bytes (10 MiB; 0 = unlimited): larger requests get 413
request_timeout = 60  # Apache's Timeout in seconds (Debian: 300): a slow client cannot hold a worker longer

# --- Connections (server-wide; conf-available/performance.conf) ---
keepalive_timeout = (
    5  # seconds an idle keep-alive connection stays open (Debian's); the event MPM holds it without a thread
)
keepalive_max_requests = 0  # requests per keep-alive connection, 0 = unlimited: Debian's 100 made wrk see 518 connections closed under it in 28.5k requests at 64 connections (a client racing a close must retry)
# The event MPM (ensured: prefork and worker are disabled) serves every site. A child whose
# worker threads are all busy closes its idle keep-alive connections, and a client that
# just sent a request on one sees it fail: with Debian's 25 threads per child, 1,074 of
# 44.6k requests at 64 connections failed so (wrk read errors); with 64, none. A child
# reaped as idle closes its keep-alive connections too (190 of 126k static requests
# failed), so children are never reaped: MaxSpareThreads is mpm_max_request_workers.
mpm_threads_per_child = 64  # threads per Apache child process (at most 64, the default ThreadLimit)
mpm_max_request_workers = 256  # requests Apache serves at once, 4 children (Debian: 150): a multiple of mpm_threads_per_child, at most 16 times it

# --- ACME (host-wide: one account for every "acme" site) ---
acme_directory_url = "https://acme-v02.api.letsencrypt.org/directory"  # ACME directory (staging: https://acme-staging-v02.api.letsencrypt.org/directory)
acme_email = None  # contact for the ACME account; None registers without one
acme_agree_tos = False  # set True once you agree to the ACME CA's terms of service ("acme" refuses to run without)
acme_ca_bundle = (
    None  # PEM file (control machine) of the CA behind a private ACME server (step-ca, Pebble): the host trusts it
)
acme_key_type = "ecdsa"  # "ecdsa" (P-256, smaller and faster handshakes) or "rsa" (2048 bits, for very old clients)

# --- Packages ---
apt_cache_time = 86400  # refresh apt's cache before installing only if it is older than this (seconds)

# --- Verification suite (tests/verify) ---
verify_address = None  # address the HTTP probes connect to; None resolves server_name through DNS
verify_http_port = 80  # port the probes use for http:// (the test hosts publish it on a loopback port)
verify_https_port = 443  # port the probes use for https://
verify_ca_bundle = (
    None  # CA file the probes trust; None uses the system's trust store ("selfsigned": the host's own certificate)
)
verify_certificate_min_days = 14  # the certificate on the host must stay valid at least this many more days

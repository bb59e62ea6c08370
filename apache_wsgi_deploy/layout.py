"""
Where things are on a Debian server: every path and Debian name the deploy writes or
reads, the verification suite checks and the tests look at, defined here once.

Server-wide names are constants and small functions; a site's own folders and files
are a `SitePaths`, made from its settings (`Site.paths`).
"""

from __future__ import annotations

from dataclasses import dataclass

# --- Debian packages ---
APACHE_PACKAGES = ["apache2", "libapache2-mod-wsgi-py3", "python3-venv"]
LOGROTATE_CONF = "/etc/logrotate.conf"
LOGROTATE_DIR = "/etc/logrotate.d"
# Debian's rule for Apache's logs reloads Apache after each rotation (every night), which
# makes mod_wsgi answer 503 to requests in flight: diverted (dpkg-divert) to a name
# logrotate skips, so an upgrade of apache2 does not bring it back.
DEBIAN_LOGROTATE_RULE = f"{LOGROTATE_DIR}/apache2"
DIVERTED_LOGROTATE_RULE = f"{LOGROTATE_DIR}/apache2.disabled"
# certbot's timer renews; Debian's package also ships a cron entry for hosts without systemd.
ACME_PACKAGES = ["certbot"]
# A git source is fetched on the host.
GIT_PACKAGES = ["git"]
# The Python Debian's mod_wsgi is built against: every virtualenv is made from it.
HOST_PYTHON = "/usr/bin/python3"
# How a fact runs a host tool (standard library only): isolated, and without the site
# module, which only adds start-up time.
HOST_TOOL_PYTHON = f"{HOST_PYTHON} -I -S"
MOD_WSGI_SO = "/usr/lib/apache2/modules/mod_wsgi.so"
NOLOGIN = "/usr/sbin/nologin"
# Shells that refuse a login: what the verification suite accepts for a daemon user.
NO_LOGIN_SHELLS = (NOLOGIN, "/sbin/nologin", "/bin/false")

# --- Apache: modules, sites and conf snippets (a2enmod, a2ensite, a2enconf) ---
APACHE_SERVICE = "apache2.service"
APACHE_DIR = "/etc/apache2"
APACHE_ENVVARS = f"{APACHE_DIR}/envvars"
APACHE_PID_FILE = "/run/apache2/apache2.pid"
APACHE_LOG_DIR = "/var/log/apache2"
# Who reads logs on Debian: /var/log/apache2 is root:adm 0750, its files root:adm 0640.
LOG_GROUP = "adm"
APACHE_ERROR_LOG = f"{APACHE_LOG_DIR}/error.log"
# Requests no site's vhost takes, as Debian's other-vhosts-access-log conf logs them.
OTHER_VHOSTS_LOG = f"{APACHE_LOG_DIR}/other_vhosts_access.log"
# Every log Apache writes goes through rotatelogs (apache2-utils, which apache2 depends
# on): it starts a new file at each interval with no reload, and runs LOGS_ROTATED_HOOK,
# which compresses the closed files and deletes those older than Debian's 14 days.
ROTATELOGS = "/usr/bin/rotatelogs"
LOG_RETENTION_DAYS = 14
LOG_UMASK = "027"
# What every site uses: alias (Redirect, ACME challenges), headers (HSTS), ssl and its
# session and stapling cache, wsgi; http2 when a site asks for it.
APACHE_MODULES = ["mpm_event", "alias", "headers", "socache_shmcb", "ssl", "wsgi"]
HTTP2_MODULE = "http2"
# The front passes a site with an Apache instance of its own (apache_instance "own") on to it.
PROXY_MODULES = ["proxy", "proxy_http"]
# Never needed by a WSGI site, each a way to run or write files through Apache (DevSec apache-08).
UNUSED_MODULES = ["cgi", "cgid", "dav", "dav_fs", "include"]
# One MPM loads at a time: the others go before a2enmod can enable event.
OTHER_MPMS = ["mpm_prefork", "mpm_worker"]
DEFAULT_SITE = "000-default"
# Debian's: ServerTokens OS, ServerSignature On, TraceEnable Off. Ours replaces it.
DEBIAN_SECURITY_CONF = "security"
# Debian's CustomLog for requests no vhost logs: ours (LOGS_CONF) writes the same file through rotatelogs.
DEBIAN_OTHER_VHOSTS_CONF = "other-vhosts-access-log"
LOGS_CONF = "logs"
DAEMON_ONLY_CONF = "wsgi-daemon-only"
HARDENING_CONF = "hardening"
PERFORMANCE_CONF = "performance"
ACME_CHALLENGE_CONF = "acme-challenge"
# The confs the deploy writes, each enabled or disabled by an operation of its own.
OWN_CONFS = (DAEMON_ONLY_CONF, HARDENING_CONF, PERFORMANCE_CONF, ACME_CHALLENGE_CONF, LOGS_CONF)
# What Debian's apache2 package enables when installed (its postinst, as recorded in
# /var/lib/apache2/*/enabled_by_maint on Debian 12) and the deploy leaves enabled: with
# the deploy's own names, all that mods-enabled and conf-enabled are expected to hold.
# status serves /server-status to local clients only (Debian's status.conf); the
# verification suite asks for it from outside. serve-cgi-bin does nothing without cgi.
DEBIAN_DEFAULT_MODULES = (
    "access_compat", "alias", "auth_basic", "authn_core", "authn_file", "authz_core", "authz_host",
    "authz_user", "autoindex", "deflate", "dir", "env", "filter", "mime", "mpm_event", "negotiation",
    "reqtimeout", "setenvif", "status",
)  # fmt: skip
DEBIAN_DEFAULT_CONFS = ("charset", "localized-error-pages", "serve-cgi-bin")
# The folders whose files Debian's apache2.conf includes, and which files of each.
ENABLED_DIRS = {"mods": ("load", "conf"), "conf": ("conf",), "sites": ("conf",)}
# All that Apache's configuration is read from: Debian's apache2.conf includes ports.conf
# and those folders.
APACHE_CONFIG_READ = (
    f"{APACHE_DIR}/apache2.conf", f"{APACHE_DIR}/ports.conf", *(f"{APACHE_DIR}/{kind}-enabled" for kind in ENABLED_DIRS)
)  # fmt: skip
# Folders Apache serves files from by default: the app must never live there.
DOCUMENT_ROOTS = ("/var/www", "/usr/share/apache2/default-site")
# Sites and confs Debian's apache2 ships: an app's site file must never take their names.
DEBIAN_APACHE_NAMES = (
    "000-default", "default-ssl", "security", "charset", "localized-error-pages",
    "other-vhosts-access-log", "serve-cgi-bin", "javascript-common",
)  # fmt: skip


def site_file(site: str) -> str:
    return f"{APACHE_DIR}/sites-available/{site}.conf"


def site_link(site: str) -> str:
    return f"{APACHE_DIR}/sites-enabled/{site}.conf"


def conf_file(conf: str) -> str:
    return f"{APACHE_DIR}/conf-available/{conf}.conf"


def conf_link(conf: str) -> str:
    return f"{APACHE_DIR}/conf-enabled/{conf}.conf"


def module_file(module: str, kind: str = "load") -> str:
    """mods-available/<module>.load, or its .conf."""
    return f"{APACHE_DIR}/mods-available/{module}.{kind}"


def module_link(module: str, kind: str = "load") -> str:
    return f"{APACHE_DIR}/mods-enabled/{module}.{kind}"


# --- A site's own Apache instance (apache_instance "own"): Debian's multi-instance
# support, apache2@<app_name> reading /etc/apache2-<app_name>, Debian's binary and modules ---
APACHE_MODULES_DIR = "/usr/lib/apache2/modules"
APACHE_PROGRAMS = ("/usr/sbin/apache2", "/usr/sbin/apache2ctl")
# dpkg's record of what each package installed, its conffiles' md5s among it.
DPKG_STATUS = "/var/lib/dpkg/status"
# configtest looks up the User and Group Apache runs as.
ACCOUNT_FILES = ("/etc/passwd", "/etc/group")
# What sudo reads to say what an account may run: its rules, plugins and settings, PAM's
# account checks (sudo -l as the account), and the name service's settings.
SUDO_FILES = (
    "/etc/shadow",
    "/etc/nsswitch.conf",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/sudo.conf",
    "/usr/libexec/sudo",
    "/etc/pam.d",
    "/etc/security",
    "/etc/hostname",
    "/etc/hosts",
)
SUDO_TIMESTAMPS = "/run/sudo/ts"
# All the instance loads: its MPM, access rules, the front's headers taken and the token
# removed, the client's address from X-Forwarded-For, and mod_wsgi.
INSTANCE_MODULES = ("mpm_event", "authz_core", "env", "headers", "remoteip", "wsgi")
INSTANCE_CONF, INSTANCE_ENVVARS, INSTANCE_TOKEN = "apache2.conf", "envvars", "front-token.conf"
INSTANCE_FILES = (INSTANCE_CONF, INSTANCE_ENVVARS, INSTANCE_TOKEN)
# The header carrying the front's token: what the instance answers, and nothing else on the host.
FRONT_TOKEN_HEADER = "X-Apache-Wsgi-Deploy-Front"
# The instance's listening port, on 127.0.0.1 only, when apache_instance_port is "auto":
# from the app's name, below 1024 so that only root (the instance's parent) can bind it.
INSTANCE_PORTS = range(600, 1000)


def instance_dir(app_name: str) -> str:
    return f"{APACHE_DIR}-{app_name}"


def instance_service(app_name: str) -> str:
    return f"apache2@{app_name}.service"


def instance_run_dir(app_name: str) -> str:
    """Where the instance keeps its pid file (APACHE_RUN_DIR), as Debian's envvars names it."""
    return f"/run/apache2-{app_name}"


def instance_pid_file(app_name: str) -> str:
    return f"{instance_run_dir(app_name)}/apache2.pid"


def instance_file(app_name: str, name: str) -> str:
    """INSTANCE_CONF, INSTANCE_ENVVARS or INSTANCE_TOKEN of the site's instance."""
    return f"{instance_dir(app_name)}/{name}"


def front_token_variable(app_name: str) -> str:
    """The Define holding the site's token (in INSTANCE_TOKEN, root's alone), read by both Apaches."""
    return f"apache_wsgi_deploy_token_{app_name}"


# --- The system's own folders and accounts ---
# Apache's own user and group (APACHE_RUN_USER, APACHE_RUN_GROUP in envvars).
APACHE_USER = APACHE_GROUP = "www-data"

# Never a folder the deploy makes (and removes with a site): the system's own folders.
SYSTEM_DIRS = (
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media",
    "/mnt", "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/local",
    "/var", "/var/backups", "/var/cache", "/var/lib", "/var/local", "/var/log", "/var/mail",
    "/var/opt", "/var/spool", "/var/tmp", "/var/www",
)  # fmt: skip
# Nor anything inside the folders that hold the system (/etc is allowed for certificates).
SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin",
                "/sys", "/usr")  # fmt: skip
# Nor anything inside the folders that hold a package manager's, a service's or a user's
# state: their folders are theirs to own, and the deploy would chown and chmod them.
STATE_TREES = ("/home", "/root", "/tmp", "/var/tmp", "/var/cache", "/var/spool", "/var/backups", "/var/mail")
# Inside these, only a folder made for the app itself: /var/lib/<app_name>, /var/log/<app_name>...
SHARED_TREES = ("/var/lib", "/var/log")
# Besides its request threads (wsgi_threads), a mod_wsgi daemon process runs its main
# thread, a deadlock watch and a monitor for the timeouts (deadlock-timeout's default
# alone starts it): 18 threads with threads=15.
MOD_WSGI_OWN_THREADS = 3
# Debian's system accounts and groups: never an app's own user (app_name names it).
DEBIAN_ACCOUNTS = (
    "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy",
    "www-data", "backup", "list", "irc", "gnats", "nobody", "nogroup", "_apt", "messagebus", "sshd",
    "systemd-network", "systemd-resolve", "systemd-timesync", "systemd-journal", "systemd-coredump",
    "adm", "tty", "disk", "kmem", "dialout", "fax", "voice", "cdrom", "floppy", "tape", "sudo",
    "audio", "dip", "operator", "src", "shadow", "utmp", "video", "sasl", "plugdev", "staff",
    "users", "input", "kvm", "render", "netdev", "crontab", "ssl-cert", "docker", "lxd", "wheel",
)  # fmt: skip
# Groups whose members can become root or read every secret on the host.
PRIVILEGED_GROUPS = ("root", "sudo", "wheel", "adm", "shadow", "disk", "docker", "lxd", "systemd-journal", "kmem")


# An Apache child process runs its main thread and its listener besides ThreadsPerChild.
INSTANCE_CHILD_OWN_THREADS = 2


# --- The project's own state on the host ---
STATE_DIR = "/var/lib/apache-wsgi-deploy"
# Served at /.well-known/acme-challenge/ on every name, outside any DocumentRoot.
ACME_WEBROOT = f"{STATE_DIR}/acme"
ACME_CHALLENGE_DIR = f"{ACME_WEBROOT}/.well-known/acme-challenge"
# What the deploy made on the host (folders and files its settings name) and the folders
# it took over (adopted_folders), with their owner and mode before: a folder not in it is
# never chowned, chmodded or deleted. JSON, root's alone.
MADE_RECORD = f"{STATE_DIR}/made.tsv"
# A reload that failed its configtest, owed until one succeeds.
RELOAD_OWED = f"{STATE_DIR}/apache-reload-owed"
# Every deploy, rollback and app command on the host: JSON lines, root's alone (audit.py).
AUDIT_LOG = f"{STATE_DIR}/audit.log"
# One deploy at a time (apache_wsgi_deploy.lock): under /run, so a reboot, which ends
# every run, also clears it.
DEPLOY_LOCK = "/run/apache-wsgi-deploy.lock"
# The scripts of apache_wsgi_deploy/host_tools, which the deploy runs on the host.
TOOLS_DIR = f"{STATE_DIR}/tools"
HEALTH_CHECK = f"{TOOLS_DIR}/healthcheck.py"
# Runs a command in a release's context (its folder, virtualenv, the app's environment).
IN_APP = f"{TOOLS_DIR}/inapp.py"
# Copies a data folder (SQLite through its backup API) and puts a copy back, as the app's user.
SNAPSHOT_TOOL = f"{TOOLS_DIR}/snapshot.py"
# Loads a release's application, with its environment: the .wsgi file and the health check.
ENTRY_POINT = f"{TOOLS_DIR}/entrypoint.py"
# Apache's reload: checked before (configtest; vhostcheck.py: no name claimed by two
# vhosts on one port; tlscheck.py: each enabled vhost's certificate has its key and
# names), watched after.
RELOAD_TOOL = f"{TOOLS_DIR}/reload.py"
# A graceful restart of a site's own instance, watched until it resumed serving.
INSTANCE_RELOAD = f"{TOOLS_DIR}/instance_reload.py"
# rotatelogs' -p program: compresses and expires a log's closed files (an executable).
LOGS_ROTATED_HOOK = f"{TOOLS_DIR}/logs_rotated.py"
# Files and links as they were before the changes since Apache's last reload.
CONFIG_BEFORE_DIR = f"{STATE_DIR}/apache-config-before"
ACME_CA_FILE = "/usr/local/share/ca-certificates/apache-wsgi-deploy-acme.crt"
# With sudo, a private file is uploaded through this folder of the SSH user's home.
PRIVATE_UPLOAD_DIR = ".apache-wsgi-deploy-upload"

# --- certbot ---
CERTBOT_DIR = "/etc/letsencrypt"
CERTBOT_LIVE = f"{CERTBOT_DIR}/live"
# Where certbot keeps the keys themselves: live/ only links into it.
CERTBOT_ARCHIVE = f"{CERTBOT_DIR}/archive"
CERTBOT_TIMER = "certbot.timer"
RENEWAL_HOOK = f"{CERTBOT_DIR}/renewal-hooks/deploy/apache-wsgi-deploy-reload"


# What root reads or runs besides each site's install path and instance: Apache's
# configuration, the deploy's tools, systemd's units and timers, the dynamic loader's
# preload and paths, cron and logrotate, certbot's renewal configuration and hooks, and
# what comes first on root's PATH. Nothing in them may be another user's to write.
ROOT_ONLY_TREES = (
    APACHE_DIR, STATE_DIR, "/etc/systemd", "/usr/lib/systemd/system", "/etc/ld.so.preload", "/etc/ld.so.conf",
    "/etc/ld.so.conf.d", "/etc/crontab", "/etc/cron.d", LOGROTATE_CONF, LOGROTATE_DIR, CERTBOT_DIR,
    "/usr/local/sbin", "/usr/local/bin",
)  # fmt: skip


def certbot_renewal_conf(cert_name: str) -> str:
    return f"{CERTBOT_DIR}/renewal/{cert_name}.conf"


def certbot_lineage(cert_name: str) -> str:
    return f"{CERTBOT_LIVE}/{cert_name}"


# --- Inside a site's folder (app_install_path) ---
RELEASES = "releases"
VENVS = "venvs"
# The link to the live release.
CURRENT = "current"
# Every release made live, one name per line, in order: what a rollback goes back along.
HISTORY = "live-history"
# Beside a release folder, marks it rolled back.
ROLLED_BACK = ".rolled-back"
# In each release: the app's environment (app_env and APP_DATA_DIR) as JSON, and its
# entry point (wsgi_entry): a settings change is a new release, health-checked like code.
ENV_FILE, ENTRY_FILE = "environment.json", "wsgi-entry"
# Beside the releases before they held their own settings, and of the layout before
# releases (code, venv and static files in place).
FORMER_LAYOUT = (ENV_FILE, "app", "venv", "static")
# The bare repository git sources fetch into.
GIT_CACHE = "git"
# Copies of the data folder taken before a release's commands ran, one folder each named
# by that release: the data as a tar file, snapshot_command's output, and the name of
# the release then live.
SNAPSHOTS, SNAPSHOT_DATA, SNAPSHOT_LIVE = "snapshots", "data.tar", "live-release"
SNAPSHOT_COMMAND_OUTPUT = "command.out"
# In the snapshots folder while one is taken (the app's user's until sealed root's).
SNAPSHOT_TAKING = ".taking"
# A site's certificate (leaf and chain) and key, in certbot's lineage or our own folder.
FULLCHAIN, PRIVKEY = "fullchain.pem", "privkey.pem"


# What the deploy adds to the app's environment (app_env may not set it).
DATA_DIR_VARIABLE = "APP_DATA_DIR"
SECRETS_DIR_VARIABLE = "APP_SECRETS_DIR"
DEPLOY_ENVIRONMENT = (DATA_DIR_VARIABLE, SECRETS_DIR_VARIABLE)
# In a site's folder: one folder of secret files per content, named by its digest.
SECRETS = "secrets"
# In a release folder: the digest of the release commands that ran in it.
COMMANDS_DONE = "release-commands.done"
# In a site's data folder: the digest of each setup command that ran for that data, a line each.
SETUP_DONE = ".apache-wsgi-deploy-setup-done"


# The certificate and key of the "files" and "selfsigned" sources, in their own folder.
MADE_IN_OWN_TLS_DIR = (FULLCHAIN, PRIVKEY)


def wsgi_file(app_name: str) -> str:
    return f"{app_name}.wsgi"


# In a site's folder: the page maintenance serves (Apache reads it: 0755 and 0644, root's),
# at MAINTENANCE_URL, and the flag `awd maintenance on` makes, which the vhost tests.
MAINTENANCE_PAGE_DIR, MAINTENANCE_PAGE, MAINTENANCE_FLAG = "maintenance-page", "503.html", "maintenance-on"
# Beside the flag while a deploy holds the site in maintenance for its release commands:
# that deploy, not an operator, put it on, and takes it off.
MAINTENANCE_BY_DEPLOY = f"{MAINTENANCE_FLAG}.by-deploy"
MAINTENANCE_URL = "/.awd-maintenance/"


def made_in_install_path(app_name: str) -> list[str]:
    """Everything the deploy makes in a site's folder: all that its removal deletes."""
    made = [RELEASES, VENVS, SECRETS, CURRENT, f".{CURRENT}-next", HISTORY, GIT_CACHE, wsgi_file(app_name)]
    made += [MAINTENANCE_PAGE_DIR, MAINTENANCE_FLAG, MAINTENANCE_BY_DEPLOY, SNAPSHOTS]
    return made + list(FORMER_LAYOUT)


@dataclass(frozen=True)
class SitePaths:
    """A site's folders and files on the host, from the settings that place them."""

    app_name: str
    install_path: str
    server_name: str
    log_dir: str
    tls_dir: str
    acme: bool
    # The app's own writable folder, outside its install path.
    data_dir: str
    # The app runs in an Apache instance of its own (apache_instance "own").
    own_instance: bool = False

    @property
    def made_in_install_path(self) -> list[str]:
        return made_in_install_path(self.app_name)

    def linked_dir(self, name: str) -> str:
        """Where a release's linked folder (linked_dirs) leads: the data's folder of that name."""
        return f"{self.data_dir}/{name}"

    @property
    def made_in_own_tls_dir(self) -> list[str]:
        return list(MADE_IN_OWN_TLS_DIR)

    @property
    def wsgi_file(self) -> str:
        return wsgi_file(self.app_name)

    @property
    def wsgi_script(self) -> str:
        return f"{self.install_path}/{self.wsgi_file}"

    def release_env_file(self, release: str) -> str:
        """A release's environment, as JSON: the .wsgi file loads it into os.environ."""
        return f"{self.release_dir(release)}/{ENV_FILE}"

    def release_entry_file(self, release: str) -> str:
        """A release's wsgi_entry: what the .wsgi file and the health check load."""
        return f"{self.release_dir(release)}/{ENTRY_FILE}"

    @property
    def env_file(self) -> str:
        """The live release's environment."""
        return f"{self.current_dir}/{ENV_FILE}"

    @property
    def git_cache(self) -> str:
        """A bare repository that fetches keep: later fetches bring only what is new."""
        return f"{self.install_path}/{GIT_CACHE}"

    @property
    def maintenance_page_dir(self) -> str:
        return f"{self.install_path}/{MAINTENANCE_PAGE_DIR}"

    @property
    def maintenance_page(self) -> str:
        return f"{self.maintenance_page_dir}/{MAINTENANCE_PAGE}"

    @property
    def maintenance_flag(self) -> str:
        """While it exists the site answers 503 (awd maintenance on|off)."""
        return f"{self.install_path}/{MAINTENANCE_FLAG}"

    @property
    def maintenance_by_deploy(self) -> str:
        return f"{self.install_path}/{MAINTENANCE_BY_DEPLOY}"

    @property
    def releases_dir(self) -> str:
        return f"{self.install_path}/{RELEASES}"

    def release_dir(self, release: str) -> str:
        return f"{self.releases_dir}/{release}"

    def secrets_dir(self, digest: str) -> str:
        """A set of secret files: shared by the releases that hold the same, outside all of them."""
        return f"{self.install_path}/{SECRETS}/{digest}"

    @property
    def venvs_dir(self) -> str:
        """One virtualenv per set of requirements, shared by the releases that pin it."""
        return f"{self.install_path}/{VENVS}"

    @property
    def current_dir(self) -> str:
        """The link to the live release: everything the daemon and Apache read goes through it."""
        return f"{self.install_path}/{CURRENT}"

    @property
    def app_code_dir(self) -> str:
        return f"{self.current_dir}/app"

    @property
    def venv(self) -> str:
        return f"{self.current_dir}/venv"

    @property
    def static_path(self) -> str:
        """Where Apache serves static_url from: the live release's copy, readable by every user."""
        return f"{self.current_dir}/static"

    @property
    def site_file(self) -> str:
        return site_file(self.app_name)

    @property
    def site_link(self) -> str:
        return site_link(self.app_name)

    @property
    def own_tls_dir(self) -> str:
        """The certificate folder of the "files" and "selfsigned" sources."""
        return f"{self.tls_dir}/{self.server_name}"

    @property
    def certificate_dir(self) -> str:
        """certbot's lineage for the server name, or our own folder for the other sources."""
        return certbot_lineage(self.server_name) if self.acme else self.own_tls_dir

    @property
    def certificate_path(self) -> str:
        """Leaf and chain in one file: SSLCertificateChainFile is deprecated since Apache 2.4.8."""
        return f"{self.certificate_dir}/{FULLCHAIN}"

    @property
    def key_path(self) -> str:
        return f"{self.certificate_dir}/{PRIVKEY}"

    @property
    def error_log(self) -> str:
        return f"{self.log_dir}/{self.app_name}-error.log"

    @property
    def access_log(self) -> str:
        return f"{self.log_dir}/{self.app_name}-access.log"

    @property
    def own_log_dir(self) -> bool:
        """log_dir is a folder of the site's own, which the deploy makes (not Apache's)."""
        return self.log_dir != APACHE_LOG_DIR

    @property
    def embedded_mode_log(self) -> str:
        """Requests mod_wsgi was asked to run inside Apache's own processes: none, when right."""
        return f"{self.log_dir}/{self.app_name}-embedded-mode.log"

    @property
    def instance_error_log(self) -> str:
        """The own instance's error log: what the app writes to stderr, its tracebacks."""
        return f"{self.log_dir}/{self.app_name}-app-error.log"

    @property
    def vhost_logs(self) -> list[str]:
        """The logs the site's vhosts write in the front Apache."""
        return [self.error_log, self.access_log, self.embedded_mode_log]

    @property
    def logs(self) -> list[str]:
        """Every log of the site: its vhosts', and its own instance's."""
        return self.vhost_logs + ([self.instance_error_log] if self.own_instance else [])


def rotated_suffix(seconds: int) -> str:
    """The strftime suffix of a log's rotated files: the day, or the moment when rotated more often."""
    return "%Y%m%d" if seconds % 86400 == 0 else "%Y%m%dT%H%M%S"


def rotatelogs_command(path: str, seconds: int) -> str:
    """rotatelogs writing `path`: a new file every `seconds` (local time), `path` a hard
    link to the current one, the hook run at each."""
    return f"{ROTATELOGS} -l -f -L {path} -p {LOGS_ROTATED_HOOK} {path}.{rotated_suffix(seconds)} {seconds}"


def piped_log(path: str, seconds: int) -> str:
    """An ErrorLog or CustomLog target writing `path` through rotatelogs, its files made
    640 as Debian's logs are (the hook gives them group adm): a shell sets the umask, then
    becomes rotatelogs. Apache starts it directly (||), as it starts an ErrorLog's "|"."""
    return f"||/bin/sh -c 'umask {LOG_UMASK} && exec {rotatelogs_command(path, seconds)}'"

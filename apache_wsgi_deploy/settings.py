"""
The settings schema: every key of group_data/all.py, its type and its allowed form.

`Settings.from_data` validates one host's merged data (group files, host data, --data)
once, before any operation is built. Every value that reaches an Apache directive, a
file path or a shell word passes a whitelist here first, so a newline, quote or angle
bracket in group_data can never break out of a VirtualHost or a command.
"""

from __future__ import annotations

import keyword
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyinfra.api.exceptions import PyinfraError

# pyinfra's own keys (connection and global arguments) share host.data with ours.
PYINFRA_KEY = re.compile(r"^(_|ssh_|winrm_|docker_|chroot_|local_|podman_)")

DNS_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
DNS_NAME = re.compile(rf"^(?=.{{1,253}}$){DNS_LABEL}(\.{DNS_LABEL})*$")
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
PYTHON_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
UNIX_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
# Validators use fullmatch: with match, "$" also matches before a trailing newline.
# Path characters that need no quoting in an Apache directive or a shell word.
SAFE_PATH = re.compile(r"^[A-Za-z0-9._/@+-]+$")
URL_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Repository URLs git and the shell take as one word; no credentials in them (they would
# be printed): the host's root authenticates (a deploy key, a credential helper).
_GIT_PATH = r"[A-Za-z0-9._~/+-]*"
GIT_URL = re.compile(
    rf"^(?:(?:https|git)://[A-Za-z0-9.-]+(?::[0-9]{{1,5}})?/{_GIT_PATH}"
    rf"|ssh://(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+(?::[0-9]{{1,5}})?/{_GIT_PATH}"
    rf"|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~+-]{_GIT_PATH})$"
)
# A branch, tag or commit: never an option ('-'), a range ('..') or a refspec (':').
GIT_REF = re.compile(r"^(?!-)(?!.*\.\.)(?!.*\.lock$)[A-Za-z0-9._/-]{1,200}(?<!/)$")
# An https URL whose every character is safe in a shell word and an Apache directive.
HTTPS_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$")
EMAIL = re.compile(rf"^[A-Za-z0-9._+-]{{1,64}}@{DNS_NAME.pattern[1:-1]}$")
CERTBOT_LIVE = "/etc/letsencrypt/live"
# The event MPM's ServerLimit and ThreadLimit defaults. Raising either takes a full
# restart of Apache (a graceful reload ignores them), so the settings stay within.
MPM_SERVER_LIMIT, MPM_THREAD_LIMIT = 16, 64
# Folders Apache serves files from by default: the app must never live there.
DOCUMENT_ROOTS = ("/var/www", "/usr/share/apache2/default-site")


class SettingsError(PyinfraError, ValueError):
    """Bad group_data; the message names host, setting, value and allowed form.

    A PyinfraError, so pyinfra's CLI prints the message rather than a traceback."""


class _Invalid(ValueError):
    """A validator's complaint about one value: carries the allowed form."""


def _dns_name(value: Any) -> str:
    if not isinstance(value, str) or not DNS_NAME.fullmatch(value):
        raise _Invalid("a DNS name in lower case: labels of a-z, 0-9 and '-' joined by dots")
    return value


def _dns_names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)):
        raise _Invalid("a list of DNS names")
    return tuple(_dns_name(item) for item in value)


def _identifier(value: Any) -> str:
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise _Invalid("a name of 1-32 characters: a-z first, then a-z, 0-9, '_' or '-'")
    return value


def _unix_name(value: Any) -> str:
    if not isinstance(value, str) or not UNIX_NAME.fullmatch(value):
        raise _Invalid("a user or group name: a-z or '_' first, then a-z, 0-9, '_' or '-'")
    return value


def _absolute_path(value: Any) -> str:
    """A path on the host: it reaches Apache directives and shell words unquoted."""
    if not isinstance(value, str) or not SAFE_PATH.fullmatch(value):
        raise _Invalid("a path of letters, digits and . _ / @ + - (no spaces or quotes)")
    if "/../" in f"/{value}/" or "//" in value:
        raise _Invalid("a normalised path without '..' or '//'")
    if not value.startswith("/") or value == "/" or value.endswith("/"):
        raise _Invalid("an absolute path such as /srv/app (not '/', no trailing '/')")
    return value


def _wsgi_entry(value: Any) -> str:
    """module:callable, both plain Python names: it becomes an import line in the .wsgi file."""
    module, _, name = value.partition(":") if isinstance(value, str) else ("", "", "")
    parts = [*module.split("."), name]
    if not all(PYTHON_NAME.fullmatch(part) and not keyword.iskeyword(part) for part in parts):
        raise _Invalid("module:callable of Python names, such as app:app or myproject.wsgi:application")
    return value


def _daemon_user(value: Any) -> str:
    name = _unix_name(value)
    if name == "root":
        raise _Invalid("an unprivileged user: a daemon running as root could rewrite its own code")
    return name


def _url_path(value: Any) -> str:
    """A URL prefix such as /static: it becomes an Alias argument."""
    segments = value.split("/")[1:] if isinstance(value, str) and value.startswith("/") else []
    if not segments or not all(URL_SEGMENT.fullmatch(part) and part not in (".", "..") for part in segments):
        raise _Invalid("a URL path such as /static: '/' then segments of letters, digits and . _ ~ - (no trailing '/')")
    return value


def _request_path(value: Any) -> str:
    """A path to ask the app for, such as / or /healthz: it becomes one argument of a command."""
    if value == "/":
        return value
    return _url_path(value)


def _relative_dir(value: Any) -> str:
    """A folder inside the app's source, such as static or web/assets."""
    parts = value.split("/") if isinstance(value, str) else []
    if not parts or not all(URL_SEGMENT.fullmatch(part) and part not in (".", "..") for part in parts):
        raise _Invalid("a folder inside app_source such as static: names of letters, digits and . _ ~ - joined by '/'")
    return value


def _app_env(value: Any) -> dict:
    """Environment variables of the app: literal strings, or where to read each on the control machine."""
    if not isinstance(value, dict):
        raise _Invalid('a dict of environment variables, e.g. {"SECRET_KEY": {"from_env": "SHOP_SECRET_KEY"}}')
    for name, source in value.items():
        if not isinstance(name, str) or not ENV_NAME.fullmatch(name):
            raise _Invalid("environment variable names of letters, digits and '_', not starting with a digit")
        if isinstance(source, str) and "\0" not in source:
            continue
        kind, reference = next(iter(source.items())) if isinstance(source, dict) and len(source) == 1 else (None, None)
        if kind == "from_env" and isinstance(reference, str) and ENV_NAME.fullmatch(reference):
            continue
        if kind == "from_file" and isinstance(reference, str):
            _local_path(reference)
            continue
        raise _Invalid(
            f'for {name}: a string, {{"from_env": "VARIABLE"}} (the control machine\'s environment) or'
            ' {"from_file": "path"} (a file on the control machine, best outside the repository)'
        )
    return value


def _app_source(value: Any) -> str | dict:
    """A folder on the control machine, or {"git": url, "ref": branch, tag or commit}."""
    if not isinstance(value, dict):
        return _local_path(value)
    if set(value) != {"git", "ref"} or not isinstance(value["git"], str) or not isinstance(value["ref"], str):
        raise _Invalid('a folder, or {"git": "<repository URL>", "ref": "<branch, tag or commit>"}')
    if not GIT_URL.fullmatch(value["git"]):
        raise _Invalid("a git URL: https://, git://, ssh:// or user@host:path, without credentials, quotes or spaces")
    if not GIT_REF.fullmatch(value["ref"]):
        raise _Invalid("a git ref: a branch, tag or commit of letters, digits and . _ / - (no '..', no leading '-')")
    return value


def _app_install_path(value: Any) -> str:
    path = _absolute_path(value)
    if any(path == root or path.startswith(root + "/") for root in DOCUMENT_ROOTS):
        raise _Invalid("an absolute path outside any DocumentRoot (not under /var/www), e.g. /srv/app")
    return path


def _local_path(value: Any) -> str:
    """A path on the control machine (relative to the project folder): only Python reads it."""
    if not isinstance(value, str) or not value or any(ord(char) < 32 for char in value):
        raise _Invalid("a path on the control machine, relative to the project folder or absolute")
    return value


def _https_url(value: Any) -> str:
    if not isinstance(value, str) or not HTTPS_URL.fullmatch(value):
        raise _Invalid("an https:// URL of letters, digits and . _ ~ / - (no query, quotes or spaces)")
    return value


def _email(value: Any) -> str:
    if not isinstance(value, str) or not EMAIL.fullmatch(value):
        raise _Invalid("an e-mail address such as ops@example.com (a DNS name after '@')")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("True or False")
    return value


def _sites(value: Any) -> list[dict]:
    """The shape only: each entry's keys and values are validated as the settings they name."""
    if not isinstance(value, list) or not value or not all(isinstance(entry, dict) for entry in value):
        raise _Invalid('a non-empty list of dicts, one per site, e.g. [{}] or [{}, {"app_name": "blog", ...}]')
    return value


def _or(special: Any, shown: str, validator: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """validator, also accepting `special` (written `shown` in the allowed form)."""

    def validate(value: Any) -> Any:
        if value == special:
            return value
        try:
            return validator(value)
        except _Invalid as error:
            raise _Invalid(f"{shown} or {error}") from None

    return validate


def _auto_or(validator: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return _or("auto", '"auto"', validator)


def _optional(validator: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return _or(None, "None", validator)


def _int_range(low: int, high: int) -> Callable[[Any], int]:
    def validate(value: Any) -> int:
        # bool is an int subclass: True must not pass as 1.
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _Invalid(f"a whole number from {low} to {high}")
        return value

    return validate


def _choice(*allowed: str) -> Callable[[Any], str]:
    def validate(value: Any) -> str:
        if value not in allowed:
            raise _Invalid("one of " + ", ".join(repr(item) for item in allowed))
        return value

    return validate


# One entry per key of group_data/all.py, in the same order.
SCHEMA: dict[str, Callable[[Any], Any]] = {
    "sites": _sites,
    "server_name": _dns_name,
    "server_aliases": _dns_names,
    "app_name": _identifier,
    "app_present": _boolean,
    "app_source": _app_source,
    "app_install_path": _auto_or(_app_install_path),
    "wsgi_entry": _wsgi_entry,
    "wsgi_user": _auto_or(_daemon_user),
    "wsgi_group": _auto_or(_unix_name),
    "wsgi_processes": _auto_or(_int_range(1, 64)),
    "wsgi_threads": _int_range(1, 256),
    "wsgi_queue_timeout": _int_range(0, 3600),
    "wsgi_request_timeout": _int_range(0, 3600),
    "wsgi_graceful_timeout": _int_range(0, 3600),
    "wsgi_inactivity_timeout": _int_range(0, 86400),
    "wsgi_listen_backlog": _int_range(1, 65535),
    "app_env": _app_env,
    "releases_kept": _int_range(2, 100),
    "health_check_path": _request_path,
    "static_url": _optional(_url_path),
    "static_dir": _relative_dir,
    "static_max_age": _int_range(0, 365 * 24 * 3600),
    "hsts_max_age": _int_range(0, 2 * 365 * 24 * 3600),
    "log_dir": _absolute_path,
    "http2": _boolean,
    "tls_certificate_source": _choice("acme", "files", "selfsigned"),
    "tls_certificate_file": _optional(_local_path),
    "tls_chain_file": _optional(_local_path),
    "tls_key_file": _optional(_local_path),
    "tls_dir": _absolute_path,
    "server_tokens": _choice("Prod", "Major", "Minor", "Minimal", "OS", "Full"),
    "server_signature": _choice("Off", "On", "EMail"),
    "trace_enable": _choice("Off", "On", "extended"),
    "directory_listings": _boolean,
    "htaccess_overrides": _boolean,
    "request_body_limit": _int_range(0, 2**31 - 1),
    "request_timeout": _int_range(1, 3600),
    "keepalive_timeout": _int_range(1, 300),
    "keepalive_max_requests": _int_range(0, 1000000),
    "mpm_threads_per_child": _int_range(1, MPM_THREAD_LIMIT),
    "mpm_max_request_workers": _int_range(1, MPM_SERVER_LIMIT * MPM_THREAD_LIMIT),
    "acme_directory_url": _https_url,
    "acme_email": _optional(_email),
    "acme_agree_tos": _boolean,
    "acme_ca_bundle": _optional(_local_path),
    "acme_key_type": _choice("ecdsa", "rsa"),
    "apt_cache_time": _int_range(0, 30 * 24 * 3600),
    "verify_address": _optional(_dns_name),
    "verify_http_port": _int_range(1, 65535),
    "verify_https_port": _int_range(1, 65535),
    "verify_ca_bundle": _optional(_local_path),
    "verify_certificate_min_days": _int_range(0, 365),
}

# What a `sites` entry may set: the top-level value of each is every site's default.
SITE_KEYS = (
    "server_name",
    "server_aliases",
    "app_name",
    "app_present",
    "app_source",
    "app_install_path",
    "wsgi_entry",
    "wsgi_user",
    "wsgi_group",
    "wsgi_processes",
    "wsgi_threads",
    "wsgi_queue_timeout",
    "wsgi_request_timeout",
    "wsgi_graceful_timeout",
    "wsgi_inactivity_timeout",
    "wsgi_listen_backlog",
    "app_env",
    "releases_kept",
    "health_check_path",
    "static_url",
    "static_dir",
    "static_max_age",
    "hsts_max_age",
    "log_dir",
    "http2",
    "tls_certificate_source",
    "tls_certificate_file",
    "tls_chain_file",
    "tls_key_file",
    "tls_dir",
)
TLS_FILES = ("tls_certificate_file", "tls_chain_file", "tls_key_file")


def _site_problems(label: str, values: dict[str, Any], entry: dict) -> list[str]:
    """A site's settings that are valid alone but not together with its certificate source.
    A site that sets its own source leaves the top-level certificate files to the others:
    those become None for it (in `values`)."""
    source = values["tls_certificate_source"]
    if source == "files":
        return [
            f"setting '{label}{key}' is None but tls_certificate_source is 'files': name the file to upload"
            for key in TLS_FILES
            if values[key] is None
        ]
    problems = []
    for key in TLS_FILES:
        if values[key] is not None and (key in entry or "tls_certificate_source" not in entry):
            problems.append(
                f"setting '{label}{key}' = {values[key]!r} is only used when tls_certificate_source is 'files'"
                f" (it is {source!r}): set it to None"
            )
        values[key] = None
    return problems


def _host_problems(values: dict[str, Any], sites: list[Site]) -> list[str]:
    """Host-wide settings that contradict each other or the sites."""
    problems = []
    acme = any(site.tls_certificate_source == "acme" for site in sites)
    if acme and not values["acme_agree_tos"]:
        problems.append(
            "setting 'acme_agree_tos' is False but tls_certificate_source is 'acme': read the terms of"
            f" service of {values['acme_directory_url']} and set it to True"
        )
    if not acme and values["acme_ca_bundle"] is not None:
        problems.append(
            f"setting 'acme_ca_bundle' = {values['acme_ca_bundle']!r} is only used when"
            " tls_certificate_source is 'acme' (no site's is): set it to None"
        )
    threads, workers = values["mpm_threads_per_child"], values["mpm_max_request_workers"]
    if workers % threads or workers > MPM_SERVER_LIMIT * threads:
        problems.append(
            f"setting 'mpm_max_request_workers' = {workers} must be a multiple of mpm_threads_per_child"
            f" ({threads}) and at most {MPM_SERVER_LIMIT} times it ({MPM_SERVER_LIMIT * threads})"
        )
    return problems + _clashes(sites)


def _clashes(sites: list[Site]) -> list[str]:
    """Two sites of one host must not share a name, a DNS name or a folder."""
    problems = []
    owners: dict[tuple[str, str], int] = {}
    for index, site in enumerate(sites):
        claims = [("app_name", site.app_name), ("app_install_path", site.app_install_path)]
        claims += [("server_name/server_aliases", name) for name in site.names()]
        for claim in claims:
            if claim in owners:
                problems.append(
                    f"sites[{owners[claim]}] and sites[{index}] both have {claim[0]} {claim[1]!r}:"
                    " give each site its own"
                )
            owners.setdefault(claim, index)
        for other in sites[:index]:
            inner, outer = sorted((site.app_install_path, other.app_install_path), key=len, reverse=True)
            if inner.startswith(outer + "/"):
                problems.append(f"app_install_path {inner!r} is inside another site's {outer!r}: use separate folders")
    return problems


@dataclass(frozen=True)
class Site:
    """One site (vhosts, app, daemon process group, certificate) with "auto" values resolved."""

    server_name: str
    server_aliases: tuple[str, ...]
    app_name: str
    app_present: bool
    app_source: str | dict
    app_install_path: str
    wsgi_entry: str
    wsgi_user: str
    wsgi_group: str
    wsgi_processes: int | str
    wsgi_threads: int
    wsgi_queue_timeout: int
    wsgi_request_timeout: int
    wsgi_graceful_timeout: int
    wsgi_inactivity_timeout: int
    wsgi_listen_backlog: int
    # Kept out of repr: a literal value may still be a secret someone put there.
    app_env: dict = field(repr=False)
    releases_kept: int
    health_check_path: str
    static_url: str | None
    static_dir: str
    static_max_age: int
    hsts_max_age: int
    log_dir: str
    http2: bool
    tls_certificate_source: str
    tls_certificate_file: str | None
    tls_chain_file: str | None
    tls_key_file: str | None
    tls_dir: str
    # wsgi_user was "auto": a system user of the app's own, which the deploy creates and,
    # once the site is absent, removes.
    dedicated_user: bool

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> Site:
        dedicated_user = values["wsgi_user"] == "auto"
        user = values["app_name"] if dedicated_user else values["wsgi_user"]
        return cls(
            **{
                **values,
                "app_install_path": f"/srv/{values['app_name']}"
                if values["app_install_path"] == "auto"
                else values["app_install_path"],
                "wsgi_user": user,
                # Debian gives each system user a group of its own name.
                "wsgi_group": user if values["wsgi_group"] == "auto" else values["wsgi_group"],
                "dedicated_user": dedicated_user,
            }
        )

    def control_files(self) -> list[tuple[str, str]]:
        """(setting, path) of the files the site names on the control machine."""
        files = [(key, getattr(self, key)) for key in TLS_FILES if getattr(self, key) is not None]
        if not self.from_git:
            files.insert(0, ("app_source", self.app_source))
        if self.static_url is not None and not self.from_git:
            files.append(("static_dir", self.static_source))
        files += [(f"app_env.{name}", path) for name, path in self._env_sources("from_file")]
        return files

    def control_environment(self) -> list[tuple[str, str]]:
        """(setting, variable) of the control machine's environment variables the site reads."""
        return [(f"app_env.{name}", variable) for name, variable in self._env_sources("from_env")]

    def _env_sources(self, kind: str) -> list[tuple[str, str]]:
        return [
            (name, source[kind]) for name, source in self.app_env.items() if isinstance(source, dict) and kind in source
        ]

    @property
    def env_file(self) -> str:
        """app_env's values on the host, as JSON: the .wsgi file loads them into os.environ."""
        return f"{self.app_install_path}/environment.json"

    @property
    def from_git(self) -> bool:
        return isinstance(self.app_source, dict)

    @property
    def git_cache(self) -> str:
        """A bare repository on the host that fetches keep: later fetches bring only what is new."""
        return f"{self.app_install_path}/git"

    @property
    def static_source(self) -> str:
        """The static folder on the control machine."""
        return f"{self.app_source}/{self.static_dir}"

    @property
    def static_path(self) -> str:
        """Where Apache serves static_url from: the live release's copy, readable by every user."""
        return f"{self.current_dir}/static"

    def names(self) -> list[str]:
        """Every name the site serves, and its certificate must cover: server name first."""
        return [self.server_name, *self.server_aliases]

    # Derived values: one place, so templates and tests agree.

    def daemon_processes(self, cpu_count: int) -> int:
        """wsgi_processes, with "auto" as one per CPU of the host (1 to 64)."""
        if self.wsgi_processes == "auto":
            return min(max(cpu_count, 1), 64)
        return self.wsgi_processes

    @property
    def wsgi_module(self) -> str:
        return self.wsgi_entry.partition(":")[0]

    @property
    def wsgi_callable(self) -> str:
        return self.wsgi_entry.partition(":")[2]

    @property
    def wsgi_script(self) -> str:
        return f"{self.app_install_path}/{self.app_name}.wsgi"

    @property
    def releases_dir(self) -> str:
        return f"{self.app_install_path}/releases"

    @property
    def venvs_dir(self) -> str:
        """One virtualenv per set of requirements, shared by the releases that pin it."""
        return f"{self.app_install_path}/venvs"

    @property
    def current_dir(self) -> str:
        """The link to the live release: everything the daemon and Apache read goes through it."""
        return f"{self.app_install_path}/current"

    @property
    def app_code_dir(self) -> str:
        return f"{self.current_dir}/app"

    @property
    def venv(self) -> str:
        return f"{self.current_dir}/venv"

    @property
    def site_tls_dir(self) -> str:
        return f"{self.tls_dir}/{self.server_name}"

    @property
    def certificate_dir(self) -> str:
        """certbot's lineage for the server name, or our own folder for the other sources."""
        if self.tls_certificate_source == "acme":
            return f"{CERTBOT_LIVE}/{self.server_name}"
        return self.site_tls_dir

    @property
    def certificate_path(self) -> str:
        """Leaf and chain in one file: SSLCertificateChainFile is deprecated since Apache 2.4.8."""
        return f"{self.certificate_dir}/fullchain.pem"

    @property
    def key_path(self) -> str:
        return f"{self.certificate_dir}/privkey.pem"

    @property
    def error_log(self) -> str:
        return f"{self.log_dir}/{self.app_name}-error.log"

    @property
    def access_log(self) -> str:
        return f"{self.log_dir}/{self.app_name}-access.log"

    @property
    def embedded_mode_log(self) -> str:
        """Requests mod_wsgi was asked to run inside Apache's own processes: none, when right."""
        return f"{self.log_dir}/{self.app_name}-embedded-mode.log"


@dataclass(frozen=True)
class Settings:
    """One host's validated settings: the server-wide ones and its sites (group_data/all.py)."""

    sites: tuple[Site, ...]
    server_tokens: str
    server_signature: str
    trace_enable: str
    directory_listings: bool
    htaccess_overrides: bool
    request_body_limit: int
    request_timeout: int
    keepalive_timeout: int
    keepalive_max_requests: int
    mpm_threads_per_child: int
    mpm_max_request_workers: int
    acme_directory_url: str
    acme_email: str | None
    acme_agree_tos: bool
    acme_ca_bundle: str | None
    acme_key_type: str
    apt_cache_time: int
    verify_address: str | None
    verify_http_port: int
    verify_https_port: int
    verify_ca_bundle: str | None
    verify_certificate_min_days: int

    @classmethod
    def from_data(cls, host_name: str, data: dict[str, Any]) -> Settings:
        """Validate a host's merged data; raise SettingsError listing every bad setting."""
        problems = []
        values = {}
        for key in sorted(set(data) - set(SCHEMA)):
            if not PYINFRA_KEY.match(key):
                problems.append(f"unknown setting {key!r} (a typo? every setting is in group_data/all.py)")
        for key, validate in SCHEMA.items():
            if key not in data:
                problems.append(f"setting {key!r} is missing (it belongs in group_data/all.py)")
                continue
            try:
                values[key] = validate(data[key])
            except _Invalid as allowed:
                problems.append(f"setting {key!r} = {data[key]!r} is invalid: expected {allowed}")
        if not problems:
            sites = []
            for index, entry in enumerate(values["sites"]):
                # A bad top-level default is its own setting's problem, reported above.
                label = f"sites[{index}]." if len(values["sites"]) > 1 or entry else ""
                unknown = sorted(set(entry) - set(SITE_KEYS), key=str)
                problems += [
                    f"setting 'sites[{index}]' has {key!r}, which is not a per-site setting (those are: "
                    + ", ".join(SITE_KEYS)
                    + ")"
                    for key in unknown
                ]
                site_values = {key: values[key] for key in SITE_KEYS}
                for key, value in entry.items():
                    if key in SITE_KEYS:
                        try:
                            site_values[key] = SCHEMA[key](value)
                        except _Invalid as allowed:
                            problems.append(
                                f"setting 'sites[{index}].{key}' = {value!r} is invalid: expected {allowed}"
                            )
                if site_values["wsgi_user"] == "auto" and site_values["app_name"] == "root":
                    problems.append(f"setting '{label}app_name' = 'root' would name the daemon user: rename the app")
                if not unknown:
                    problems += _site_problems(label, site_values, entry)
                    sites.append(Site.from_values(site_values))
            if not problems:
                problems = _host_problems(values, sites)
                values["sites"] = tuple(sites)
        if problems:
            raise SettingsError(f"host {host_name}: " + f"\nhost {host_name}: ".join(problems))
        return cls(**{key: values[key] for key in HOST_KEYS})

    def control_files(self) -> list[tuple[str, str]]:
        """(setting, path) of every file the settings name on the control machine."""
        files = self._per_site(Site.control_files)
        if self.acme_ca_bundle is not None:
            files.append(("acme_ca_bundle", self.acme_ca_bundle))
        return files

    def control_environment(self) -> list[tuple[str, str]]:
        """(setting, variable) of every control machine environment variable the sites read."""
        return self._per_site(Site.control_environment)

    def _per_site(self, pairs: Callable[[Site], list[tuple[str, str]]]) -> list[tuple[str, str]]:
        """Each site's (setting, value) pairs, the setting named sites[N].<key> when there are several."""
        several = len(self.sites) > 1
        return [
            (f"sites[{index}].{key}" if several else key, value)
            for index, site in enumerate(self.sites)
            for key, value in pairs(site)
        ]

    @property
    def present_sites(self) -> list[Site]:
        return [site for site in self.sites if site.app_present]

    @property
    def absent_sites(self) -> list[Site]:
        return [site for site in self.sites if not site.app_present]

    def uses_acme(self) -> bool:
        return any(site.tls_certificate_source == "acme" for site in self.present_sites)

    @property
    def directory_options(self) -> str:
        """Options for every directory: never FollowSymLinks, Indexes only if asked for."""
        return "Indexes" if self.directory_listings else "None"

    @property
    def allow_override(self) -> str:
        return "All" if self.htaccess_overrides else "None"


HOST_KEYS = tuple(key for key in SCHEMA if key not in SITE_KEYS)


def validate_inventory(inventory, project: Path) -> dict[str, Settings]:
    """
    Validate every host of a pyinfra inventory; raise one SettingsError listing all
    problems of all hosts, so a bad value anywhere stops the run before any change.
    Files the settings name on the control machine must exist (relative to project).
    """
    settings: dict[str, Settings] = {}
    problems: list[str] = []
    for inventory_host in inventory:
        try:
            host_settings = Settings.from_data(inventory_host.name, inventory_host.data.dict())
        except SettingsError as error:
            problems.append(str(error))
            continue
        for key, path in host_settings.control_files():
            if not (project / path).exists():
                problems.append(
                    f"host {inventory_host.name}: setting {key!r} = {path!r}"
                    f" names no file on the control machine (looked in {project})"
                )
        for key, variable in host_settings.control_environment():
            if variable not in os.environ:
                problems.append(
                    f"host {inventory_host.name}: setting {key!r} reads environment variable {variable},"
                    " which is not set on the control machine"
                )
        settings[inventory_host.name] = host_settings
    if problems:
        raise SettingsError("\n".join(problems))
    return settings

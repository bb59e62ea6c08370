"""
The settings schema: every key of group_data/all.py, its type and its allowed form.

`Settings.from_data` validates one host's merged data (group files, host data, --data)
once, before any operation is built. Every value that reaches an Apache directive, a
file path or a shell word passes a whitelist here first, so a newline, quote or angle
bracket in group_data can never break out of a VirtualHost or a command.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

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
    "server_name": _dns_name,
    "server_aliases": _dns_names,
    "app_name": _identifier,
    "app_source": _local_path,
    "app_install_path": _app_install_path,
    "wsgi_entry": _wsgi_entry,
    "wsgi_user": _unix_name,
    "wsgi_group": _unix_name,
    "wsgi_processes": _auto_or(_int_range(1, 64)),
    "wsgi_threads": _int_range(1, 256),
    "wsgi_queue_timeout": _int_range(0, 3600),
    "wsgi_request_timeout": _int_range(0, 3600),
    "wsgi_graceful_timeout": _int_range(0, 3600),
    "wsgi_inactivity_timeout": _int_range(0, 86400),
    "wsgi_listen_backlog": _int_range(1, 65535),
    "hsts_max_age": _int_range(0, 2 * 365 * 24 * 3600),
    "log_dir": _absolute_path,
    "server_tokens": _choice("Prod", "Major", "Minor", "Minimal", "OS", "Full"),
    "server_signature": _choice("Off", "On", "EMail"),
    "trace_enable": _choice("Off", "On", "extended"),
    "directory_listings": _boolean,
    "htaccess_overrides": _boolean,
    "request_body_limit": _int_range(0, 2**31 - 1),
    "request_timeout": _int_range(1, 3600),
    "keepalive_timeout": _int_range(1, 300),
    "keepalive_max_requests": _int_range(0, 1000000),
    "http2": _boolean,
    "mpm_threads_per_child": _int_range(1, MPM_THREAD_LIMIT),
    "mpm_max_request_workers": _int_range(1, MPM_SERVER_LIMIT * MPM_THREAD_LIMIT),
    "tls_certificate_source": _choice("acme", "files", "selfsigned"),
    "tls_certificate_file": _optional(_local_path),
    "tls_chain_file": _optional(_local_path),
    "tls_key_file": _optional(_local_path),
    "tls_dir": _absolute_path,
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

TLS_FILES = ("tls_certificate_file", "tls_chain_file", "tls_key_file")


def _combination_problems(values: dict[str, Any]) -> list[str]:
    """Settings that are valid alone but not together with the certificate source."""
    source = values["tls_certificate_source"]
    problems = []
    if source == "files":
        problems += [
            f"setting {key!r} is None but tls_certificate_source is 'files': name the file to upload"
            for key in TLS_FILES
            if values[key] is None
        ]
    else:
        problems += [
            f"setting {key!r} = {values[key]!r} is only used when tls_certificate_source is 'files'"
            f" (it is {source!r}): set it to None"
            for key in TLS_FILES
            if values[key] is not None
        ]
    if source == "acme" and not values["acme_agree_tos"]:
        problems.append(
            "setting 'acme_agree_tos' is False but tls_certificate_source is 'acme': read the terms of"
            f" service of {values['acme_directory_url']} and set it to True"
        )
    threads, workers = values["mpm_threads_per_child"], values["mpm_max_request_workers"]
    if workers % threads or workers > MPM_SERVER_LIMIT * threads:
        problems.append(
            f"setting 'mpm_max_request_workers' = {workers} must be a multiple of mpm_threads_per_child"
            f" ({threads}) and at most {MPM_SERVER_LIMIT} times it ({MPM_SERVER_LIMIT * threads})"
        )
    if source != "acme" and values["acme_ca_bundle"] is not None:
        problems.append(
            f"setting 'acme_ca_bundle' = {values['acme_ca_bundle']!r} is only used when"
            f" tls_certificate_source is 'acme' (it is {source!r}): set it to None"
        )
    return problems


@dataclass(frozen=True)
class Settings:
    """One host's validated settings (see group_data/all.py for their meaning)."""

    server_name: str
    server_aliases: tuple[str, ...]
    app_name: str
    app_source: str
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
    hsts_max_age: int
    log_dir: str
    server_tokens: str
    server_signature: str
    trace_enable: str
    directory_listings: bool
    htaccess_overrides: bool
    request_body_limit: int
    request_timeout: int
    keepalive_timeout: int
    keepalive_max_requests: int
    http2: bool
    mpm_threads_per_child: int
    mpm_max_request_workers: int
    tls_certificate_source: str
    tls_certificate_file: str
    tls_chain_file: str
    tls_key_file: str
    tls_dir: str
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
    def from_data(cls, host_name: str, data: dict[str, Any]) -> "Settings":
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
            problems = _combination_problems(values)
        if problems:
            raise SettingsError(f"host {host_name}: " + f"\nhost {host_name}: ".join(problems))
        return cls(**values)

    def control_files(self) -> list[str]:
        """Settings that name files on the control machine (None ones are unused)."""
        return [key for key in ("app_source", *TLS_FILES, "acme_ca_bundle") if getattr(self, key) is not None]

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
    def app_code_dir(self) -> str:
        return f"{self.app_install_path}/app"

    @property
    def venv(self) -> str:
        return f"{self.app_install_path}/venv"

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
    def directory_options(self) -> str:
        """Options for every directory: never FollowSymLinks, Indexes only if asked for."""
        return "Indexes" if self.directory_listings else "None"

    @property
    def allow_override(self) -> str:
        return "All" if self.htaccess_overrides else "None"

    @property
    def error_log(self) -> str:
        return f"{self.log_dir}/{self.app_name}-error.log"

    @property
    def access_log(self) -> str:
        return f"{self.log_dir}/{self.app_name}-access.log"



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
        for key in host_settings.control_files():
            if not (project / getattr(host_settings, key)).exists():
                problems.append(
                    f"host {inventory_host.name}: setting {key!r} = {getattr(host_settings, key)!r}"
                    f" names no file on the control machine (looked in {project})"
                )
        settings[inventory_host.name] = host_settings
    if problems:
        raise SettingsError("\n".join(problems))
    return settings

"""
What a setting's value may be. Each validator returns the value it accepts and raises
`Invalid` naming the allowed form otherwise; its `form` is that text, for the generated
settings reference.

Every value that reaches an Apache directive, a file path or a shell word passes a
whitelist here first, so a newline, quote or angle bracket in group_data can never break
out of a VirtualHost or a command. The patterns are matched with fullmatch: with match,
"$" also matches before a trailing newline.
"""

from __future__ import annotations

import ipaddress
import keyword
import posixpath
import re
import shlex
import urllib.parse
from collections.abc import Callable
from typing import Any

from apache_wsgi_deploy import layout

Validator = Callable[[Any], Any]

DNS_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
DNS_NAME = re.compile(rf"(?=.{{1,253}}$){DNS_LABEL}(\.{DNS_LABEL})*")
IDENTIFIER = re.compile(r"[a-z][a-z0-9_-]{0,31}")
PYTHON_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
UNIX_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
# Path characters that need no quoting in an Apache directive or a shell word.
SAFE_PATH = re.compile(r"[A-Za-z0-9._/@+-]+")
URL_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")
# A request path: "/", or segments of URL_SEGMENT's characters (never "." or "..", which a
# client would resolve away) after each "/", with or without a trailing "/". No query.
REQUEST_PATH = re.compile(r"(?=/)(?:/(?!\.{1,2}(?:/|$))[A-Za-z0-9._~-]+)*/?")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Repository URLs git and the shell take as one word; no credentials in them (they would
# be printed): the host's root authenticates (a deploy key, a credential helper).
_GIT_PATH = r"[A-Za-z0-9._~/+-]*"
GIT_URL = re.compile(
    rf"(?:(?:https|git)://[A-Za-z0-9.-]+(?::[0-9]{{1,5}})?/{_GIT_PATH}"
    rf"|ssh://(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+(?::[0-9]{{1,5}})?/{_GIT_PATH}"
    rf"|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~+-]{_GIT_PATH})"
)
# A branch, tag or commit: never an option ('-'), a range ('..') or a refspec (':').
GIT_REF = re.compile(r"(?!-)(?!.*\.\.)(?!.*\.lock$)[A-Za-z0-9._/-]{1,200}(?<!/)")
# An https URL whose every character is safe in a shell word and an Apache directive.
HTTPS_URL = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")
# fnmatch patterns of file names; one shell command of printable characters, on one line.
NAME_PATTERN = re.compile(r"[A-Za-z0-9._~+*?\[\]-]{1,100}")
COMMAND = re.compile(r"(?=.*\S)[^\x00-\x1f\x7f]{1,1000}")
# A file Apache includes from a *-enabled folder (layout.ENABLED_DIRS), named from /etc/apache2.
ENABLED_ENTRY = re.compile(
    r"(?:mods-enabled/[A-Za-z0-9._~+-]+\.(?:load|conf)|(?:conf|sites)-enabled/[A-Za-z0-9._~+-]+\.conf)"
)
# Printable ASCII but '"', '\' and '%', not starting or ending with a space.
HEADER_VALUE = re.compile(r"(?! )[\x20\x21\x23\x24\x26-\x5b\x5d-\x7e]{1,1000}(?<! )")
EMAIL = re.compile(rf"[A-Za-z0-9._+-]{{1,64}}@{DNS_NAME.pattern}")


class Invalid(ValueError):
    """A validator's complaint about one value: carries the allowed form."""


def allowing(form: str) -> Callable[[Validator], Validator]:
    """Give a validator the allowed form the settings reference shows."""

    def decorate(validate: Validator) -> Validator:
        validate.form = form
        return validate

    return decorate


def matching(pattern: re.Pattern, form: str) -> Validator:
    """A string the whole of which the pattern matches."""

    @allowing(form)
    def validate(value: Any) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise Invalid(form)
        return value

    return validate


dns_name = matching(DNS_NAME, "a DNS name in lower case: labels of a-z, 0-9 and '-' joined by dots")
identifier = matching(IDENTIFIER, "a name of 1-32 characters: a-z first, then a-z, 0-9, '_' or '-'")
unix_name = matching(UNIX_NAME, "a user or group name: a-z or '_' first, then a-z, 0-9, '_' or '-'")
https_url = matching(HTTPS_URL, "an https:// URL of letters, digits and . _ ~ / - (no query, quotes or spaces)")
umask = matching(re.compile(r"0[0-7]{3}"), "a umask of four octal digits such as 0027")
email = matching(EMAIL, "an e-mail address such as ops@example.com (a DNS name after '@')")


@allowing("a list of DNS names")
def dns_names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)):
        raise Invalid(dns_names.form)
    return tuple(dns_name(item) for item in value)


@allowing("True or False")
def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(boolean.form)
    return value


def int_range(low: int, high: int) -> Validator:
    @allowing(f"a whole number from {low} to {high}")
    def validate(value: Any) -> int:
        # bool is an int subclass: True must not pass as 1.
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise Invalid(validate.form)
        return value

    return validate


@allowing("a list of distinct TCP ports such as [9100] (whole numbers from 1 to 65535)")
def port_list(value: Any) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535 for port in value
    ):
        raise Invalid(port_list.form)
    if len(set(value)) < len(value):
        raise Invalid(port_list.form)
    return value


@allowing("a whole number from 1 to 1023 other than 80 and 443")
def instance_port(value: Any) -> int:
    """Below 1024, which only root binds: no other program of the host's users can take it."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1023 or value in (80, 443):
        raise Invalid(instance_port.form)
    return value


def choice(*allowed: str) -> Validator:
    @allowing("one of " + ", ".join(repr(item) for item in allowed))
    def validate(value: Any) -> str:
        if value not in allowed:
            raise Invalid(validate.form)
        return value

    return validate


def choices_list(*allowed: str) -> Validator:
    @allowing("a list of distinct items, each one of " + ", ".join(repr(item) for item in allowed))
    def validate(value: Any) -> list[str]:
        if not isinstance(value, list) or not all(item in allowed for item in value) or len(set(value)) < len(value):
            raise Invalid(validate.form)
        return value

    return validate


def either(special: Any, shown: str, validator: Validator) -> Validator:
    """validator, also accepting `special` (written `shown` in the allowed form)."""

    @allowing(f"{shown} or {validator.form}")
    def validate(value: Any) -> Any:
        if value == special:
            return value
        try:
            return validator(value)
        except Invalid as error:
            raise Invalid(f"{shown} or {error}") from None

    return validate


def auto_or(validator: Validator) -> Validator:
    return either("auto", '"auto"', validator)


def optional(validator: Validator) -> Validator:
    return either(None, "None", validator)


@allowing(
    "one line of printable ASCII such as default-src 'self', without \" \\ or % (a header's value, quoted in Apache's"
    " config)"
)
def header_value(value: Any) -> str:
    """Inside double quotes in a Header directive: mod_headers reads % as a format specifier."""
    if not isinstance(value, str) or not HEADER_VALUE.fullmatch(value):
        raise Invalid(header_value.form)
    return value


@allowing("an absolute path such as /srv/app of letters, digits and . _ / @ + - (normalised, no trailing '/')")
def absolute_path(value: Any) -> str:
    """A path on the host: it reaches Apache directives and shell words unquoted."""
    if not isinstance(value, str) or not SAFE_PATH.fullmatch(value):
        raise Invalid("a path of letters, digits and . _ / @ + - (no spaces or quotes)")
    if not value.startswith("/") or value == "/" or value.endswith("/"):
        raise Invalid("an absolute path such as /srv/app (not '/', no trailing '/')")
    # One spelling a folder: /var/log/. or /var//log would pass as another folder than /var/log.
    normal = posixpath.normpath(value)
    if value != normal:
        raise Invalid(f"a normalised path, without '.', '..' or '//' ({normal!r}?)")
    return value


def _inside(path: str, folders: tuple[str, ...]) -> bool:
    return any(path.startswith(folder.rstrip("/") + "/") for folder in folders)


def folder_of_its_own(certificates: bool = False) -> Validator:
    """A folder the deploy makes, and may remove with its site: never one of the system's
    own folders, nor inside one that holds the system (/etc only for certificates), a
    package manager's, a service's or a user's state (a home)."""
    trees = tuple(tree for tree in layout.SYSTEM_TREES if not (certificates and tree == "/etc"))
    trees += layout.STATE_TREES
    form = (
        "an absolute path of a folder of its own, such as /srv/app: not a system folder (/, /etc, /usr, /var,"
        " /var/lib, /opt, /srv, /home, /tmp...) nor inside " + ", ".join(trees)
    )

    @allowing(form)
    def validate(value: Any) -> str:
        path = absolute_path(value)
        if path in layout.SYSTEM_DIRS or _inside(path, trees):
            raise Invalid(form)
        return path

    return validate


@allowing("an absolute path outside any DocumentRoot (not under /var/www), e.g. /srv/app")
def app_folder(value: Any) -> str:
    """The app's code or its data: never where Apache serves files from."""
    path = absolute_path(value)
    if path in layout.DOCUMENT_ROOTS or _inside(path, layout.DOCUMENT_ROOTS):
        raise Invalid(app_folder.form)
    return folder_of_its_own()(path)


@allowing("a name of 1-32 characters (a-z first, then a-z, 0-9, '_' or '-') that Debian does not use already")
def app_name(value: Any) -> str:
    """It names the site's file, its daemon process group, its logs and its own user."""
    name = identifier(value)
    if name in layout.DEBIAN_APACHE_NAMES or name in layout.DEBIAN_ACCOUNTS:
        raise Invalid(
            f"a name of the app's own, not {name!r}: Debian's Apache or system already has a site, conf, user"
            " or group of that name"
        )
    return name


@allowing("a path on the control machine, relative to the project folder or absolute")
def local_path(value: Any) -> str:
    """Only Python on the control machine reads it."""
    if not isinstance(value, str) or not value or any(ord(char) < 32 for char in value):
        raise Invalid(local_path.form)
    return value


@allowing(
    "module:callable or module:factory() of Python names, such as app:app, myproject.wsgi:application"
    " or flaskr:create_app()"
)
def wsgi_entry(value: Any) -> str:
    """It becomes an import line in the .wsgi file; a factory is called there with no arguments."""
    module, _, name = value.partition(":") if isinstance(value, str) else ("", "", "")
    parts = [*module.split("."), name.removesuffix("()")]
    if not all(PYTHON_NAME.fullmatch(part) and not keyword.iskeyword(part) for part in parts):
        raise Invalid(wsgi_entry.form)
    return value


@allowing("an unprivileged user of the app's own: not root, Apache's own user or a system account")
def daemon_user(value: Any) -> str:
    name = unix_name(value)
    if name == "root":
        raise Invalid("an unprivileged user: a daemon running as root could rewrite its own code")
    if name == layout.APACHE_USER:
        raise Invalid(f"an unprivileged user of the app's own: {name} is Apache's, which could then read its secrets")
    if name in layout.DEBIAN_ACCOUNTS:
        raise Invalid(f"an unprivileged user of the app's own: {name} is a system account of Debian's")
    return name


@allowing("a group of the app's own: not root (gid 0), Apache's group or one that grants privileges (sudo, adm...)")
def daemon_group(value: Any) -> str:
    name = unix_name(value)
    if name in layout.PRIVILEGED_GROUPS:
        raise Invalid(f"a group of the app's own: members of {name} can become root or read the host's secrets")
    if name == layout.APACHE_GROUP:
        raise Invalid(f"a group of the app's own: {name} is Apache's, whose children could then read the code")
    return name


@allowing("a URL path such as /static: '/' then segments of letters, digits and . _ ~ - (no trailing '/')")
def url_path(value: Any) -> str:
    """A URL prefix: it becomes an Alias argument."""
    segments = value.split("/")[1:] if isinstance(value, str) and value.startswith("/") else []
    if not segments or not all(URL_SEGMENT.fullmatch(part) and part not in (".", "..") for part in segments):
        raise Invalid(url_path.form)
    return value


request_path = matching(
    REQUEST_PATH,
    "a path the app serves, such as /health or /admin/login/: '/' then segments of letters, digits and"
    " . _ ~ - (a trailing '/' allowed; no '.' or '..' segment, no query string)",
)


@allowing("a folder inside app_source such as static: names of letters, digits and . _ ~ - joined by '/'")
def relative_dir(value: Any) -> str:
    parts = value.split("/") if isinstance(value, str) else []
    if not parts or not all(URL_SEGMENT.fullmatch(part) and part not in (".", "..") for part in parts):
        raise Invalid(relative_dir.form)
    return value


@allowing(
    'a dict of environment variable names to a string, {"from_env": "VARIABLE"}, {"from_file": "path"}'
    ' or {"from_command": "program args"}'
)
def app_env(value: Any) -> dict:
    """Literal strings, or where to read each value on the control machine."""
    if not isinstance(value, dict):
        raise Invalid('a dict of environment variables, e.g. {"SECRET_KEY": {"from_env": "SHOP_SECRET_KEY"}}')
    for name, source in value.items():
        if not isinstance(name, str) or not ENV_NAME.fullmatch(name):
            raise Invalid("environment variable names of letters, digits and '_', not starting with a digit")
        if (isinstance(source, str) and "\0" not in source) or _control_source(source):
            continue
        raise Invalid(f"for {name}: a string, {CONTROL_SOURCES}")
    return value


CONTROL_SOURCES = (
    '{"from_env": "VARIABLE"} (the control machine\'s environment), {"from_file": "path"} (a file on the'
    ' control machine, best outside the repository) or {"from_command": "program args"} (what a program run'
    " on the control machine prints, such as op read op://vault/item/field)"
)


def command_words(command: str | list) -> list[str]:
    """The program and arguments a from_command source runs (no shell): a list as it is,
    a string split as a shell would split it, without expanding anything."""
    return command if isinstance(command, list) else shlex.split(command)


def _command(reference: Any) -> bool:
    """Whether reference is a program and its arguments: a list of words, or one string of them."""
    if isinstance(reference, str):
        try:
            words = command_words(reference)
        except ValueError:
            return False
    elif isinstance(reference, list) and all(isinstance(word, str) for word in reference):
        words = reference
    else:
        return False
    return bool(words) and bool(words[0]) and not any("\0" in word for word in words)


def _control_source(source: Any) -> bool:
    """Whether source names where on the control machine a value is read:
    {"from_env": "VARIABLE"}, {"from_file": "path"} (a path it checks) or
    {"from_command": "program args"}."""
    kind, reference = next(iter(source.items())) if isinstance(source, dict) and len(source) == 1 else (None, None)
    if kind == "from_file" and isinstance(reference, str):
        local_path(reference)
        return True
    if kind == "from_command":
        return _command(reference)
    return kind == "from_env" and isinstance(reference, str) and bool(ENV_NAME.fullmatch(reference))


SECRET_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@allowing(
    'a dict of file names to {"from_file": "path"}, {"from_env": "VARIABLE"} or {"from_command": "program args"},'
    ' e.g. {"htpasswd": {...}}'
)
def secret_files(value: Any) -> dict:
    """Where to read each file's content on the control machine."""
    if not isinstance(value, dict):
        raise Invalid(secret_files.form)
    for name, source in value.items():
        if not isinstance(name, str) or not SECRET_FILE_NAME.fullmatch(name):
            raise Invalid("file names of letters, digits and . _ - (not starting with '.' or '-'), such as htpasswd")
        if not _control_source(source):
            raise Invalid(f"for {name}: {CONTROL_SOURCES}")
    return value


@allowing("a list of file name patterns such as .git or *.pyc (letters, digits and . _ - ~ + * ? [ ])")
def name_patterns(value: Any) -> list[str]:
    """fnmatch patterns, each matched against every name of a path."""
    if not isinstance(value, list) or not all(isinstance(item, str) and NAME_PATTERN.fullmatch(item) for item in value):
        raise Invalid(name_patterns.form)
    return value


@allowing("a list of folder names at the top of the app's code, such as instance (letters, digits and . _ ~ -)")
def code_folders(value: Any) -> list[str]:
    """Each names a folder of a release: one name, never '.', '..' or a path."""
    names = value if isinstance(value, list) else [None]
    if not all(isinstance(name, str) and URL_SEGMENT.fullmatch(name) and name not in (".", "..") for name in names):
        raise Invalid(code_folders.form)
    if len(set(names)) < len(names):
        raise Invalid("a list of distinct folder names")
    return value


@allowing("a list of absolute folders such as /mnt/shop-data (normalised, letters, digits and . _ / @ + -)")
def folder_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise Invalid(folder_list.form)
    try:
        return [absolute_path(item) for item in value]
    except Invalid:
        raise Invalid(folder_list.form) from None


@allowing("a list of files as <kind>-enabled/<file>, such as sites-enabled/monitoring.conf (kind: mods, conf or sites)")
def enabled_entries(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(
        isinstance(item, str) and ENABLED_ENTRY.fullmatch(item) for item in value
    ):
        raise Invalid(enabled_entries.form)
    return value


@allowing("a shell command, one line, such as pg_dump --format=custom shop")
def command(value: Any) -> str:
    """One argument of `sh -c` on the host, quoted."""
    if not isinstance(value, str) or not COMMAND.fullmatch(value):
        raise Invalid(command.form)
    return value


@allowing("a list of shell commands, each one line, such as python manage.py migrate --noinput")
def commands(value: Any) -> list[str]:
    """Each is one argument of `sh -c` on the host, quoted."""
    if not isinstance(value, list) or not all(isinstance(item, str) and COMMAND.fullmatch(item) for item in value):
        raise Invalid(commands.form)
    return value


@allowing("a list of IP addresses or networks, such as ['203.0.113.7', '10.0.0.0/8', '2001:db8::/32']")
def networks(value: Any) -> list[str]:
    """Each becomes an Apache expression's -R operand, quoted: only what ipaddress reads."""
    if not isinstance(value, list):
        raise Invalid(networks.form)
    for item in value:
        try:
            if not isinstance(item, str) or item != item.strip():
                raise ValueError(item)
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise Invalid(networks.form) from None
    return value


# What `awd deploy` and `awd rollback` tell a host's hooks and webhook, in the order they come.
HOOK_EVENTS = ("started", "succeeded", "failed", "rolled_back")


@allowing(
    "a dict of events (started, succeeded, failed, rolled_back) to lists of shell commands, each one line, such as"
    ' {"succeeded": ["./notify.sh"]}'
)
def hooks(value: Any) -> dict[str, list[str]]:
    """Each command is one argument of `sh -c` on the control machine."""
    if not isinstance(value, dict) or not set(value) <= set(HOOK_EVENTS):
        raise Invalid(hooks.form)
    for event, listed in value.items():
        try:
            commands(listed)
        except Invalid:
            raise Invalid(f"for {event}: {commands.form}") from None
    return value


@allowing("an http:// or https:// URL, such as https://hooks.slack.com/services/T0/B0/XXXX")
def webhook_url(value: Any) -> str:
    """Only the control machine's Python posts to it: never a shell word nor a config line."""
    try:
        parsed = urllib.parse.urlsplit(value) if isinstance(value, str) and COMMAND.fullmatch(value) else None
        valid = parsed is not None and parsed.scheme in ("http", "https") and bool(parsed.hostname) and parsed.port != 0
    except ValueError:  # a port out of range, a bracketed host that is no IPv6 address
        valid = False
    if not valid or " " in value:
        raise Invalid(webhook_url.form)
    return value


@allowing('a folder on the control machine, or {"git": "<repository URL>", "ref": "<branch, tag or commit>"}')
def app_source(value: Any) -> str | dict:
    if not isinstance(value, dict):
        return local_path(value)
    if set(value) != {"git", "ref"} or not isinstance(value["git"], str) or not isinstance(value["ref"], str):
        raise Invalid('a folder, or {"git": "<repository URL>", "ref": "<branch, tag or commit>"}')
    if not GIT_URL.fullmatch(value["git"]):
        raise Invalid("a git URL: https://, git://, ssh:// or user@host:path, without credentials, quotes or spaces")
    if not GIT_REF.fullmatch(value["ref"]):
        raise Invalid("a git ref: a branch, tag or commit of letters, digits and . _ / - (no '..', no leading '-')")
    return value


@allowing('a non-empty list of dicts, one per site, e.g. [{}] or [{}, {"app_name": "blog", ...}]')
def sites(value: Any) -> list[dict]:
    """The shape only: each entry's keys and values are validated as the settings they name."""
    if not isinstance(value, list) or not value or not all(isinstance(entry, dict) for entry in value):
        raise Invalid(sites.form)
    return value

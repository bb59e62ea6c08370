"""
Facts about Apache on Debian/Ubuntu, read from the a2enmod/a2ensite/a2enconf layout.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TypedDict

from pyinfra.api import FactBase

from apache_wsgi_deploy.facts.fingerprint import MARK_RACY, entries
from apache_wsgi_deploy.host_tools import apacheconf
from apache_wsgi_deploy.layout import (
    ACCOUNT_FILES,
    APACHE_DIR,
    APACHE_MODULES_DIR,
    APACHE_PROGRAMS,
    APACHE_SERVICE,
    DPKG_STATUS,
    ENABLED_DIRS,
    HOST_TOOL_PYTHON,
    INSTANCE_TOKEN,
    instance_file,
    instance_service,
)

APACHE_CONF = Path(apacheconf.__file__).read_text()

KINDS = ("mods", "sites", "conf")


class ApacheLinksDict(TypedDict):
    modules: dict[str, bool]
    sites: dict[str, str | None]
    confs: dict[str, str | None]


class ApacheLinks(FactBase[ApacheLinksDict | None]):
    """
    Returns which Apache modules, sites and conf snippets are enabled, in one command.

    A module counts as enabled only when every file it has in mods-available (``.load``
    and, if present, ``.conf``) is linked in mods-enabled: a half-enabled module is the
    classic ``a2enmod`` drift. Sites and confs map to the target of their link in
    ``*-enabled`` ("" for a plain file), or None when only available. Returns None when
    Apache is not installed yet.

    .. code:: python

        {
            "modules": {"ssl": True, "wsgi": False},
            "sites": {"000-default": "../sites-available/000-default.conf", "flaskapp": None},
            "confs": {"security": "../conf-available/security.conf"},
        }
    """

    @staticmethod
    def default() -> None:
        return None

    def requires_command(self) -> str:
        return "a2enmod"

    def command(self) -> str:
        folders = " ".join(f"{kind}-available {kind}-enabled" for kind in KINDS)
        return (
            f"cd {APACHE_DIR} && find {folders} -mindepth 1 -maxdepth 1"
            " \\( -name '*.load' -o -name '*.conf' \\) -printf '%p\\t%l\\n'"
        )

    def process(self, output: list[str]) -> ApacheLinksDict:
        available: dict[str, set[str]] = {kind: set() for kind in KINDS}
        enabled: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
        for line in output:
            path, _, link = line.partition("\t")
            folder, _, filename = path.partition("/")
            kind, _, state = folder.rpartition("-")
            if kind not in KINDS:
                continue
            if state == "available":
                available[kind].add(filename)
            elif state == "enabled":
                enabled[kind][filename] = link

        modules: dict[str, bool] = {}
        for filename in available["mods"]:
            module = filename.rsplit(".", 1)[0]
            linked = filename in enabled["mods"]
            modules[module] = modules.get(module, True) and linked

        return {
            "modules": modules,
            "sites": _link_targets(available["sites"], enabled["sites"]),
            "confs": _link_targets(available["conf"], enabled["conf"]),
        }


def _link_targets(available: set[str], enabled: dict[str, str]) -> dict[str, str | None]:
    """Name (without .conf) -> link target in *-enabled, or None when only available."""
    names = {filename for filename in available | set(enabled) if filename.endswith(".conf")}
    return {filename[: -len(".conf")]: enabled.get(filename) for filename in names}


class EnabledFiles(FactBase[dict[str, list[str]]]):
    """
    Returns every file Apache includes from mods-enabled, conf-enabled and sites-enabled
    (``*.load`` and ``*.conf`` of mods, ``*.conf`` of the others, as Debian's apache2.conf
    includes them), links or not, by folder kind.

    .. code:: python

        {"mods": ["ssl.conf", "ssl.load"], "conf": ["hardening.conf"], "sites": ["flaskapp.conf"]}
    """

    @staticmethod
    def default() -> dict[str, list[str]]:
        return {kind: [] for kind in ENABLED_DIRS}

    def requires_command(self) -> str:
        return "a2enmod"

    def command(self) -> str:
        folders = " ".join(f"{kind}-enabled" for kind in ENABLED_DIRS)
        return f"cd {APACHE_DIR} && find {folders} -mindepth 1 -maxdepth 1 ! -type d -print"

    def process(self, output: list[str]) -> dict[str, list[str]]:
        found = self.default()
        for line in output:
            folder, _, filename = line.partition("/")
            kind = folder.removesuffix("-enabled")
            if filename.rpartition(".")[2] in ENABLED_DIRS.get(kind, ()):
                found[kind].append(filename)
        return {kind: sorted(filenames) for kind, filenames in found.items()}


def first_error(output: list[str]) -> str | None:
    """What a failing configtest says first: the error, with the line that says what is
    wrong there."""
    # AH00558 (no global ServerName) is a warning configtest prints when it passes too.
    errors = [line.strip() for line in output if line.strip() and "AH00558" not in line]
    if not errors:
        return None
    # "Syntax error on line 1 of <file>:" is followed by what is wrong there.
    return " ".join(errors[:2]) if errors[0].endswith(":") and len(errors) > 1 else errors[0]


class EffectiveConfig(FactBase[dict | None]):
    """
    Returns what Apache runs with, as Apache parsed the files on disk
    (``host_tools/apacheconf.py``: mod_info's DUMP_CONFIG, loaded for that run only): every
    directive in every file it includes, with its line and the sections around it, the
    modules it loads, the variables of envvars, and which of Debian's conffiles are as
    shipped; or, when its configtest fails, why. None when Apache is not installed.

    .. code:: python

        {"error": None, "modules": ["ssl_module"], "variables": {"APACHE_LOG_DIR": "/var/log/apache2"},
         "stock": {"/etc/apache2/apache2.conf": True},
         "directives": [["/etc/apache2/apache2.conf", 98, [], "KeepAlive On"]]}
    """

    @staticmethod
    def default() -> None:
        return None

    def requires_command(self) -> str:
        return "apache2ctl"

    def command(self, confdir: str = APACHE_DIR) -> str:
        """confdir: another instance's folder (an app's own Apache, /etc/apache2-<app_name>)."""
        mod_info = f"{APACHE_MODULES_DIR}/mod_info.so"
        return f"{HOST_TOOL_PYTHON} -c {shlex.quote(APACHE_CONF)} {mod_info} {shlex.quote(confdir)}"

    def fingerprint(self, kept: list[str], confdir: str = APACHE_DIR) -> str:
        """What the answer is read from (facts/fingerprint.py): the instance's folder,
        Apache's modules and programs, dpkg's records and the accounts, and what its last
        answer said it read from elsewhere (host_tools/apacheconf.py's "watched"), each
        file there read through a link as Apache reads it. A failing configtest says no
        more than its first error: racy, as is what apacheconf.py cannot follow."""
        watched = {"trees": [], "entries": [], "racy": False}
        if kept:
            try:
                watched = json.loads("\n".join(kept))["watched"]
            except (ValueError, KeyError, TypeError):
                return MARK_RACY
        if watched["racy"] or not all(path.startswith("/") for path in watched["trees"] + watched["entries"]):
            return MARK_RACY
        tops = [confdir, APACHE_MODULES_DIR, *APACHE_PROGRAMS, DPKG_STATUS, *ACCOUNT_FILES, *watched["trees"]]
        command = entries(" ".join(map(shlex.quote, tops)))
        if watched["entries"]:
            command += "; " + entries(" ".join(map(shlex.quote, watched["entries"])), each=True)
        return command

    def process(self, output: list[str]) -> dict:
        config = json.loads("\n".join(output))
        config.pop("watched", None)
        if config["error"] is not None:
            config["error"] = first_error(config["error"]) or "apache2ctl -t failed"
        return config


# The first line of every vhosts file templates/site.conf.j2 renders.
SITE_MARKER = "# Managed by apache-wsgi-deploy"


class ManagedSites(FactBase[list[str]]):
    """
    Returns the sites in sites-available whose vhosts file a deploy of this project wrote
    (it starts with the marker line), enabled or not.

    .. code:: python

        ["blog", "flaskapp"]
    """

    @staticmethod
    def default() -> list[str]:
        return []

    def requires_command(self) -> str:
        return "a2ensite"

    def command(self) -> str:
        return f"cd {APACHE_DIR}/sites-available && grep -l '^{SITE_MARKER}' -- *.conf 2>/dev/null || true"

    def process(self, output: list[str]) -> list[str]:
        return sorted(filename[: -len(".conf")] for filename in output if filename.endswith(".conf"))


# Run by the host's python3: one HTTPS request to Apache on the host itself, for the
# site's name (SNI and Host), not verifying the certificate (the verification suite does).
_ASK = """
import socket, ssl, sys
name, path = sys.argv[1:3]
context = ssl.create_default_context()
context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
try:
    with socket.create_connection(("127.0.0.1", 443), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            tls.sendall(f"GET {path} HTTP/1.1\\r\\nHost: {name}\\r\\nConnection: close\\r\\n\\r\\n".encode())
            print(tls.recv(200).split(b"\\r\\n")[0].decode(errors="replace"))
except OSError as error:
    print(f"no answer: {error}")
"""


class SiteAnswer(FactBase[str]):
    """
    Returns what Apache on the host answers to ``GET <path>`` over HTTPS for a site's
    name: its status line (``HTTP/1.1 200 OK``), or ``no answer: <error>``.
    """

    @staticmethod
    def command(server_name: str, path: str) -> str:
        return f"python3 -c {shlex.quote(_ASK)} {shlex.quote(server_name)} {shlex.quote(path)}"

    @staticmethod
    def process(output: list[str]) -> str:
        return output[0] if output else "no answer"


class ApacheServiceDict(TypedDict):
    active: bool
    enabled: bool
    # The most tasks systemd lets the unit run; None when it sets no limit.
    tasks_max: int | None


# What a unit's state is read from, in one systemctl; starting at boot, as pyinfra's
# SystemdEnabled reads it: a unit enabled only under /run (enabled-runtime) would not
# start at the next boot.
UNIT_STATE = "-p ActiveState -p UnitFileState"
ENABLED_STATES = ("enabled", "static")


def _shown(output: list[str]) -> dict[str, str]:
    """systemctl show's properties, by name."""
    return dict(line.split("=", 1) for line in output if "=" in line)


def _runs(shown: dict[str, str]) -> bool:
    return shown.get("ActiveState") in ("active", "reloading")


def _starts_at_boot(shown: dict[str, str]) -> bool:
    return shown.get("UnitFileState") in ENABLED_STATES


class ApacheService(FactBase[ApacheServiceDict]):
    """
    Returns whether Apache's unit runs (active, or reloading), starts at boot, and its
    TasksMax: one systemctl for what the capacity check and the service operation ask.

    .. code:: python

        {"active": True, "enabled": True, "tasks_max": 28909}
    """

    @staticmethod
    def command() -> str:
        return f"systemctl show {UNIT_STATE} -p TasksMax {APACHE_SERVICE} 2>/dev/null; true"

    @staticmethod
    def process(output: list[str]) -> ApacheServiceDict:
        shown = _shown(output)
        tasks_max = shown.get("TasksMax", "").strip()
        return {
            "active": _runs(shown),
            "enabled": _starts_at_boot(shown),
            "tasks_max": int(tasks_max) if tasks_max.isdigit() else None,
        }


class InstanceDict(TypedDict):
    active: bool
    enabled: bool
    token: bool


class Instance(FactBase[InstanceDict]):
    """
    Returns whether a site's own Apache instance (apache2@<app_name>) runs, starts at boot,
    and has its front token, in one command.

    .. code:: python

        {"active": True, "enabled": True, "token": True}
    """

    @staticmethod
    def default() -> InstanceDict:
        return {"active": False, "enabled": False, "token": False}

    def command(self, app_name: str) -> str:
        service = shlex.quote(instance_service(app_name))
        token = shlex.quote(instance_file(app_name, INSTANCE_TOKEN))
        return f"systemctl show {UNIT_STATE} {service} 2>/dev/null; test -s {token} && echo token; true"

    def process(self, output: list[str]) -> InstanceDict:
        shown = _shown(output)
        return {"active": _runs(shown), "enabled": _starts_at_boot(shown), "token": "token" in output}

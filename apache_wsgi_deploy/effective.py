"""
Apache's effective configuration (facts.apache.EffectiveConfig: every directive Apache
runs with, in every context, and the modules it loads) held against what the deploy
declares plus Debian's stock configuration. What neither declares is judged by the
verification suite (does it open a way from a URL to a file or a port, weaken TLS, leak,
or change how the daemons run?) and, outside the deploy's own files (whose edits are
their diffs), reported by the drift check with its file and line.

Debian's stock configuration is the packages' own: a conffile as dpkg installed it (its
md5) is stock whole; in one edited by hand, each directive is held against the
catalogue of what Debian's apache2 and libapache2-mod-wsgi-py3 ship (stock.json, made by
tests/stock_catalogue.py from both suites' packages).
"""

from __future__ import annotations

import functools
import json
import re
import shlex
from typing import NamedTuple

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.host_tools.apacheconf import available_name
from apache_wsgi_deploy.project import shipped

STOCK_CATALOGUE = "stock.json"

# Sections Apache decides as it reads (mod_info's dump shows what they hold, not them).
READ_TIME_SECTIONS = re.compile(r"^<(IfModule|IfDefine|IfVersion|IfFile|IfDirective|IfSection)\b", re.IGNORECASE)
VARIABLE = re.compile(r"\$\{(\w+)\}")
# Modules built into Debian's apache2-bin: loaded by no LoadModule.
STATIC_MODULES = ("core", "so", "watchdog", "http", "log_config", "logio", "version", "unixd")


class Directive(NamedTuple):
    file: str
    line: int
    context: tuple[str, ...]
    text: str

    def __str__(self) -> str:
        within = "".join(f"{section} " for section in self.context)
        return f"{self.file}:{self.line}: {within}{self.text}"


def normalized(text: str) -> str:
    return " ".join(text.split())


def parse(text: str) -> list[tuple[tuple[str, ...], str]]:
    """The directives of a config file's text, as mod_info's dump shows them: each with
    the sections around it, but those decided as Apache reads (<IfModule>...)."""
    found, context, read_time = [], [], []
    joined = re.sub(r"\\\n", " ", text)
    for line in joined.splitlines():
        line = normalized(line)
        if not line or line.startswith("#"):
            continue
        if line.startswith("</"):
            if read_time and read_time[-1] == len(context):
                read_time.pop()
            elif context:
                context.pop()
        elif line.startswith("<"):
            if READ_TIME_SECTIONS.match(line):
                read_time.append(len(context))
            else:
                context.append(line)
        else:
            found.append((tuple(context), line))
    return found


def expanded(text: str, variables: dict[str, str]) -> str:
    """${NAME} replaced as Apache does, for a name it defines from envvars."""
    return VARIABLE.sub(lambda match: variables.get(match.group(1), match.group(0)), text)


@functools.cache
def stock_catalogue() -> dict[str, list[list[str]]]:
    """Conffile -> its directives as Debian ships them, each as [section, ..., text]."""
    return json.loads((shipped("data") / STOCK_CATALOGUE).read_text())


def expanded_entry(context, line: str, variables: dict[str, str]) -> tuple[tuple[str, ...], str]:
    """A directive and its sections as the dump shows them: variables expanded."""
    return tuple(expanded(section, variables) for section in context), expanded(line, variables)


def stock_entries(variables: dict[str, str]) -> set[tuple[str, tuple[str, ...], str]]:
    return {
        (path, *expanded_entry(entry[:-1], entry[-1], variables))
        for path, listed in stock_catalogue().items()
        for entry in listed
    }


def directives(config: dict) -> list[Directive]:
    return [
        Directive(path, line, tuple(normalized(section) for section in context), normalized(text))
        for path, line, context, text in config["directives"]
    ]


def entries(text: str, variables: dict[str, str]) -> set[tuple[tuple[str, ...], str]]:
    """A config file's directives (parse) as the dump shows them: variables expanded."""
    return {expanded_entry(context, line, variables) for context, line in parse(text)}


def undeclared(config: dict, declared: dict[str, str], left_out: set[str]) -> list[Directive]:
    """The directives Apache runs with that are in neither a file of the deploy's as it
    declares it (declared: by its link in *-enabled -> its content) nor a conffile as
    Debian ships it, nor in the stock catalogue for the conffile they are in. left_out:
    files reported otherwise (an accepted foreign conf, the vhosts of a site not in `sites`)."""
    variables = config["variables"]
    ours = {path: entries(text, variables) for path, text in declared.items()}
    stock = stock_entries(variables)
    found = []
    for directive in directives(config):
        if directive.file in left_out or config["stock"].get(directive.file):
            continue
        if directive.file in ours:
            known = (directive.context, directive.text) in ours[directive.file]
        else:
            known = (available_name(directive.file), directive.context, directive.text) in stock
        if not known:
            found.append(directive)
    return found


def undeclared_modules(config: dict, declared: set[str], debian_defaults: bool = True) -> list[str]:
    """The modules Apache loads that neither the deploy (declared, by a2enmod name) nor
    Debian enables (but in an app's own instance: debian_defaults False), nor Apache
    builds in."""
    defaults = layout.DEBIAN_DEFAULT_MODULES if debian_defaults else ()
    known = {f"{name}_module" for name in (*declared, *defaults, *STATIC_MODULES)}
    return sorted(module for module in config["modules"] if module not in known)


def left_out(settings, managed_sites: list[str]) -> set[str]:
    """The files reported otherwise: the foreign confs the settings accept
    (expected_foreign_entries), and the vhosts of a site of ours not in `sites`."""
    declared = {site.app_name for site in settings.sites}
    undeclared_sites = {layout.site_link(name) for name in managed_sites if name not in declared}
    return {f"{layout.APACHE_DIR}/{entry}" for entry in settings.expected_foreign_entries} | undeclared_sites


def declared_modules(settings) -> set[str]:
    """The modules the deploy enables when its settings ask for them, and those enabled by
    hand that the settings accept (mods-enabled/<name>.load in expected_foreign_entries)."""
    accepted = {
        entry.removeprefix("mods-enabled/").removesuffix(".load")
        for entry in settings.expected_foreign_entries
        if entry.startswith("mods-enabled/") and entry.endswith(".load")
    }
    return {*layout.APACHE_MODULES, layout.HTTP2_MODULE, *layout.PROXY_MODULES, *accepted}


# What maps a URL onto something other than the app besides an Alias: a proxy to a port,
# a CGI folder, a file by a regular expression, a rewrite (a substitution or [P]).
ROUTE_DIRECTIVES = ("ProxyPass", "ProxyPassMatch", "ScriptAlias", "ScriptAliasMatch", "AliasMatch", "RewriteRule")
MATCHING = ("ProxyPassMatch", "ScriptAliasMatch", "AliasMatch", "RewriteRule")
REGEX_SYNTAX = set(".^$*+?{}[]\\|()")


def literal_prefix(pattern: str) -> str | None:
    """The URL path every match of a regular expression starts with ("^/admin/(.*)$":
    "/admin/"), when it names more than "/"; else None: no one URL tells what it serves."""
    prefix = ""
    for character in pattern.removeprefix("^"):
        if character in REGEX_SYNTAX:
            break
        prefix += character
    return prefix if prefix.startswith("/") and prefix != "/" else None


def words(directive: Directive) -> list[str]:
    """A directive's name and arguments, quotes removed ([] for a quote left open)."""
    try:
        return shlex.split(directive.text)
    except ValueError:
        return []


def aliases(config: dict) -> list[dict]:
    """Every `Alias URL-path folder` Apache runs with, with its file: the folders a
    request can reach outside the app (with `WSGIScriptAlias /`, the only way to a file
    besides the routes below).

    .. code:: python

        [{"url": "/icons/", "folder": "/usr/share/apache2/icons/", "file": "/etc/apache2/mods-enabled/alias.conf"}]
    """
    found = []
    for directive in directives(config):
        named = words(directive)
        if len(named) == 3 and named[0].lower() == "alias":
            found.append({"url": named[1], "folder": named[2], "file": directive.file})
    return found


def routes(config: dict) -> list[dict]:
    """Every other route from a URL to something but the app that Apache runs with, with
    its file and line: ProxyPass, ScriptAlias, and AliasMatch, ProxyPassMatch,
    ScriptAliasMatch and RewriteRule by the URL path each regular expression starts with.
    Left out: a route excluding a path (``ProxyPass /x !``), one inside a <Location> (no
    URL of its own), and one whose expression names no path beyond "/".

    .. code:: python

        [{"directive": "ProxyPass", "url": "/admin/", "file": "/etc/apache2/conf-enabled/admin.conf", "line": 3}]
    """
    canonical = {name.lower(): name for name in ROUTE_DIRECTIVES}
    found = []
    for directive in directives(config):
        named = words(directive)
        name = canonical.get(named[0].lower()) if named else None
        if name is None or len(named) < 3 or named[2] == "!":
            continue
        url = literal_prefix(named[1]) if name in MATCHING else named[1]
        if url:
            found.append({"directive": name, "url": url, "file": directive.file, "line": directive.line})
    return found


def own_files(settings) -> set[str]:
    """The files Apache includes that the deploy writes, by their links in *-enabled: its
    confs and the vhosts of its sites."""
    return {layout.conf_link(conf) for conf in layout.OWN_CONFS} | {
        layout.site_link(site.app_name) for site in settings.sites
    }


def findings(config: dict, settings, managed_sites: list[str]) -> list[str]:
    """What the drift check and a deploy report: each directive and each module
    undeclared, but in the deploy's own files, whose edits its diffs show and it puts back."""
    found = undeclared(config, {}, left_out(settings, managed_sites) | own_files(settings))
    modules = undeclared_modules(config, declared_modules(settings))
    return [str(directive) for directive in found] + [f"module {module} is loaded" for module in modules]


def _named(*names: str) -> frozenset[str]:
    return frozenset(name.lower() for name in names)


# What a directive does, by its name: the verification suite's judgment of one the deploy
# does not declare. The rest (a language, an icon, a MIME type) is the drift check's.
ROUTES, TLS, LEAKS, DAEMONS = "routes", "tls", "leaks", "daemons"
JUDGED = {
    ROUTES: _named(
        "Alias", "AliasMatch", "ScriptAlias", "ScriptAliasMatch", "ProxyPass", "ProxyPassMatch", "ProxyRemote",
        "ProxyRemoteMatch", "ProxyPassReverse", "RewriteRule", "RewriteEngine", "RewriteBase", "SetHandler",
        "AddHandler", "Action", "Script", "DocumentRoot", "UserDir", "Options", "Require", "Allow", "Satisfy",
        "AllowOverride", "AllowOverrideList", "WSGIScriptAlias", "WSGIScriptAliasMatch", "FallbackResource",
        "Listen", "Dav", "ServerName", "ServerAlias", "ProxyRequests", "AllowCONNECT", "AcceptPathInfo",
        "Redirect", "RedirectMatch", "RedirectPermanent", "RedirectTemp", "Deny", "Order", "ForceType",
        # Who the client is, which decides what Require ip grants.
        "RemoteIPHeader", "RemoteIPInternalProxy", "RemoteIPInternalProxyList", "RemoteIPTrustedProxy",
        "RemoteIPTrustedProxyList", "RemoteIPProxyProtocol",
    ),
    TLS: frozenset(),  # every SSL* directive
    LEAKS: _named(
        "LogLevel", "DumpIOInput", "DumpIOOutput", "LogFormat", "CustomLog", "TransferLog", "ErrorLog",
        "ErrorLogFormat", "ForensicLog", "ServerTokens", "ServerSignature", "TraceEnable", "Header",
        "RequestHeader", "ExtendedStatus", "FileETag", "ServerAdmin", "ErrorDocument", "WSGIPassAuthorization",
        "IndexOptions", "ContentDigest", "ProxyVia", "ProxyAddHeaders", "ProxyPreserveHost",
    ),
    DAEMONS: _named(
        "KeepAlive", "KeepAliveTimeout", "MaxKeepAliveRequests", "Timeout", "RequestReadTimeout", "StartServers",
        "ServerLimit", "ThreadsPerChild", "ThreadLimit", "MaxRequestWorkers", "MaxClients",
        "MaxConnectionsPerChild", "MaxRequestsPerChild", "MinSpareThreads", "MaxSpareThreads", "MinSpareServers",
        "MaxSpareServers", "User", "Group", "LimitRequestBody", "LimitRequestFields", "LimitRequestFieldSize",
        "LimitRequestLine", "LimitXMLRequestBody", "HostnameLookups", "EnableSendfile", "EnableMMAP",
        "ListenBacklog", "Protocols", "GracefulShutdownTimeout", "AsyncRequestWorkerFactor",
        "CoreDumpDirectory", "PidFile", "RLimitCPU", "RLimitMEM", "RLimitNPROC", "MaxMemFree", "ThreadStackSize",
        "SetEnv", "UnsetEnv", "PassEnv",
    ),
}  # fmt: skip


def name_of(directive: Directive) -> str:
    return directive.text.split(" ", 1)[0].lower()


def judged(found: list[Directive]) -> dict[str, list[Directive]]:
    """Each of JUDGED's kinds -> the directives of found that do that."""
    kinds: dict[str, list[Directive]] = {kind: [] for kind in JUDGED}
    for directive in found:
        name = name_of(directive)
        kind = next((kind for kind, names in JUDGED.items() if name in names), None)
        if kind is None and name.startswith("ssl"):
            kind = TLS
        elif kind is None and name.startswith(("wsgi", "h2")):
            kind = DAEMONS
        if kind:
            kinds[kind].append(directive)
    return kinds

"""
What Apache runs with, as Apache itself parsed it: `apache2ctl -t` with mod_info's
DUMP_CONFIG (loaded for this run only: every directive in every file it includes, with
its line and the sections around it, <IfModule> and <IfDefine> already decided) and
DUMP_MODULES. Prints one JSON object:

    {"error": [lines] or null, "modules": ["ssl_module", ...],
     "variables": {"APACHE_LOG_DIR": "/var/log/apache2", ...},
     "stock": {file: true/false}, "directives": [[file, line, [section, ...], text], ...],
     "watched": {"trees": [folder], "entries": [path], "racy": false}}

"stock" says, for each file that is a conffile of Debian's apache2 or libapache2-mod-*
packages (by its name in *-available, for a link in *-enabled), whether it is as the
package shipped it (dpkg's md5). A value given with Define (a secret token) is shown as
the ${NAME} that refers to it, never as itself. Standard library only: the deploy and the
verification suite send it to the host's python3 (`python3 -c`).

    python3 apacheconf.py /usr/lib/apache2/modules/mod_info.so [/etc/apache2-<instance>]

"watched" says what else than the instance's folder, the modules and Debian's records
the answer was read from, for the fact's fingerprint (facts/fingerprint.py): files
included from elsewhere, the folders an Include reads from, the files configtest opens
(mod_ssl's, a module loaded from elsewhere); "racy" when that cannot be told (an Include
through a wildcard folder or an unknown variable, a ServerRoot, a VirtualHost by name,
which configtest resolves).

The second argument names another instance's folder (APACHE_CONFDIR, as apache2ctl
takes it): an app's own Apache.
"""

import hashlib
import json
import os
import re
import subprocess
import sys

APACHE_DIR = "/etc/apache2"
IN_FILE = re.compile(r"^# In file: (.+)$")
AT_LINE = re.compile(r"^\s*#\s*(\d+):$")
INCLUDED = re.compile(r"^\s+\(.+?\) (/.+)$")
LOADED = re.compile(r"^ (\w+) \((?:static|shared)\)$")
DEFINE = re.compile(r"^\s*Define\s+(\S+)\s+\"?(.*?)\"?\s*$", re.IGNORECASE)
ALREADY_LOADED = "AH01574: module info_module is already loaded"
INCLUDE = re.compile(r"^[ \t]*Include(?:Optional)?[ \t]+(.+?)[ \t]*$", re.IGNORECASE | re.MULTILINE)
WILDCARD = re.compile(r"[*?\[]")
VARIABLE = re.compile(r"\$\{(\w+)\}")
# Directives whose files configtest opens as it reads them (mod_ssl checks each), or loads.
OPENED_AT_TEST = re.compile(r"^(SSL\w*(File|Path)|LoadModule|LoadFile)$", re.IGNORECASE)
# A VirtualHost address that needs no name lookup: *, _default_, or an IP address.
ADDRESS = re.compile(r"^(\*|_default_|[\d.]+|\[[\da-fA-F:.]+\])(:(\d+|\*))?$")
# Shorter values (On, 1) would be replaced wherever they appear; a secret is longer.
SHORTEST_REDACTED = 8


def apache2ctl(mod_info: str, confdir: str):
    return subprocess.run(
        ["apache2ctl", "-t", "-D", "DUMP_INCLUDES", "-D", "DUMP_CONFIG", "-D", "DUMP_MODULES",
         "-C", f"LoadModule info_module {mod_info}"],
        capture_output=True, text=True, env={**os.environ, "APACHE_CONFDIR": confdir},
    )  # fmt: skip


def apache_variables(confdir: str) -> dict:
    """What apache2ctl exports from envvars, which the dump shows expanded."""
    shown = subprocess.run(
        ["env", "-i", f"APACHE_CONFDIR={confdir}", "sh", "-c", f". {confdir}/envvars && env"],
        capture_output=True,
        text=True,
    ).stdout
    pairs = (line.partition("=") for line in shown.splitlines())
    return {name: value for name, _, value in pairs if name.startswith("APACHE_")}


def defined_values(files) -> dict:
    """Value -> ${NAME}, for each Define in the files Apache includes."""
    found = {}
    for path in files:
        try:
            with open(path, errors="replace") as opened:
                for line in opened:
                    match = DEFINE.match(line)
                    if match and len(match.group(2)) >= SHORTEST_REDACTED:
                        found[match.group(2)] = f"${{{match.group(1)}}}"
        except OSError:
            continue
    return found


def shipped_md5s() -> dict:
    """Conffile -> the md5 of its content as Debian's Apache packages shipped it."""
    listed = subprocess.run(
        ["dpkg-query", "-W", "-f=${Conffiles}\n", "apache2", "libapache2-mod-*"], capture_output=True, text=True
    ).stdout
    found = {}
    for line in listed.splitlines():
        words = line.split()
        if len(words) == 2 and words[0].startswith(APACHE_DIR + "/"):
            found[words[0]] = words[1]
    return found


def available_name(path: str) -> str:
    """/etc/apache2/mods-enabled/ssl.conf -> /etc/apache2/mods-available/ssl.conf."""
    folder, _, name = path.rpartition("/")
    return f"{folder[: -len('-enabled')]}-available/{name}" if folder.endswith("-enabled") else path


def is_shipped(path: str, md5s: dict) -> bool:
    shipped = md5s.get(available_name(path))
    try:
        with open(path, "rb") as opened:
            return shipped == hashlib.md5(opened.read()).hexdigest()
    except OSError:
        return False


def parse(stdout: str):
    """The dump's three parts: included files, directives, loaded modules."""
    included, directives, modules = [], [], []
    path, line, context = None, 0, []
    for raw in stdout.splitlines():
        if match := IN_FILE.match(raw):
            path, context = match.group(1), []
        elif match := AT_LINE.match(raw):
            line = int(match.group(1))
        elif match := LOADED.match(raw):
            modules.append(match.group(1))
        elif path is None:
            if match := INCLUDED.match(raw):
                included.append(match.group(1))
        elif raw.strip().startswith("</"):
            context = context[:-1]
        elif raw.strip().startswith("<"):
            context = [*context, raw.strip()]
        elif raw.strip() and not raw.startswith("Loaded Modules"):
            directives.append([path, line, list(context), raw.strip()])
    return included, directives, modules


def under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def watched(confdir: str, included: list, directives: list, variables: dict) -> dict:
    """What the answer was read from beyond confdir (its whole tree is fingerprinted): each
    file included from elsewhere or through a link, read through it."""
    trees, racy = set(), False
    entries = {path for path in included if not under(path, confdir) or os.path.realpath(path) != path}
    if "APACHE_HTTPD" in variables:  # another Apache program than Debian's
        entries.add(variables["APACHE_HTTPD"])
    known = {**variables, "APACHE_CONFDIR": confdir}
    for path in included:
        try:
            with open(path, errors="replace") as opened:
                text = opened.read().replace("\\\n", " ")
        except OSError:
            continue
        for pattern in INCLUDE.findall(text):
            pattern = VARIABLE.sub(lambda match: known.get(match.group(1), match.group(0)), pattern.strip("\"'"))
            resolved = os.path.normpath(os.path.join(confdir, pattern))
            folder, _, last = resolved.rpartition("/")
            if VARIABLE.search(pattern) or WILDCARD.search(folder):
                racy = True
                continue
            # A folder whose files match the wildcard, or a file or folder Apache reads whole.
            read = folder or "/" if WILDCARD.search(last) else resolved
            if under(read, confdir) and os.path.realpath(read) == read:
                continue
            (entries if read != resolved else trees).add(read)
    for _, _, sections, text in directives:
        name, _, arguments = text.partition(" ")
        if name.lower() == "serverroot":
            racy = True
        elif OPENED_AT_TEST.match(name):
            entries.update(word.strip('"') for word in arguments.split() if word.strip('"').startswith("/"))
        for section in sections:
            if section.lower().startswith("<virtualhost "):
                addresses = section[len("<virtualhost ") :].rstrip(">").split()
                racy = racy or not all(ADDRESS.match(address.strip('"')) for address in addresses)
    return {"trees": sorted(trees), "entries": sorted(entries), "racy": racy}


def main(mod_info: str, confdir: str = APACHE_DIR) -> dict:
    ran = apache2ctl(mod_info, confdir)
    if ran.returncode != 0:
        return {"error": (ran.stderr + ran.stdout).splitlines()}
    included, directives, modules = parse(ran.stdout)
    if ALREADY_LOADED not in ran.stderr:  # loaded here only for the dump
        modules.remove("info_module")
    secrets = defined_values(included)
    for directive in directives:
        for value, name in secrets.items():
            directive[3] = directive[3].replace(value, name)
            directive[2] = [section.replace(value, name) for section in directive[2]]
    md5s = shipped_md5s()
    files = {directive[0] for directive in directives}
    variables = apache_variables(confdir)
    return {
        "error": None,
        "modules": modules,
        "variables": variables,
        "stock": {path: is_shipped(path, md5s) for path in sorted(files) if available_name(path) in md5s},
        "directives": directives,
        "watched": watched(confdir, included, directives, variables),
    }


if __name__ == "__main__":
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    print(json.dumps(main(*sys.argv[1:])))

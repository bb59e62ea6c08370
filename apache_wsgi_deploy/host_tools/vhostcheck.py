"""
The check run on the host before every reload, after configtest: no name (ServerName or
ServerAlias) is claimed by two VirtualHosts on one port, ours or not. Apache answers such
a name from the first it read and never from the other, without a word: a renamed site's
old vhost goes on serving the old app while the deploy of the new one "converges". Reads
`apache2ctl -S`; a VirtualHost without a ServerName has the host's name there. Standard
library only.

    python3 vhostcheck.py

Prints one line per name claimed twice; exit status 1 if any.
"""

import re
import subprocess
import sys

# `apache2ctl -S`, below "VirtualHost configuration:": per address, one vhost alone
#   *:443                  www.example.com (/etc/apache2/sites-enabled/shop.conf:15)
# or several by name, each followed by its aliases
#   *:80                   is a NameVirtualHost
#            default server www.example.com (/etc/apache2/sites-enabled/shop.conf:5)
#            port 80 namevhost www.example.com (/etc/apache2/sites-enabled/shop.conf:5)
#                    alias example.com
#                    wild alias *.example.com
# (a vhost alone on its address is listed without its aliases).
ALONE = re.compile(r"^\S+:(?P<port>\d+|\*)\s+(?P<name>\S+) \((?P<where>.+:\d+)\)$")
BY_NAME = re.compile(r"^\s+port (?P<port>\d+|\*) namevhost (?P<name>\S+) \((?P<where>.+:\d+)\)$")
ALIAS = re.compile(r"^\s+(?:wild )?alias (?P<name>\S+)$")


def claims(dump: str) -> dict[tuple[str, str], list[str]]:
    """{(port, name): the VirtualHosts (file:line) claiming it, in Apache's order} from
    `apache2ctl -S`. A vhost on two addresses of one port claims its names once."""
    found: dict[tuple[str, str], list[str]] = {}
    port = where = None
    for line in dump.splitlines():
        vhost = ALONE.match(line) or BY_NAME.match(line)
        alias = ALIAS.match(line)
        if vhost:
            port, where = vhost["port"], vhost["where"]
            name = vhost["name"]
        elif alias and where is not None:
            name = alias["name"]
        else:
            where = None  # aliases follow their vhost's line only
            continue
        claimed = found.setdefault((port, name.lower()), [])
        if where not in claimed:
            claimed.append(where)
    return found


def problems(dump: str) -> list[str]:
    """Each name two VirtualHosts claim on one port, naming both."""
    found = []
    for (port, name), where in claims(dump).items():
        if len(where) < 2:
            continue
        count, fix = ("two", "disable one") if len(where) == 2 else (len(where), "disable all but one")
        listing = ", ".join(where[:-1]) + " and " + where[-1]
        found.append(
            f"{name} on port {port} is served by {count} VirtualHosts: {listing}: {fix} (a renamed site's old vhost?)"
        )
    return found


def main() -> int:
    dump = subprocess.run(["apache2ctl", "-S"], capture_output=True, text=True)
    if dump.returncode:
        print(dump.stderr.strip() or dump.stdout.strip(), file=sys.stderr)
        return 1
    found = problems(dump.stdout)
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

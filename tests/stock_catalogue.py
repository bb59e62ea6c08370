"""
Writes apache_wsgi_deploy/data/stock.json, the catalogue of Debian's stock Apache
configuration (apache_wsgi_deploy.effective), from deployed test hosts of each suite:
every conffile of apache2 and libapache2-mod-* under /etc/apache2, as dpkg installed it
(its md5 checked), parsed as mod_info's dump shows it. Entries of all hosts are merged.
test_whole_server checks that the catalogue holds each suite's.

    python -m tests.stock_catalogue "ssh -F .testhosts/awd-test/ssh_config awd-test-1" ...
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

from apache_wsgi_deploy import effective
from apache_wsgi_deploy.project import shipped

# Each unmodified conffile, then its text, separated by a line no config holds.
SEPARATOR = "\x1e"
LIST = f"""
dpkg-query -W -f='${{Conffiles}}\\n' apache2 'libapache2-mod-*' | while read -r path md5 rest; do
  case "$path" in /etc/apache2/*) ;; *) continue ;; esac
  [ -z "$rest" ] && [ -f "$path" ] && [ "$(md5sum < "$path" | cut -d' ' -f1)" = "$md5" ] || continue
  printf '{SEPARATOR}%s\\n' "$path"; cat "$path"
done
"""


def conffiles(ssh: str) -> dict[str, str]:
    shown = subprocess.run([*shlex.split(ssh), LIST], capture_output=True, text=True, check=True).stdout
    found = {}
    for part in shown.split(SEPARATOR)[1:]:
        path, _, text = part.partition("\n")
        found[path] = text
    return found


def entries(ssh: str) -> dict[str, set[tuple[str, ...]]]:
    """Each unmodified conffile on the host -> its directives, each as (section, ..., text)."""
    return {
        path: {(*context, line) for context, line in effective.parse(text)} for path, text in conffiles(ssh).items()
    }


def main(hosts: list[str]) -> None:
    catalogue: dict[str, set[tuple[str, ...]]] = {}
    for ssh in hosts:
        for path, found in entries(ssh).items():
            catalogue.setdefault(path, set()).update(found)
    written = {path: sorted(map(list, entries)) for path, entries in sorted(catalogue.items()) if entries}
    target = shipped("data") / effective.STOCK_CATALOGUE
    # One directive a line: a new Debian release's changes read as a diff.
    files = [
        f"{json.dumps(path)}: [\n" + ",\n".join(f"  {json.dumps(entry)}" for entry in entries) + "\n]"
        for path, entries in written.items()
    ]
    target.write_text("{\n" + ",\n".join(files) + "\n}\n")
    print(f"{target}: {sum(map(len, written.values()))} directives of {len(written)} conffiles")


if __name__ == "__main__":
    main(sys.argv[1:])

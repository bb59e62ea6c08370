"""What the deploy made on the host, as it recorded there (layout.MADE_RECORD), and what
is at each of those paths now: one command, asked once by a no-change rerun for every
folder and file the settings name."""

from __future__ import annotations

import shlex
from typing import TypedDict

from pyinfra.api import FactBase

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.facts.files import STATED, stated

# Before its first line, the fact's answer says which record it read: the host's, none
# (the deploy never ran there), or none on a host an earlier version deployed (its tools
# are there), whose folders it made before it kept a record.
RECORD, NONE, EARLIER = "record", "none", "earlier"
SEPARATOR = "--"


class Entry(TypedDict):
    role: str
    app_name: str | None
    # The owner and mode a folder had when the deploy took it over ("user group mode").
    adopted: str | None


class StateDict(TypedDict):
    kind: str
    user: str
    group: str
    mode: int


class MadeAnswer(TypedDict):
    record: dict[str, Entry]
    earlier: bool
    states: dict[str, StateDict | None]


def entry_line(path: str, entry: Entry) -> str:
    """A record line: path, role, app name (- for the host's own) and the owner and mode
    a folder had before it was taken over (-), tab-separated."""
    return "\t".join([path, entry["role"], entry["app_name"] or "-", entry["adopted"] or "-"])


class MadeOnHost(FactBase[MadeAnswer]):
    """
    Returns the deploy's record and what is at each path it holds, itself (a link is not
    followed): kind (``file``, ``directory``, ``link``, ``other``), owner, group and mode,
    or None.

    .. code:: python

        {"record": {"/srv/blog": {"role": "app", "app_name": "blog", "adopted": None}},
         "earlier": False,
         "states": {"/srv/blog": {"kind": "directory", "user": "root", "group": "blog", "mode": 0o751}}}
    """

    @staticmethod
    def command() -> str:
        record, tools = shlex.quote(layout.MADE_RECORD), shlex.quote(layout.TOOLS_DIR)
        return (
            f"if [ -f {record} ]; then echo {RECORD}; cat {record};"
            f" elif [ -d {tools} ]; then echo {EARLIER}; else echo {NONE}; fi; echo {SEPARATOR};"
            # One stat for every path the record holds (the first field of each line); a
            # path with nothing there prints no line.
            f" if [ -f {record} ]; then set --; while IFS='\t' read -r path rest; do"
            f' [ -z "$path" ] || set -- "$@" "$path"; done < {record};'
            f' [ "$#" = 0 ] || stat -c "%n\t{STATED}" -- "$@" 2>/dev/null || true; fi'
        )

    @staticmethod
    def process(output: list[str]) -> MadeAnswer:
        end = output.index(SEPARATOR)
        record: dict[str, Entry] = {}
        for line in output[1:end]:
            fields = line.split("\t")
            if len(fields) == 4:
                path, role, app_name, adopted = fields
                record[path] = {
                    "role": role,
                    "app_name": None if app_name == "-" else app_name,
                    "adopted": None if adopted == "-" else adopted,
                }
        states: dict[str, StateDict | None] = dict.fromkeys(record)
        for line in output[end + 1 :]:
            path, _, status = line.partition("\t")
            if status:
                states[path] = stated(status)
        return {"record": record, "earlier": output[0] == EARLIER, "states": states}

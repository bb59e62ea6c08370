"""awd init [DIR]: a team's project folder, ready to edit."""

from __future__ import annotations

import sys
from pathlib import Path

from apache_wsgi_deploy.project import shipped

HELP = "write a project folder: inventory.py, group_data/web_servers.py, deploy.py, .gitignore"
# What init writes, and the shipped file each comes from.
FILES = {
    "inventory.py": "inventory.py",
    "group_data/web_servers.py": "group_data/web_servers.py",
    "deploy.py": "deploy.py",
    ".gitignore": "gitignore",
}


def add_arguments(parser) -> None:
    parser.add_argument("folder", metavar="DIR", nargs="?", default=".", help="where (default: the current folder)")


def init(folder: Path) -> list[str]:
    """Write the project's files into folder, leaving any that exists as it is; what was written."""
    written = []
    for name, source in FILES.items():
        target = folder / name
        if target.exists():
            print(f"awd init: {target} exists, left as it is", file=sys.stderr)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((shipped("scaffold") / source).read_text())
        written.append(name)
    return written


def run(args, extra: list[str]) -> int:
    folder = Path(args.folder)
    written = init(folder)
    for name in written:
        print(f"wrote {folder / name}")
    print(
        "Next: list your servers in inventory.py (or start a local test host: awd testhost up),"
        " set what differs from the defaults in group_data/web_servers.py, then awd deploy and awd verify."
    )
    return 0

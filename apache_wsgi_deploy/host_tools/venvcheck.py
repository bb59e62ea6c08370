"""
A virtualenv's files against what pip installed: every file a distribution's RECORD
lists, its sha256 where RECORD gives one (pip gives none for the bytecode it compiles
and for RECORD itself), and every file in site-packages and bin/ that no RECORD lists
and venv did not make (a .pth file that every start of the app imports, a module).
Prints one JSON object: {"modified": {dist: [path]}, "missing": {dist: [path]}, "extra":
[path]}, paths relative to the virtualenv. Standard library only: the drift check and
the verification suite send it to the host's python3 (`python3 -c`).

    python3 venvcheck.py /srv/shop/venvs/<digest>
"""

import base64
import csv
import glob
import hashlib
import json
import os
import sys

# What `python3 -m venv` makes in bin/ besides what pip installs (and lists).
VENV_OWN = ("python", "python3", "activate", "activate.csh", "activate.fish", "Activate.ps1")


def digest(path: str) -> str | None:
    """The file's sha256 as RECORD gives it; None for a symbolic link or what cannot be
    read as a file (one open, no separate stat: the check reads every file pip listed)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        hashed = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            hashed.update(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return base64.urlsafe_b64encode(hashed.digest()).rstrip(b"=").decode()


def files_under(top: str) -> set:
    """Every file below top, as os.walk lists them (not following links to folders)."""
    return {os.path.join(folder, name) for folder, _, files in os.walk(top) for name in files}


def check(venv: str) -> dict:
    modified, missing, listed = {}, {}, set()
    site_packages = glob.glob(f"{venv}/lib/python3*/site-packages")
    present = set().union(*(files_under(site) for site in site_packages))
    for site in site_packages:
        for info in sorted(os.listdir(site)):
            if not info.endswith(".dist-info"):
                continue
            distribution = info[: -len(".dist-info")]
            try:
                with open(os.path.join(site, info, "RECORD"), newline="") as record:
                    rows = [row for row in csv.reader(record) if row]
            except OSError:
                missing.setdefault(distribution, []).append(os.path.join(site, info, "RECORD"))
                continue
            for row in rows:
                path = os.path.normpath(os.path.join(site, row[0]))
                listed.add(path)
                hashed = row[1] if len(row) > 1 else ""
                if path not in present and not os.path.lexists(path):
                    missing.setdefault(distribution, []).append(path)
                elif hashed.startswith("sha256=") and digest(path) != hashed[7:]:
                    modified.setdefault(distribution, []).append(path)
    extra = list(present - listed)
    made = {os.path.join(venv, "bin", name) for name in VENV_OWN} | set(glob.glob(f"{venv}/bin/python3.*"))
    bin_dir = os.path.join(venv, "bin")
    if os.path.isdir(bin_dir):
        extra += [path for name in os.listdir(bin_dir) if (path := os.path.join(bin_dir, name)) not in listed | made]

    def relative(paths: list[str]) -> list[str]:
        return sorted(os.path.relpath(path, venv) for path in paths)

    return {
        "modified": {name: relative(paths) for name, paths in modified.items()},
        "missing": {name: relative(paths) for name, paths in missing.items()},
        "extra": relative(extra),
    }


if __name__ == "__main__":
    print(json.dumps(check(sys.argv[1]), sort_keys=True))

"""
Facts about the host's Python and its virtualenvs, read from files and links: `pip
freeze` starts an interpreter and pip for the same answer, about 280 ms of host CPU a run.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from pyinfra.api import FactBase

from apache_wsgi_deploy.facts.fingerprint import RACY, RACY_FD, entries
from apache_wsgi_deploy.host_tools import venvcheck
from apache_wsgi_deploy.layout import HOST_PYTHON, HOST_TOOL_PYTHON

VENV_MARKER = "venv"
# Cannot be a dist-info folder's name, which always holds a "-".
PINS_MARKER = ":pins"
FILES_MARKER = ":files"
VENV_CHECK = Path(venvcheck.__file__).read_text()
# In each virtualenv: the pins it was last made to hold exactly, one per line.
VENV_PINS = "requirements.txt"
# awk: RACY for each RECORD path in quotes, or naming a file outside the virtualenv (its only output).
RECORD_OUTSIDE = (
    'NF { path = $1; sub(/^[.][.]\\/[.][.]\\/[.][.]\\//, "", path)'
    f' }} path ~ /^[\\/"]/ || path ~ /(^|\\/)[.][.](\\/|$)/ {{ print "{RACY}" }}'
)
# Debian's python3 package makes /usr/bin/python3 a link to the versioned interpreter.
VERSIONED_INTERPRETER = re.compile(r"/python(\d+\.\d+)$")


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them: Flask, flask and FLASK are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def distribution(dist_info_name: str) -> tuple[str, str]:
    """A dist-info folder's name ("Flask-3.1.3") as (name, version)."""
    name, _, version = dist_info_name.rpartition("-")
    return name, version


class Virtualenv(FactBase[dict | None]):
    """
    Returns what a virtualenv holds: its distributions (normalised name -> version, from
    each ``<name>-<version>.dist-info`` folder pip leaves), the pins the deploy last made
    it hold exactly (its ``requirements.txt``, None before any), and its files against
    the RECORD of each distribution (``host_tools/venvcheck.py``, run by the host's
    python3 in isolated mode: the virtualenv's own .pth files never run); None when the
    path holds no virtualenv (no ``bin/python``).

    .. code:: python

        {"distributions": {"flask": "3.1.3", "pip": "25.1.1"}, "pins": ["Flask==3.1.3"],
         "files": {"modified": {"Flask-3.1.3": ["lib/python3.13/site-packages/flask/app.py"]},
                   "missing": {}, "extra": ["lib/python3.13/site-packages/evil.pth"]}}
    """

    @staticmethod
    def command(venv: str) -> str:
        quoted, pins = shlex.quote(venv), shlex.quote(f"{venv}/{VENV_PINS}")
        return (
            f"if [ -x {quoted}/bin/python ]; then echo {VENV_MARKER};"
            f" for info in {quoted}/lib/python3*/site-packages/*.dist-info; do"
            ' if [ -d "$info" ]; then basename "$info" .dist-info; fi; done;'
            f" if [ -f {pins} ]; then echo {PINS_MARKER}; cat {pins}; fi;"
            f" echo {FILES_MARKER}; {HOST_TOOL_PYTHON} -c {shlex.quote(VENV_CHECK)} {quoted}; fi"
        )

    @staticmethod
    def fingerprint(kept: list[str], venv: str) -> str:
        """What the answer is read from (facts/fingerprint.py): every entry of the
        virtualenv, and the interpreter its bin/python leads to (the command tests that it
        runs). A RECORD that lists a file outside it (pip's own paths climb out of
        site-packages by exactly ../../../, into the virtualenv), a RECORD path in quotes,
        and a link to a folder (but venv's own lib64) would have the check read outside
        what is fingerprinted: each is racy."""
        quoted, lib64 = shlex.quote(venv), shlex.quote(f"{venv}/lib64")
        return (
            f"{entries(quoted, f'-type l -xtype d ! -path {lib64}')};"
            f" {entries(shlex.quote(f'{venv}/bin/python'), each=True)};"
            f" for site in {quoted}/lib/python3*/site-packages; do"
            f' awk -F, {shlex.quote(RECORD_OUTSIDE)} "$site"/*.dist-info/RECORD >&{RACY_FD}; done'
        )

    @staticmethod
    def process(output: list[str]) -> dict | None:
        if not output or output[0] != VENV_MARKER:
            return None
        at_files = output.index(FILES_MARKER)
        listed, pins, files = output[1:at_files], None, json.loads(output[at_files + 1])
        if PINS_MARKER in listed:
            at = listed.index(PINS_MARKER)
            listed, pins = listed[:at], [line for line in listed[at + 1 :] if line]
        distributions = {}
        for line in listed:
            name, version = distribution(line)
            distributions[normalise(name)] = version
        return {"distributions": distributions, "pins": pins, "files": files}


class HostPython(FactBase[str | None]):
    """
    Returns the version (major.minor) of the host's ``/usr/bin/python3``, from the
    versioned interpreter it links to, or None without one (no python3 yet).

    .. code:: python

        "3.13"
    """

    @staticmethod
    def command() -> str:
        return f"readlink -e {HOST_PYTHON} || true"

    @staticmethod
    def process(output: list[str]) -> str | None:
        match = VERSIONED_INTERPRETER.search(output[0]) if output else None
        return match.group(1) if match else None

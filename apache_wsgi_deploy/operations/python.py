"""
A virtualenv that holds exactly its pinned requirements, compared with the host by one fact.
"""

from __future__ import annotations

import re

from pyinfra import host
from pyinfra.api import OperationValueError, QuoteString, StringCommand, operation

from apache_wsgi_deploy.facts.python import VENV_PINS, Virtualenv, distribution, normalise

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.!+_-]+)$")
# What a virtualenv is made with: kept as it was made unless pinned, never upgraded on the side.
VENV_TOOLS = ("pip", "setuptools", "wheel")


@operation()
def venv_requirements(requirements: list[str], venv: str, python: str):
    """
    Make a virtualenv from this Python hold exactly these pinned requirements: each at
    its version, installed without its dependencies (the pins name them all, which
    ``pip check`` then proves), and nothing else but the tools it was made with; every
    file as pip installed it (a distribution whose files differ from its RECORD is
    installed again, a file no distribution installed is removed).

    + requirements: ``name==version`` pins (every dependency included)
    + venv: absolute path of the virtualenv on the host
    + python: the interpreter that creates it when it is missing

    Only the pins that differ from what is installed are passed to pip; what no pin
    names is uninstalled. The pins are recorded in the virtualenv (requirements.txt)
    once it holds them, for the verification suite.

    **Example:**

    .. code:: python

        python.venv_requirements(requirements=["Flask==3.1.3"], venv="/srv/app/venv",
                                 python="/usr/bin/python3")
    """
    pins = []
    for requirement in requirements:
        match = PIN.fullmatch(requirement)
        if not match:
            raise OperationValueError(f"not a name==version pin: {requirement!r}")
        pins.append((requirement, normalise(match.group(1)), match.group(2)))
    found = host.get_fact(Virtualenv, venv=venv)
    if found is None:
        yield StringCommand(QuoteString(python), "-m", "venv", QuoteString(venv))
        found = {"distributions": {}, "pins": None, "files": {"modified": {}, "missing": {}, "extra": []}}
    installed, wanted = found["distributions"], {name for _, name, _ in pins}
    missing = [requirement for requirement, name, version in pins if installed.get(name) != version]
    extra = sorted(name for name in installed if name not in wanted and name not in VENV_TOOLS)
    # A kept distribution whose files differ from its RECORD is installed again, at its version.
    damaged = sorted(
        f"{name}=={version}"
        for name, version in map(distribution, {**found["files"]["modified"], **found["files"]["missing"]})
        if normalise(name) in wanted | set(VENV_TOOLS) and installed.get(normalise(name)) == version
    )
    stray_files = found["files"]["extra"]
    recorded = sorted(requirements)
    if not missing and not extra and not damaged and not stray_files and found["pins"] == recorded:
        host.noop(f"{venv} holds exactly its {len(pins)} pinned requirements, as pip installed them")
        return
    pip = QuoteString(f"{venv}/bin/pip")
    if stray_files:
        # What no distribution installed: a .pth file every start of the app imports, a module.
        yield StringCommand("rm", "-f", "--", *(QuoteString(f"{venv}/{path}") for path in stray_files))
    if extra:
        yield StringCommand(pip, "uninstall", "--yes", "--quiet", *map(QuoteString, extra))
    install = (pip, "install", "--quiet", "--disable-pip-version-check", "--no-deps")
    if missing:
        yield StringCommand(*install, *map(QuoteString, missing))
    if damaged:
        yield StringCommand(*install, "--force-reinstall", *map(QuoteString, damaged))
    # pip check says which requirement a pinned distribution needs and no pin names.
    yield StringCommand(
        pip,
        "check",
        "--disable-pip-version-check",
        ">&2",
        "||",
        "{ echo 'the pins leave out what the requirements above need: pin those too' >&2; exit 1; }",
    )
    pins_file = QuoteString(f"{venv}/{VENV_PINS}")
    listed = QuoteString("\n".join(recorded) + "\n")
    yield StringCommand(
        "printf",
        "%s",
        listed,
        ">",
        QuoteString(f"{venv}/{VENV_PINS}.new"),
        "&&",
        "mv",
        "-f",
        QuoteString(f"{venv}/{VENV_PINS}.new"),
        pins_file,
    )

"""
A virtualenv that holds pinned requirements, compared with the host by one fact.
"""

from __future__ import annotations

import re

from pyinfra import host
from pyinfra.api import OperationValueError, QuoteString, StringCommand, operation

from apache_wsgi_deploy.facts.python import VenvDistributions, normalise

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.!+_-]+)$")


@operation()
def venv_requirements(requirements: list[str], venv: str, python: str):
    """
    Make a virtualenv from this Python hold these pinned requirements.

    + requirements: ``name==version`` pins (every dependency included)
    + venv: absolute path of the virtualenv on the host
    + python: the interpreter that creates it when it is missing

    Only the pins that differ from what is installed are passed to pip.

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
    installed = host.get_fact(VenvDistributions, venv=venv)
    if installed is None:
        yield StringCommand(QuoteString(python), "-m", "venv", QuoteString(venv))
        installed = {}
    missing = [requirement for requirement, name, version in pins if installed.get(name) != version]
    if not missing:
        host.noop(f"{venv} holds {len(pins)} pinned requirements")
        return
    yield StringCommand(
        QuoteString(f"{venv}/bin/pip"),
        "install",
        "--quiet",
        "--disable-pip-version-check",
        *(QuoteString(requirement) for requirement in missing),
    )

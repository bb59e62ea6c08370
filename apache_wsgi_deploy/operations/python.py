"""
A virtualenv that holds pinned requirements, compared with the host by one fact.
"""

from __future__ import annotations

import re
import shlex

from pyinfra import host
from pyinfra.api import OperationValueError, QuoteString, StringCommand, operation

from apache_wsgi_deploy.facts.files import FileState
from apache_wsgi_deploy.facts.python import VenvDistributions, normalise

# In a virtualenv release_venv made: pip finished installing its requirements.
COMPLETE = ".complete"

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


# The [project] dependencies of a pyproject.toml, one per line, as a requirements file.
PYPROJECT_DEPENDENCIES = (
    "import sys, tomllib; print('\\n'.join(tomllib.load(open(sys.argv[1], 'rb'))"
    ".get('project', {}).get('dependencies', [])))"
)


@operation()
def release_venv(release: str, venvs: str, python: str):
    """
    Link a release's ``venv`` to the virtualenv of its requirements, made on the host
    for their content, only when no earlier release had the same.

    + release: the release folder; the requirements are ``app/requirements.txt``, or else
      the ``[project]`` dependencies of ``app/pyproject.toml``
    + venvs: the folder of virtualenvs, each named by a requirements file's digest
    + python: the interpreter that creates a virtualenv (and reads pyproject.toml)

    For code that reaches the host without the control machine reading it (git): the
    requirements are read where they are. A virtualenv counts once pip finished in it.
    """
    if host.get_fact(FileState, path=f"{release}/venv/{COMPLETE}") is not None:
        host.noop(f"{release} has its virtualenv")
        return
    folder, python = shlex.quote(release), shlex.quote(python)
    requirements = shlex.quote(f"{release}/requirements.txt")
    yield (
        f"if [ -f {folder}/app/requirements.txt ]; then cp {folder}/app/requirements.txt {requirements};"
        f" else {python} -c {shlex.quote(PYPROJECT_DEPENDENCIES)} {folder}/app/pyproject.toml > {requirements}; fi"
        # Public like the virtualenv it names; the code's own copy is the app's group's.
        f" && chmod 644 {requirements}"
    )
    venv = f'{shlex.quote(venvs)}/"$digest"'
    yield (
        f"digest=$(sha1sum < {requirements} | cut -c1-12) && {{ [ -e {venv}/{COMPLETE} ] || {{ rm -rf {venv} &&"
        f" {python} -m venv {venv} && {venv}/bin/pip install --quiet --disable-pip-version-check"
        f' -r {requirements} && touch {venv}/{COMPLETE}; }}; }} && ln -sfn "../../venvs/$digest" {folder}/venv'
    )

"""The virtualenv fact reads pip's dist-info folders and the pins recorded; unpinned requirements are refused."""

import subprocess
import sys

import pytest
from pyinfra.api import OperationValueError

from apache_wsgi_deploy.facts.python import Virtualenv
from tests.unit.harness import LocalHost, run_operation

CLEAN = {"modified": {}, "missing": {}, "extra": []}


def read(venv) -> dict | None:
    return LocalHost().get_fact(Virtualenv, venv=str(venv))


def test_distributions_are_read_from_dist_info_folders(tmp_path):
    venv = tmp_path / "venv"
    assert read(venv) is None
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to("/usr/bin/python3")
    assert read(venv) == {"distributions": {}, "pins": None, "files": CLEAN}
    site_packages = venv / "lib" / "python3.11" / "site-packages"
    for folder in ("Flask-3.1.3.dist-info", "typing_extensions-4.15.0.dist-info", "flask"):
        (site_packages / folder).mkdir(parents=True)
    held = {"flask": "3.1.3", "typing-extensions": "4.15.0"}
    assert read(venv)["distributions"] == held and read(venv)["pins"] is None
    (venv / "requirements.txt").write_text("Flask==3.1.3\ntyping_extensions==4.15.0\n")
    pins = ["Flask==3.1.3", "typing_extensions==4.15.0"]
    assert (read(venv)["distributions"], read(venv)["pins"]) == (held, pins)


def test_files_are_held_against_what_pip_recorded(tmp_path):
    """A real virtualenv, as venv and ensurepip make it; then a .pth file planted, a
    module of pip's edited, one removed, one replaced by a link to its own copy and one
    by a folder."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    found = read(venv)
    assert found["files"] == CLEAN, found["files"]
    (site_packages,) = venv.glob("lib/python3*/site-packages")
    (site_packages / "zz-planted.pth").write_text("import os\n")
    (site_packages / "pip" / "__init__.py").write_text("# edited\n")
    (site_packages / "pip" / "__main__.py").unlink()
    internal = site_packages / "pip" / "_internal" / "__init__.py"
    internal.rename(site_packages / "copy.py")
    internal.symlink_to(site_packages / "copy.py")
    (site_packages / "pip" / "__pip-runner__.py").unlink()
    (site_packages / "pip" / "__pip-runner__.py").mkdir()
    (venv / "bin" / "planted").write_text("#!/bin/sh\n")
    files = read(venv)["files"]
    (pip,) = (name for name in found["distributions"] if name == "pip")
    dist = f"pip-{found['distributions'][pip]}"
    relative = str(site_packages.relative_to(venv))
    assert files == {
        "modified": {
            dist: [
                f"{relative}/pip/__init__.py",
                f"{relative}/pip/__pip-runner__.py",
                f"{relative}/pip/_internal/__init__.py",
            ]
        },
        "missing": {dist: [f"{relative}/pip/__main__.py"]},
        "extra": ["bin/planted", f"{relative}/copy.py", f"{relative}/zz-planted.pth"],
    }


@pytest.mark.parametrize("bad", ["Flask", "Flask>=3", "Flask==3.1; reboot", "Flask==3.1\nx==1"])
def test_unpinned_or_hostile_requirements_are_refused(bad):
    with pytest.raises(OperationValueError, match="not a name==version pin"):
        run_operation(
            "python.venv_requirements",
            {
                "kwargs": {"requirements": [bad], "venv": "/srv/app/venv", "python": "/usr/bin/python3"},
                "facts": {"python.Virtualenv": {"distributions": {}, "pins": None}},
            },
        )

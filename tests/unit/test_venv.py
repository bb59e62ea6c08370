"""The virtualenv fact reads pip's dist-info folders and the pins recorded; unpinned requirements are refused."""

import pytest
from pyinfra.api import OperationValueError

from apache_wsgi_deploy.facts.python import Virtualenv
from tests.unit.harness import LocalHost, run_operation


def test_distributions_are_read_from_dist_info_folders(tmp_path):
    venv = tmp_path / "venv"
    assert LocalHost().get_fact(Virtualenv, venv=str(venv)) is None
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to("/usr/bin/python3")
    assert LocalHost().get_fact(Virtualenv, venv=str(venv)) == {"distributions": {}, "pins": None}
    site_packages = venv / "lib" / "python3.11" / "site-packages"
    for folder in ("Flask-3.1.3.dist-info", "typing_extensions-4.15.0.dist-info", "flask"):
        (site_packages / folder).mkdir(parents=True)
    held = {"flask": "3.1.3", "typing-extensions": "4.15.0"}
    assert LocalHost().get_fact(Virtualenv, venv=str(venv)) == {"distributions": held, "pins": None}
    (venv / "requirements.txt").write_text("Flask==3.1.3\ntyping_extensions==4.15.0\n")
    pins = ["Flask==3.1.3", "typing_extensions==4.15.0"]
    assert LocalHost().get_fact(Virtualenv, venv=str(venv)) == {"distributions": held, "pins": pins}


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

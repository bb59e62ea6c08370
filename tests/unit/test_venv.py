"""The virtualenv fact reads pip's dist-info folders; unpinned requirements are refused."""

import pytest
from pyinfra.api import OperationValueError

from apache_wsgi_deploy.facts.python import VenvDistributions
from tests.unit.harness import LocalHost, run_operation


def test_distributions_are_read_from_dist_info_folders(tmp_path):
    venv = tmp_path / "venv"
    assert LocalHost().get_fact(VenvDistributions, venv=str(venv)) is None
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to("/usr/bin/python3")
    assert LocalHost().get_fact(VenvDistributions, venv=str(venv)) == {}
    site_packages = venv / "lib" / "python3.11" / "site-packages"
    for folder in ("Flask-3.1.3.dist-info", "typing_extensions-4.15.0.dist-info", "flask"):
        (site_packages / folder).mkdir(parents=True)
    assert LocalHost().get_fact(VenvDistributions, venv=str(venv)) == {"flask": "3.1.3", "typing-extensions": "4.15.0"}


@pytest.mark.parametrize("bad", ["Flask", "Flask>=3", "Flask==3.1; reboot", "Flask==3.1\nx==1"])
def test_unpinned_or_hostile_requirements_are_refused(bad):
    with pytest.raises(OperationValueError, match="not a name==version pin"):
        run_operation(
            "python.venv_requirements",
            {
                "kwargs": {"requirements": [bad], "venv": "/srv/app/venv", "python": "/usr/bin/python3"},
                "facts": {"python.VenvDistributions": {}},
            },
        )

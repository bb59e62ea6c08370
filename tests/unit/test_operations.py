"""Our operations yield exactly the commands that close the gap, and nothing otherwise."""

import pytest
from pyinfra.api import OperationValueError

from tests.unit.harness import load, read, run_operation


@pytest.mark.parametrize(
    ("operation", "path"), load("operations"), ids=lambda value: getattr(value, "stem", value)
)
def test_operation_fixture(operation, path):
    fixture = read(path)
    commands, noops = run_operation(operation, fixture)
    assert commands == fixture["commands"]
    if "noop_description" in fixture:
        assert noops == [fixture["noop_description"]]
    else:
        assert noops == []


@pytest.mark.parametrize("bad", ["wsgi ssl", "wsgi;reboot", "../x", "a\nb", "", "wsgi\n"])
def test_module_names_that_would_reach_the_shell_are_refused(bad):
    with pytest.raises(OperationValueError, match="invalid Apache module name"):
        run_operation("apache.modules", {"kwargs": {"modules": [bad]}, "facts": {"apache.ApacheLinks": None}})


@pytest.mark.parametrize("bad", ["my site", "x'y", "a/b"])
def test_site_names_that_would_reach_the_shell_are_refused(bad):
    with pytest.raises(OperationValueError, match="invalid Apache sites name"):
        run_operation("apache.site", {"kwargs": {"site": bad}, "facts": {"apache.ApacheLinks": None}})

"""Our facts run the command we expect and parse its output into plain data."""

import pytest

from tests.unit.harness import load, read, resolve


@pytest.mark.parametrize(("fact", "path"), load("facts"), ids=lambda value: getattr(value, "stem", value))
def test_fact_fixture(fact, path):
    fixture = read(path)
    fact_instance = resolve("facts", fact)()
    assert fact_instance.command(**fixture.get("kwargs", {})) == fixture["command"]
    assert fact_instance.process(fixture["output"]) == fixture["fact"]


def test_apache_links_is_unknown_before_apache_is_installed():
    fact_class = resolve("facts", "apache.ApacheLinks")
    assert fact_class().requires_command() == "a2enmod"
    assert fact_class.default() is None

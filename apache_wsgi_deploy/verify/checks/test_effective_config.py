"""What Apache runs with that neither the deploy nor Debian declares (apache_wsgi_deploy.
effective), judged: every directive in every file Apache includes, as Apache parsed it,
held against the deploy's own files as its settings render them and Debian's stock
configuration. The drift check lists every such directive; these checks fail on those
that open a way to content, weaken TLS, leak, or change how the daemons run."""

import pytest

from apache_wsgi_deploy import effective

ADVICE = (
    "a deploy puts back its own files; anything else there on purpose belongs in a conf of its own in"
    " conf-enabled, listed in expected_foreign_entries"
)


@pytest.fixture(scope="module")
def undeclared(target, apache2ctl):
    """The undeclared directives and modules, once the config on disk passes its
    configtest (the apache2ctl fixture skips otherwise)."""
    return target.undeclared_config


def assert_none_that(kind: str, undeclared) -> None:
    """No undeclared directive does what kind names (effective.JUDGED)."""
    directives, _ = undeclared
    found = [str(directive) for directive in effective.judged(directives)[kind]]
    assert found == [], f"{'; '.join(found)}: {ADVICE}"


def test_no_undeclared_directive_opens_a_way_to_a_file_or_a_port(undeclared):
    """An Alias, a proxy, a handler, a Require or a Listen no one declared."""
    assert_none_that(effective.ROUTES, undeclared)


def test_no_undeclared_directive_weakens_tls(undeclared):
    assert_none_that(effective.TLS, undeclared)


def test_no_undeclared_directive_leaks(undeclared):
    """A log level or format that writes what requests carry, a header set or unset, a
    status page: what Apache tells or writes down."""
    assert_none_that(effective.LEAKS, undeclared)


def test_no_undeclared_directive_changes_how_the_daemons_run(undeclared):
    """Keep-alive, timeouts, workers, request limits, mod_wsgi's daemons, Apache's user."""
    assert_none_that(effective.DAEMONS, undeclared)


def test_apache_loads_no_module_neither_the_deploy_nor_debian_enables(undeclared):
    """A LoadModule anywhere, not only a link in mods-enabled: a module runs in every request."""
    _, modules = undeclared
    assert modules == [], (
        f"loaded: {', '.join(modules)}: disable it; on purpose, enable it with a2enmod and list"
        " mods-enabled/<name>.load in expected_foreign_entries"
    )

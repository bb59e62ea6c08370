"""
Manage Apache on Debian/Ubuntu: modules, sites and conf snippets through a2en*/a2dis*,
run only when the ApacheLinks fact shows a difference, and a configtest guard.
"""

from __future__ import annotations

import re

from pyinfra import host
from pyinfra.api import OperationValueError, QuoteString, StringCommand, operation

from apache_wsgi_deploy.facts.apache import APACHE_DIR, ApacheLinks

NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _check_name(what: str, name: str) -> None:
    if not NAME.fullmatch(name):
        raise OperationValueError(f"invalid Apache {what} name: {name!r}")


@operation()
def modules(modules: list[str], enabled: bool = True):
    """
    Enable or disable Apache modules with a2enmod/a2dismod, only those that differ.

    + modules: module names as in mods-available (``wsgi``, ``ssl``...)
    + enabled: whether the modules should be enabled

    A module whose ``.conf`` is not linked counts as disabled, so a2enmod repairs it.
    a2enmod (not a hand-made link) also enables what a module depends on.

    **Example:**

    .. code:: python

        apache.modules(name="Enable mod_wsgi and mod_ssl", modules=["wsgi", "ssl"])
    """
    for module in modules:
        _check_name("module", module)
    links = host.get_fact(ApacheLinks)
    # None: Apache is not installed yet (an earlier operation installs it).
    current = links["modules"] if links is not None else {}
    to_change = [module for module in modules if current.get(module, False) != enabled]
    if not to_change:
        state = "enabled" if enabled else "disabled"
        host.noop(f"modules {', '.join(modules)} are {state}")
        return
    tool = "a2enmod" if enabled else "a2dismod"
    flags = ["-q"] if enabled else ["-q", "-f"]
    yield StringCommand(tool, *flags, *(QuoteString(module) for module in to_change))


def _link(kind: str, name: str, enabled: bool):
    """Shared by site() and conf(): both are one link in <kind>-enabled."""
    _check_name(kind, name)
    links = host.get_fact(ApacheLinks)
    # None: Apache is not installed yet, and its package will enable its own defaults,
    # so act unconditionally (the commands are harmless when already in that state).
    known = links is not None
    current = links["sites" if kind == "sites" else "confs"].get(name) if known else None
    enabled_path = f"{APACHE_DIR}/{kind}-enabled/{name}.conf"
    wanted = (f"../{kind}-available/{name}.conf", f"{APACHE_DIR}/{kind}-available/{name}.conf")

    if enabled:
        if current in wanted:
            host.noop(f"{kind} {name} is enabled")
            return
        if current is not None:
            # A plain file or a link elsewhere: replace it with a2ensite's own link.
            yield StringCommand("rm", "-f", QuoteString(enabled_path))
        yield StringCommand("a2ensite" if kind == "sites" else "a2enconf", "-q", QuoteString(name))
    elif known and current is None:
        host.noop(f"{kind} {name} is disabled")
    else:
        yield StringCommand("rm", "-f", QuoteString(enabled_path))


@operation()
def site(site: str, enabled: bool = True):
    """
    Enable or disable an Apache site (sites-available/<site>.conf).

    + site: site name without ``.conf``
    + enabled: whether the site should be linked in sites-enabled

    **Example:**

    .. code:: python

        apache.site(name="Disable the stock site", site="000-default", enabled=False)
    """
    yield from _link("sites", site, enabled)


@operation()
def conf(conf: str, enabled: bool = True):
    """
    Enable or disable an Apache conf snippet (conf-available/<conf>.conf).

    + conf: conf name without ``.conf``
    + enabled: whether the snippet should be linked in conf-enabled

    **Example:**

    .. code:: python

        apache.conf(name="Daemon mode only", conf="wsgi-daemon-only")
    """
    yield from _link("conf", conf, enabled)


@operation(is_idempotent=False)
def reload():
    """
    Reload Apache gracefully, only after ``apache2ctl configtest`` passed.

    Both commands live in one operation so no reload can run untested: a failed test
    stops the host's deploy with Apache's own message, and the running server keeps
    serving its previous configuration. Starts Apache if it is stopped. Use it as a
    handler, under ``_if=any_changed(...)``.

    **Example:**

    .. code:: python

        apache.reload(name="Reload Apache", _if=any_changed(vhost, certificate))
    """
    yield "apache2ctl configtest"
    yield "systemctl reload-or-restart apache2.service"

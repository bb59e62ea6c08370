"""
Manage Apache on Debian/Ubuntu: modules, sites and conf snippets through a2en*/a2dis*,
run only when the ApacheLinks fact shows a difference, the config and certificate files
it reads, and a reload guarded by its configtest and a certificate check.

A failed test, or an Apache that stops after its reload, must not leave the failing files
in place: config_template(), config_file(), site() and conf() keep a copy of each file or
link as it was before their first change since Apache's last reload, and reload() puts
those copies back. (Testing before switching would need a second, rewritten tree: every
Include in Debian's apache2.conf is relative to /etc/apache2.)
"""

from __future__ import annotations

import re
import shlex
from io import StringIO

from pyinfra import host
from pyinfra.api import OperationValueError, QuoteString, StringCommand, operation

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.facts.apache import ApacheLinks, ApacheService
from apache_wsgi_deploy.facts.cache import cached_fact
from apache_wsgi_deploy.facts.files import FileState
from apache_wsgi_deploy.operations import managed

NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
# Below layout.CONFIG_BEFORE_DIR, files and links are kept at their own path as they were
# before the changes since Apache's last reload; "<path>.absent" marks one that did not
# exist. Emptied by every reload, failed or not.
ABSENT = ".absent"


def keep_previous(path: str) -> StringCommand:
    """Copy `path` (file or link) aside, unless it changed already since the last reload."""
    copy = shlex.quote(f"{layout.CONFIG_BEFORE_DIR}{path}")
    absent = shlex.quote(f"{layout.CONFIG_BEFORE_DIR}{path}{ABSENT}")
    path = shlex.quote(path)
    return StringCommand(
        f'[ -e {copy} ] || [ -L {copy} ] || [ -e {absent} ] || {{ mkdir -p "$(dirname {copy})" && '
        f"if [ -e {path} ] || [ -L {path} ]; then cp -a {path} {copy}; else touch {absent}; fi; }}"
    )


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
    links = cached_fact(ApacheLinks)
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
    links = cached_fact(ApacheLinks)
    # None: Apache is not installed yet, and its package will enable its own defaults,
    # so act unconditionally (the commands are harmless when already in that state).
    known = links is not None
    current = links["sites" if kind == "sites" else "confs"].get(name) if known else None
    enabled_path = f"{layout.APACHE_DIR}/{kind}-enabled/{name}.conf"
    wanted = (f"../{kind}-available/{name}.conf", f"{layout.APACHE_DIR}/{kind}-available/{name}.conf")

    if enabled:
        if current in wanted:
            host.noop(f"{kind} {name} is enabled")
            return
        yield keep_previous(enabled_path)
        if current is not None:
            # A plain file or a link elsewhere: replace it with a2ensite's own link.
            yield StringCommand("rm", "-f", QuoteString(enabled_path))
        yield StringCommand("a2ensite" if kind == "sites" else "a2enconf", "-q", QuoteString(name))
    elif known and current is None:
        host.noop(f"{kind} {name} is disabled")
    else:
        yield keep_previous(enabled_path)
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


@operation()
def config_template(src: str, dest: str, user: str, group: str, mode: str, **data):
    """
    Render a file Apache reads, as ``managed.template``, keeping the version it replaces.

    + src: Jinja2 template on the control machine
    + dest: the file under /etc/apache2
    + user, group, mode: its owner and permissions
    + data: the template's variables

    Before its first change since Apache's last reload, the file as it was (or the fact
    that it did not exist) is kept for ``reload`` to put back should its configtest fail.

    **Example:**

    .. code:: python

        apache.config_template(src="templates/site.conf.j2",
                               dest="/etc/apache2/sites-available/app.conf",
                               user="root", group="root", mode="644", s=settings)
    """
    yield from _kept_and_written(managed.render(src, **data), dest, user, group, mode)


@operation()
def config_file(src: str | StringIO, dest: str, user: str, group: str, mode: str, private: bool = False):
    """
    Put a file Apache reads (a certificate, a key) on the host, as ``managed.file``,
    keeping the version it replaces for ``reload`` to put back.

    + src: local file path, or a StringIO with the content
    + dest: absolute path on the host
    + user, group, mode: its owner and permissions
    + private: as ``managed.file`` (keys)
    """
    yield from _kept_and_written(managed.content(src), dest, user, group, mode, private)


def _kept_and_written(content: bytes, dest: str, user: str, group: str, mode: str, private: bool = False):
    commands = list(managed.file_commands(content, dest, user, group, mode, private))
    if commands:
        yield keep_previous(dest)
        yield from commands


@operation()
def config_absent(path: str):
    """
    Remove a file Apache reads (a removed site's vhosts), keeping it for ``reload`` to
    put back should the configtest fail.

    + path: the file under /etc/apache2
    """
    if host.get_fact(FileState, path=path) is None:
        host.noop(f"{path} is absent")
        return
    yield keep_previous(path)
    yield StringCommand("rm", "-f", QuoteString(path))


@operation()
def running():
    """
    Apache runs and starts at boot.
    """
    state = cached_fact(ApacheService)
    if not state["active"]:
        yield StringCommand("systemctl", "start", layout.APACHE_SERVICE)
    if not state["enabled"]:
        yield StringCommand("systemctl", "enable", layout.APACHE_SERVICE)
    if state["active"] and state["enabled"]:
        host.noop(f"{layout.APACHE_SERVICE} runs and starts at boot")


@operation(is_idempotent=False)
def reload(logs: list[str] = ()):
    """
    Reload Apache gracefully, only after ``apache2ctl configtest`` and the certificate
    check passed, and see it resume serving (``host_tools/reload.py``, on the host).

    + logs: the logs Apache writes through rotatelogs: one that is still a plain file
      (Apache wrote it before) is renamed as a rotated file first, so rotatelogs' link to
      its current file does not replace it

    One operation, so no reload can run untested: a failed test stops the host's deploy
    with the cause, undoes the config changes made since the last reload (see
    ``config_template``), and the running server keeps serving its previous
    configuration. If Apache stops after its reload, the same files are put back and it
    is started on them. Starts Apache if it is stopped. Use it as a handler, under
    ``_if=any_changed(...)``.

    **Example:**

    .. code:: python

        apache.reload(name="Reload Apache", logs=["/var/log/apache2/error.log"], _if=any_changed(vhost))
    """
    yield StringCommand(
        layout.HOST_PYTHON, layout.RELOAD_TOOL, layout.CONFIG_BEFORE_DIR, layout.APACHE_DIR,
        layout.APACHE_ERROR_LOG, layout.APACHE_PID_FILE, layout.APACHE_SERVICE, *map(QuoteString, logs),
    )  # fmt: skip

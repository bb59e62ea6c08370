"""
A site's own Apache instance (apache_instance "own"): Debian's apache2@<app_name>, reading
/etc/apache2-<app_name>. Its configuration is tested before it replaces the one running,
so a failed test leaves the instance serving; a change restarts it gracefully, which lets
its processes finish their requests.
"""

from __future__ import annotations

import shlex

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.facts.apache import Instance
from apache_wsgi_deploy.facts.cache import cached_fact
from apache_wsgi_deploy.operations import managed, record

# 32 random bytes, hex: the instance answers only requests that carry them.
_NEW_TOKEN = "od -An -N32 -tx1 /dev/urandom | tr -d ' \\n'"


def reload_command(app_name: str, error_log: str) -> list[str]:
    """A graceful restart of a running instance, watched until it resumed serving (a new
    configuration, new code); nothing when it does not run yet."""
    return [
        layout.HOST_PYTHON,
        layout.INSTANCE_RELOAD,
        layout.instance_service(app_name),
        layout.instance_file(app_name, layout.INSTANCE_CONF),
        error_log,
        layout.instance_pid_file(app_name),
    ]


def _configtest(app_name: str):
    """apache2ctl -t on a new apache2.conf, with the instance's envvars (its user, its folders)."""
    confdir = shlex.quote(layout.instance_dir(app_name))
    return lambda staging: StringCommand(f"APACHE_CONFDIR={confdir} apache2ctl -f {shlex.quote(staging)} -t")


@operation()
def token(app_name: str):
    """
    The secret the front sends the instance with each request, made once on the host,
    root's alone (a Define both Apaches read).

    + app_name: the site's
    """
    if cached_fact(Instance, app_name=app_name)["token"]:
        host.noop(f"{app_name}'s instance has its token")
        return
    path = shlex.quote(layout.instance_file(app_name, layout.INSTANCE_TOKEN))
    variable = layout.front_token_variable(app_name)
    yield StringCommand(
        f"(umask 077 && printf 'Define {variable} %s\\n' \"$({_NEW_TOKEN})\" > {path}.new) && mv -f {path}.new {path}"
    )


@operation()
def config(app_name: str, name_in_folder: str, content: bytes, tested: bool = False):
    """
    One file of the instance's folder, root's, replaced whole; apache2.conf only once
    `apache2ctl -t` passed on the new one (tested).

    + app_name: the site's
    + name_in_folder: layout.INSTANCE_CONF or layout.INSTANCE_ENVVARS
    + content: the rendered file
    + tested: test the new file as the instance's apache2.conf before it replaces the old
    """
    dest = layout.instance_file(app_name, name_in_folder)
    yield from managed.file_commands(
        content, dest, "root", "root", "644", check=_configtest(app_name) if tested else None
    )


@operation()
def running(app_name: str):
    """
    The instance runs and starts at boot.

    + app_name: the site's
    """
    state = cached_fact(Instance, app_name=app_name)
    service = QuoteString(layout.instance_service(app_name))
    if not state["active"]:
        yield StringCommand("systemctl", "start", service)
    if not state["enabled"]:
        yield StringCommand("systemctl", "enable", "--quiet", service)
    if state["active"] and state["enabled"]:
        host.noop(f"{layout.instance_service(app_name)} runs and starts at boot")


@operation(is_idempotent=False)
def reloaded(app_name: str, error_log: str):
    """
    A graceful restart of the instance, watched: run only when its files changed (_if).

    + app_name: the site's
    + error_log: the instance's, where it says it resumed serving
    """
    yield StringCommand(*map(QuoteString, reload_command(app_name, error_log)))


@operation()
def former_stopped(current: list[str], declared: list[str]):
    """
    The instances the deploy's record holds that no present site runs in any more (their
    site moved back to daemon processes, or is absent) stop, and no longer start at boot.
    Read as the operation runs: the record as the run left it.

    + current: the paths the present sites' settings name
    + declared: the app names of the sites the settings list, present or absent
    """
    former = [app_name for app_name in record.former_instances(current) if app_name in declared]
    if not former:
        host.noop("no Apache instance is left without its site")
        return
    for app_name in former:
        yield StringCommand("systemctl", "disable", "--now", "--quiet", QuoteString(layout.instance_service(app_name)))

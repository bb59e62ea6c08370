"""The host's Debian packages and the project's own tools on it."""

from __future__ import annotations

from pyinfra.api import deploy

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.deploys.unit import ROOT_OWNED
from apache_wsgi_deploy.operations import managed, packages
from apache_wsgi_deploy.project import shipped

HOST_TOOLS = shipped("host_tools")


def apt_packages(settings) -> list[str]:
    """What the host's sites need: certbot for ACME certificates, git for git sources."""
    return (
        layout.APACHE_PACKAGES
        + (layout.ACME_PACKAGES if settings.uses_acme() else [])
        + (layout.GIT_PACKAGES if settings.uses_git() else [])
    )


@deploy("Packages")
def install_packages(settings):
    packages.installed(
        name="Apache, mod_wsgi and venv are installed",
        packages=apt_packages(settings),
        cache_time=settings.apt_cache_time,
        lock_timeout=settings.apt_lock_timeout,
    )


@deploy("Tools")
def host_tools():
    """What the deploy runs on the host: a release's health check, before it goes live,
    Apache's reload with its certificate check, and the hook of its logs' rotation."""
    managed.tree(
        name="Host tools are in place (release health check, checked reload, log rotation)",
        src=str(HOST_TOOLS),
        dest=layout.TOOLS_DIR,
        **ROOT_OWNED,
        mode="644",
        dir_mode="755",
        # Python's own bytecode, written there when root runs a tool.
        exclude=["__pycache__", "*.pyc"],
        keep=["__pycache__", "*.pyc"],
        # rotatelogs runs its hook as a program.
        executable=[layout.LOGS_ROTATED_HOOK.rsplit("/", 1)[1]],
    )

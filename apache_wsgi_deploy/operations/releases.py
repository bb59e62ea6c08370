"""
Releases of a site: each deploy of new code is a new folder under
``<install_path>/releases``, made live by renaming a symlink (``current``) once its
health check passed, and picked up by the daemon processes through the .wsgi file's
mtime, without an Apache reload. Old releases are pruned; one can be rolled back to.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import OperationError, QuoteString, StringCommand, operation

from apache_wsgi_deploy.facts.releases import CURRENT, ROLLED_BACK, Releases


def _go_live(install_path: str, release: str, wsgi_script: str):
    next_link = f"{install_path}/.{CURRENT}-next"
    yield StringCommand("ln", "-sfn", QuoteString(f"releases/{release}"), QuoteString(next_link))
    # rename(2) replaces the link in one step: every request sees one release or the other.
    yield StringCommand("mv", "-T", QuoteString(next_link), QuoteString(f"{install_path}/{CURRENT}"))
    # mod_wsgi restarts the daemon processes when the .wsgi file's mtime changes.
    yield StringCommand("touch", QuoteString(wsgi_script))


@operation()
def live(install_path: str, release: str, wsgi_script: str, health_check: list[str]):
    """
    Make a release the live one, if its health check passes.

    + install_path: the site's folder
    + release: the release folder's name under ``releases/``
    + wsgi_script: the .wsgi file, touched to restart the daemon processes
    + health_check: the command (argv) that must succeed first

    A release that was rolled back is not made live again: the rollback holds until
    other code is deployed.
    """
    state = host.get_fact(Releases, install_path=install_path)
    if state["current"] == release:
        host.noop(f"release {release} is live")
        return
    if release in state["rolled_back"]:
        host.noop(f"release {release} was rolled back; {state['current']} stays live until other code is deployed")
        return
    yield StringCommand(*(QuoteString(part) for part in health_check))
    yield from _go_live(install_path, release, wsgi_script)


@operation()
def pruned(install_path: str, keep: int, live: str):
    """
    Remove old releases, and the virtualenvs no kept release uses.

    + install_path: the site's folder
    + keep: how many releases stay, at most (at least 2)
    + live: the release this deploy makes live (kept, even when not made yet)

    Kept: ``live``, the one ``current`` names, and the newest others up to ``keep`` in
    all, those rolled back only when room is left: a rollback's target (the newest
    release not rolled back) outlives the release it replaced.
    """
    state = host.get_fact(Releases, install_path=install_path)
    protected = {live, state["current"]} - {None}
    # Least wanted first: rolled back, then oldest.
    others = sorted(
        (release for release in state["releases"] if release not in protected),
        key=lambda release: (release not in state["rolled_back"], release),
    )
    room = max(keep - len(protected), 0)
    kept = protected | set(others[-room:] if room else [])
    removed = [release for release in state["releases"] if release not in kept]
    if not removed:
        host.noop(f"{len(state['releases'])} releases, at most {keep} kept")
        return
    for release in removed:
        folder = f"{install_path}/releases/{release}"
        yield StringCommand("rm", "-rf", QuoteString(folder), QuoteString(folder + ROLLED_BACK))
    venvs = QuoteString(f"{install_path}/venvs")
    yield StringCommand(
        "cd", venvs, "&&", "for venv in *; do for link in ../releases/*/venv; do",
        '[ "$(readlink "$link")" = "../../venvs/$venv" ] && continue 2; done; rm -rf -- "$venv"; done',
    )


@operation(is_idempotent=False)
def rollback(install_path: str, wsgi_script: str):
    """
    Make the release before the live one live again, and mark the live one rolled back.

    + install_path: the site's folder
    + wsgi_script: the .wsgi file, touched to restart the daemon processes

    Releases already rolled back are skipped, so repeated rollbacks go further back.
    """
    state = host.get_fact(Releases, install_path=install_path)
    current = state["current"]
    if current is None:
        raise OperationError(f"{install_path} has no live release to roll back from")
    earlier = [release for release in state["releases"] if release < current and release not in state["rolled_back"]]
    if not earlier:
        raise OperationError(f"{install_path}: no release before {current} to roll back to")
    yield StringCommand("touch", QuoteString(f"{install_path}/releases/{current}{ROLLED_BACK}"))
    yield from _go_live(install_path, earlier[-1], wsgi_script)

"""
Releases of a site: each deploy of new code is a new folder under
``<install_path>/releases``, made live by renaming a symlink (``current``) once its
health check passed, and picked up by the app's processes without a reload of the host's
Apache (restart_command: the .wsgi file's mtime, or a graceful restart of the app's own
instance). Old releases are pruned; one can be rolled back to.
"""

from __future__ import annotations

import hashlib
import shlex

from pyinfra import host
from pyinfra.api import OperationError, QuoteString, StringCommand, operation

from apache_wsgi_deploy import outcome
from apache_wsgi_deploy.facts.cache import cached_fact
from apache_wsgi_deploy.facts.releases import Releases, ReleasesDict, SetupDone, StaticFiles
from apache_wsgi_deploy.layout import (
    COMMANDS_DONE,
    CURRENT,
    ENV_FILE,
    HISTORY,
    RELEASES,
    ROLLED_BACK,
    SECRETS,
    SETUP_DONE,
    VENVS,
)


class ShownCommand(StringCommand):
    """A command whose output pyinfra prints line by line as it comes, whatever its
    verbosity: into the host's log, where a release command's work can be followed while
    it runs and read after it."""

    def execute(self, state, host, connector_arguments):
        connector_arguments.update(self.connector_arguments)
        return host.run_shell_command(self, print_output=True, print_input=state.print_input, **connector_arguments)


def _go_live(install_path: str, release: str, restart: list[str], how: str):
    next_link = f"{install_path}/.{CURRENT}-next"
    yield StringCommand("ln", "-sfn", QuoteString(f"{RELEASES}/{release}"), QuoteString(next_link))
    # rename(2) replaces the link in one step: every request sees one release or the other.
    yield StringCommand("mv", "-T", QuoteString(next_link), QuoteString(f"{install_path}/{CURRENT}"))
    # The history line: the release, when it went live (the host's clock), and how.
    history = QuoteString(f"{install_path}/{HISTORY}")
    yield StringCommand(
        "echo", QuoteString(release), '"$(date -u +%Y-%m-%dT%H:%M:%SZ)"', QuoteString(how), ">>", history
    )
    yield StringCommand(*map(QuoteString, restart))


def _last_live(state: ReleasesDict, release: str) -> int:
    """Where a release was last made live in the history (-1: never, or before it)."""
    history = state["history"]
    return len(history) - 1 - history[::-1].index(release) if release in history else -1


@operation()
def from_git(url: str, ref: str, commit: str, cache: str, install_path: str, release: str, group: str):
    """
    Fill a new release folder's ``app/`` with a commit of a git repository, fetched on the
    host: root's, read by ``group`` only.

    + url: the repository, as the host's root reaches it
    + ref: the branch or tag (or the commit) to fetch
    + commit: the commit the release holds (what ``ref`` names now)
    + cache: a bare repository on the host that keeps what was fetched
    + install_path: the site's folder
    + release: the release folder's name under ``releases/``

    A release folder that exists is left as it is: a commit never changes. The folder
    appears complete or not at all (it is filled beside and renamed).
    """
    if release in cached_fact(Releases, install_path=install_path)["releases"]:
        host.noop(f"release {release} holds commit {commit[:12]}")
        return
    folder = f"{install_path}/{RELEASES}/{release}"
    filling = f"{folder}.filling"
    code = shlex.quote(f"{filling}/app")
    git = f"git -C {shlex.quote(cache)}"
    yield f"[ -d {shlex.quote(cache)} ] || git init --quiet --bare {shlex.quote(cache)}"
    yield f"{git} fetch --quiet --no-tags {shlex.quote(url)} {shlex.quote(commit if ref == commit else ref)}"
    yield f"rm -rf {shlex.quote(filling)} && mkdir -p {code}"
    yield f"{git} archive {shlex.quote(commit)} | tar -x -C {code}"
    yield f"chown -R root:{shlex.quote(group)} {code} && chmod -R u=rwX,g=rX,o= {code}"
    yield f"chmod 755 {shlex.quote(filling)} && mv -T {shlex.quote(filling)} {shlex.quote(folder)}"


@operation()
def venv_linked(install_path: str, release: str, venv: str):
    """
    Make a release's ``venv`` link name the virtualenv of its requirements.

    + install_path: the site's folder
    + release: the release folder's name under ``releases/``
    + venv: the virtualenv's name under ``venvs/``
    """
    target = f"../../{VENVS}/{venv}"
    if cached_fact(Releases, install_path=install_path)["venvs"].get(release) == target:
        host.noop(f"release {release} uses virtualenv {venv}")
        return
    # -n: a link to a folder is replaced, not followed into it.
    yield StringCommand("ln", "-sfn", QuoteString(target), QuoteString(f"{install_path}/{RELEASES}/{release}/venv"))


@operation()
def static_files(release: str, static_dir: str):
    """
    Make a release's ``static/`` a copy of ``app/<static_dir>`` that Apache's own children
    can read (root's, files 644, folders 755): public by nature, unlike the code.

    + release: the release folder
    + static_dir: the folder inside the release's code

    The same for every source of code: the copy is made on the host from the release's own
    code, compared by digest, and replaced whole (made beside and renamed) when it differs.
    """
    copy = cached_fact(StaticFiles, release=release, static_dir=static_dir)
    if copy is not None and copy["public"] and copy["source"] == copy["copy"]:
        host.noop(f"{release}/static is a public copy of app/{static_dir}")
        return
    source, filling, static = (
        shlex.quote(f"{release}/{part}") for part in (f"app/{static_dir}", "static.filling", "static")
    )
    yield f"rm -rf {filling} && cp -R {source} {filling} && chown -R root:root {filling}"
    yield f"find {filling} -type d -exec chmod 755 {{}} + && find {filling} -type f -exec chmod 644 {{}} +"
    yield f"rm -rf {static} && mv -T {filling} {static}"


def commands_digest(commands: list[str]) -> str:
    return hashlib.sha1("\n".join(commands).encode()).hexdigest()[:12]


def _shown_in_app(kind: str, command: str, run_in_app: list[str]) -> ShownCommand:
    """A command run in the app's context, its output shown after a line naming it, and
    `<kind> command '<command>' exited <status>` when it fails."""
    shown = QuoteString(shlex.quote(command))
    return ShownCommand(
        f"printf '{kind} command: %s\\n'",
        shown,
        ">&2;",
        *(QuoteString(part) for part in run_in_app),
        "sh",
        "-c",
        QuoteString(command),
        f">&2 || {{ status=$?; printf '{kind} command %s exited %s\\n'",
        shown,
        '"$status" >&2; exit $status; }',
    )


@operation()
def setup_commands_ran(data_dir: str, commands: list[str], run_in_app: list[str]):
    """
    Run each setup command once for a site's data, ever: in the first release that has
    it, before that release's release commands. Each is recorded by its text in the data
    folder, so a new release, a rollback or a rerun never runs it again; a command whose
    text changes runs once more.

    + data_dir: the site's data folder
    + commands: shell commands, each run by ``sh -c``
    + run_in_app: the command (argv) that runs what follows it in the app's context
    """
    done = set(host.get_fact(SetupDone, data_dir=data_dir))
    pending = [command for command in commands if commands_digest([command]) not in done]
    if not pending:
        host.noop(f"the {len(commands)} setup command(s) ran for {data_dir}")
        return
    record = QuoteString(f"{data_dir}/{SETUP_DONE}")
    for command in pending:
        yield _shown_in_app("setup", command, run_in_app)
        yield StringCommand("echo", commands_digest([command]), ">>", record)


@operation()
def commands_ran(
    install_path: str,
    release: str,
    commands: list[str],
    run_in_app: list[str],
    build_dirs: list[str] = (),
    user: str = "root",
    group: str = "root",
):
    """
    Run the release commands in a release once: again only when the commands change.

    + install_path: the site's folder
    + release: the release folder's name under ``releases/``
    + commands: shell commands, each run by ``sh -c``
    + run_in_app: the command (argv) that runs what follows it in the app's context
    + build_dirs: folders of the release's ``app/`` the commands write: made empty and
      ``user``'s before them, root's and readable by ``group`` alone after them

    Each command's output (all of it on stderr), after a line naming the command, is
    printed as it comes, into the host's log. A command that fails stops the operation
    with its exit status: the release is not marked, the next deploy runs them again.
    """
    digest = commands_digest(commands)
    if cached_fact(Releases, install_path=install_path)["commands_done"].get(release) == digest:
        host.noop(f"release {release} ran its {len(commands)} release command(s)")
        return
    built = [QuoteString(f"{install_path}/{RELEASES}/{release}/app/{name}") for name in build_dirs]
    for folder in built:
        yield StringCommand("rm", "-rf", folder, "&&", "install", "-d", "-o", user, "-g", group, "-m", "750", folder)
    for command in commands:
        yield _shown_in_app("release", command, run_in_app)
    # What the commands made is the release's now, as read-only for the app as its code.
    for folder in built:
        yield StringCommand("chown", "-R", f"root:{group}", folder, "&&", "chmod", "-R", "u=rwX,g=rX,o=", folder)
    done = QuoteString(f"{install_path}/{RELEASES}/{release}/{COMMANDS_DONE}")
    yield StringCommand("echo", digest, ">", done)


@operation()
def live(install_path: str, release: str, restart: list[str], health_check: list[str], source: str):
    """
    Make a release the live one, if its health check passes.

    + install_path: the site's folder
    + release: the release folder's name under ``releases/``
    + restart: the command (argv) that restarts the app's processes into the live release
    + health_check: the command (argv) that must succeed first
    + source: where its code came from, for the history (``folder``, ``git <url> <ref>``)

    A release that was rolled back is not made live again: the rollback holds until
    other code is deployed.
    """
    state = cached_fact(Releases, install_path=install_path)
    if state["current"] == release:
        host.noop(f"release {release} is live")
        return
    if release in state["rolled_back"]:
        current = state["current"]
        held = f"{install_path}: release {release} was rolled back; {current} stays live until other code is deployed"
        host.noop(held)
        outcome.record(host.name, outcome.NOTICES, [held])
        return
    yield StringCommand(*(QuoteString(part) for part in health_check))
    yield from _go_live(install_path, release, restart, f"deploy {source}")


@operation()
def pruned(install_path: str, keep: int, live: str):
    """
    Remove old releases, and the virtualenvs and sets of secret files no kept release uses.

    + install_path: the site's folder
    + keep: how many releases stay, at most (at least 2)
    + live: the release this deploy makes live (kept, even when not made yet)

    Kept: ``live``, the one ``current`` names, and the others most recently live (then
    the newest) up to ``keep`` in all, those rolled back only when room is left: a
    rollback's target outlives the release it replaced.
    """
    state = cached_fact(Releases, install_path=install_path)
    protected = {live, state["current"]} - {None}
    # Least wanted first: rolled back, then never or long ago live, then oldest.
    others = sorted(
        (release for release in state["releases"] if release not in protected),
        key=lambda release: (release not in state["rolled_back"], _last_live(state, release), release),
    )
    room = max(keep - len(protected), 0)
    kept = protected | set(others[-room:] if room else [])
    removed = [release for release in state["releases"] if release not in kept]
    if not removed:
        host.noop(f"{len(state['releases'])} releases, at most {keep} kept")
        return
    for release in removed:
        folder = f"{install_path}/{RELEASES}/{release}"
        yield StringCommand("rm", "-rf", QuoteString(folder), QuoteString(folder + ROLLED_BACK))
    venvs = QuoteString(f"{install_path}/{VENVS}")
    yield StringCommand(
        "cd",
        venvs,
        "&&",
        f"for venv in *; do for link in ../{RELEASES}/*/venv; do",
        f'[ "$(readlink "$link")" = "../../{VENVS}/$venv" ] && continue 2; done; rm -rf -- "$venv"; done',
    )
    # The sets of secret files no kept release's environment names.
    secrets = QuoteString(f"{install_path}/{SECRETS}")
    yield StringCommand(
        "!",
        "cd",
        secrets,
        "2>/dev/null",
        "||",
        f'for set in *; do [ ! -d "$set" ] || grep -qsF "/{SECRETS}/$set\\"" ../{RELEASES}/*/{ENV_FILE} ||',
        'rm -rf -- "$set"; done',
    )


@operation(is_idempotent=False)
def restarted(restart: list[str]):
    """
    The app's processes restart into the live release: run when it was repaired (_if).

    + restart: the command (argv), as restart_command gives it
    """
    yield StringCommand(*map(QuoteString, restart))


@operation(is_idempotent=False)
def rollback(install_path: str, restart: list[str]):
    """
    Make the release that was live before the live one live again, and mark the live one
    rolled back.

    + install_path: the site's folder
    + restart: the command (argv) that restarts the app's processes into the live release

    Releases already rolled back are skipped, so repeated rollbacks go further back; a
    release that never went live (its health check failed) is never one to go back to.
    """
    state = cached_fact(Releases, install_path=install_path)
    current = state["current"]
    if current is None:
        raise OperationError(f"{install_path} has no live release to roll back from")
    # Not one from before releases held their settings, nor one whose virtualenv is gone.
    earlier = [
        release
        for release in state["loadable"]
        if release != current and release not in state["rolled_back"] and _last_live(state, release) >= 0
    ]
    if not earlier:
        raise OperationError(f"{install_path}: no release that was live before {current} to roll back to")
    target = max(earlier, key=lambda release: _last_live(state, release))
    outcome.record(host.name, outcome.NOTICES, [f"{install_path}: from {current} back to {target}"])
    outcome.record(
        host.name, outcome.RELEASES, [{"install_path": install_path, "release": target, "previous": current}]
    )
    yield StringCommand("touch", QuoteString(f"{install_path}/{RELEASES}/{current}{ROLLED_BACK}"))
    yield from _go_live(install_path, target, restart, f"rollback from {current}")


@operation()
def former_layout_removed(install_path: str):
    """
    Remove the code, venv and static folders of the layout before releases. Run it after
    Apache's reload: until then the running config still names them.

    + install_path: the site's folder
    """
    former = cached_fact(Releases, install_path=install_path)["former_layout"]
    if not former:
        host.noop(f"{install_path} has only releases")
        return
    yield StringCommand("rm", "-rf", *(QuoteString(f"{install_path}/{folder}") for folder in former))

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
from dataclasses import dataclass

from pyinfra import host
from pyinfra.api import OperationError, QuoteString, StringCommand, operation

from apache_wsgi_deploy import outcome
from apache_wsgi_deploy.facts.cache import cached_fact
from apache_wsgi_deploy.facts.releases import Releases, ReleasesDict, SetupDone, StaticFiles, by_age
from apache_wsgi_deploy.layout import (
    COMMANDS_DONE,
    CURRENT,
    ENV_FILE,
    HISTORY,
    HOST_PYTHON,
    IN_APP,
    RELEASES,
    ROLLED_BACK,
    SECRETS,
    SETUP_DONE,
    SNAPSHOT_COMMAND_OUTPUT,
    SNAPSHOT_DATA,
    SNAPSHOT_LIVE,
    SNAPSHOT_TAKING,
    SNAPSHOT_TOOL,
    SNAPSHOTS,
    VENVS,
)


class ShownCommand(StringCommand):
    """A command whose output pyinfra prints line by line as it comes, whatever its
    verbosity: into the host's log, where a release command's work can be followed while
    it runs and read after it."""

    def execute(self, state, host, connector_arguments):
        connector_arguments.update(self.connector_arguments)
        return host.run_shell_command(self, print_output=True, print_input=state.print_input, **connector_arguments)


def _go_live(install_path: str, release: str, restart: list[str], how: str) -> list[str]:
    """The commands that make a release live and restart the app into it."""
    next_link = shlex.quote(f"{install_path}/.{CURRENT}-next")
    history = shlex.quote(f"{install_path}/{HISTORY}")
    return [
        f"ln -sfn {shlex.quote(f'{RELEASES}/{release}')} {next_link}",
        # rename(2) replaces the link in one step: every request sees one release or the other.
        f"mv -T {next_link} {shlex.quote(f'{install_path}/{CURRENT}')}",
        # The history line: the release, when it went live (the host's clock), and how.
        f'echo {shlex.quote(release)} "$(date -u +%Y-%m-%dT%H:%M:%SZ)" {shlex.quote(how)} >> {history}',
        shlex.join(restart),
    ]


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


def _shown_in_app(kind: str, command: str, run_in_app: list[str], on_failure: str = "") -> ShownCommand:
    """A command run in the app's context, its output shown after a line naming it, and
    `<kind> command '<command>' exited <status>` when it fails, after on_failure (shell)."""
    shown = QuoteString(shlex.quote(command))
    return ShownCommand(
        f"printf '{kind} command: %s\\n'",
        shown,
        ">&2;",
        *(QuoteString(part) for part in run_in_app),
        "sh",
        "-c",
        QuoteString(command),
        f">&2 || {{ status=$?; {on_failure}{'; ' if on_failure else ''}printf '{kind} command %s exited %s\\n'",
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
    maintenance: tuple[str, str] | None = None,
):
    """
    Run the release commands in a release once: again only when the commands change.

    + install_path: the site's folder
    + release: the release folder's name under ``releases/``
    + commands: shell commands, each run by ``sh -c``
    + run_in_app: the command (argv) that runs what follows it in the app's context
    + build_dirs: folders of the release's ``app/`` the commands write: made empty and
      ``user``'s before them, root's and readable by ``group`` alone after them
    + maintenance: the site's maintenance flag and the marker saying a deploy made it: the
      site is in maintenance from before the commands until the release is live (live
      ends it), or until they failed; a flag that was there before stays

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
    ended = ""
    if maintenance is not None:
        flag, marker = map(shlex.quote, maintenance)
        yield f"[ -e {flag} ] && [ ! -e {marker} ] || {{ touch {marker} && touch {flag}; }}"
        ended = _maintenance_ended(maintenance)
    for command in commands:
        yield _shown_in_app("release", command, run_in_app, on_failure=ended)
    # What the commands made is the release's now, as read-only for the app as its code.
    for folder in built:
        yield StringCommand("chown", "-R", f"root:{group}", folder, "&&", "chmod", "-R", "u=rwX,g=rX,o=", folder)
    done = QuoteString(f"{install_path}/{RELEASES}/{release}/{COMMANDS_DONE}")
    yield StringCommand("echo", digest, ">", done)
    # Otherwise the release's switch ends it (live).
    if ended and not _goes_live(cached_fact(Releases, install_path=install_path), release):
        yield ended


def in_release(release_dir: str, data_dir: str, umask: str, timeout: int | None = None) -> list[str]:
    """The command (argv) that runs what follows it in a release's context (inapp.py): its
    folder, virtualenv and environment, the daemons' umask, for at most timeout seconds."""
    bounded = ["--timeout", str(timeout)] if timeout else []
    return [f"{release_dir}/venv/bin/python", IN_APP, release_dir, data_dir, *bounded, "--umask", umask, "--"]


@dataclass(frozen=True)
class SnapshotCommand:
    """A site's snapshot_command or snapshot_restore_command, and how it runs."""

    command: str
    data_dir: str
    umask: str
    timeout: int

    def argv(self, install_path: str, release: str, output: str) -> list[str]:
        """The snapshot tool's arguments that run it in the release's context, with output."""
        in_app = in_release(f"{install_path}/{RELEASES}/{release}", self.data_dir, self.umask)
        return ["--command", output, str(self.timeout), "--", *in_app, "sh", "-c", self.command]


def _snapshot_tool(user: str, action: str, source: str, dest: str, command: list[str] = ()) -> str:
    """The snapshot tool run as the app's user, by the host's Python in isolated mode."""
    return shlex.join(["runuser", "-u", user, "--", HOST_PYTHON, "-I", SNAPSHOT_TOOL, action, source, dest, *command])


@operation()
def snapshot_taken(
    install_path: str,
    release: str,
    commands: list[str],
    data_dir: str,
    user: str,
    group: str,
    keep: int,
    command: SnapshotCommand | None = None,
):
    """
    Before a release's commands first run, while another release is live: a snapshot of
    the data folder, taken by the app's user (layout.SNAPSHOT_TOOL), then root's and
    readable by ``group``, named by the release and its commands; the oldest beyond
    ``keep`` removed.

    + install_path: the site's folder
    + release: the release folder's name under ``releases/``
    + commands: the release commands (their digest says whether they ran, and names the
      snapshot with the release's)
    + data_dir: the site's data folder
    + user: the app's user, who takes it
    + group: the app's group, who may read it (a restore is the app user's too)
    + keep: how many snapshots stay, at least 1
    + command: snapshot_command, run in the live release's context after the data is
      taken, its output kept beside it

    One taken before a failed attempt is kept as it is: it holds the data from before
    the commands first ran.
    """
    state = cached_fact(Releases, install_path=install_path)
    digest = commands_digest(commands)
    if state["commands_done"].get(release) == digest:
        host.noop(f"release {release} ran its release commands")
        return
    name = f"{release}-{digest}"
    if name in state["snapshots"]:
        host.noop(f"the data before release {release}'s commands is in snapshot {name}")
        return
    current = state["current"]
    if current is None:
        host.noop(f"{install_path} has no live release: no snapshot before the first")
        return
    folder = f"{install_path}/{SNAPSHOTS}"
    for old in by_age(state["snapshots"])[: max(len(state["snapshots"]) - keep + 1, 0)]:
        yield StringCommand("rm", "-rf", QuoteString(f"{folder}/{old}"))
    taking_path = f"{folder}/{SNAPSHOT_TAKING}"
    snapshots, taking = shlex.quote(folder), shlex.quote(taking_path)
    kept = [SNAPSHOT_DATA] + ([SNAPSHOT_COMMAND_OUTPUT] if command else [])
    with_command = command.argv(install_path, current, f"{taking_path}/{SNAPSHOT_COMMAND_OUTPUT}") if command else []
    yield f"install -d -o root -g {shlex.quote(group)} -m 750 {snapshots} && rm -rf {taking}"
    yield f"install -d -o {shlex.quote(user)} -g {shlex.quote(group)} -m 700 {taking}"
    yield (
        f"{_snapshot_tool(user, 'take', data_dir, f'{taking_path}/{SNAPSHOT_DATA}', with_command)}"
        f" && echo {shlex.quote(f'{install_path}: data snapshot taken before the release commands')} >&2"
        # Nothing of the app's user's left in root's folder by a snapshot that failed.
        f" || {{ status=$?; rm -rf {taking}; exit $status; }}"
    )
    # Root's before anything in it is trusted: the app's user can then neither add nor swap an entry.
    others = " ".join(f"! -name {name}" for name in kept)
    sealed = [f"chown root:{shlex.quote(group)} {taking} && chmod 750 {taking}"]
    sealed.append(f"find {taking} -mindepth 1 -maxdepth 1 {others} -exec rm -rf {{}} +")
    for file in (shlex.quote(f"{taking_path}/{name}") for name in kept):
        sealed.append(f'[ -f {file} ] && [ ! -L {file} ] && [ "$(stat -c %h {file})" = 1 ]')
        sealed.append(f"chown root:{shlex.quote(group)} {file} && chmod 640 {file}")
    sealed.append(f"echo {shlex.quote(current)} > {shlex.quote(f'{taking_path}/{SNAPSHOT_LIVE}')}")
    sealed.append(f"mv -T {taking} {shlex.quote(f'{folder}/{name}')}")
    yield " && ".join(sealed)


@operation(is_idempotent=False)
def restored(
    install_path: str,
    snapshot: str | None,
    data_dir: str,
    user: str,
    restart: list[str],
    maintenance_flag: str,
    command: SnapshotCommand | None = None,
):
    """
    Put a snapshot's data back, with the release that was live when it was taken: the
    live release is marked rolled back, as by a rollback. The site is in maintenance
    meanwhile (left on if it was on), and the data is swapped only once unpacked whole.

    + install_path: the site's folder
    + snapshot: the snapshot's name (None: the newest)
    + data_dir: the site's data folder
    + user: the app's user, who puts it back
    + restart: the command (argv) that restarts the app's processes
    + maintenance_flag: the flag file that puts the site in maintenance
    + command: snapshot_restore_command, run first in the snapshot's release's context
      with the output snapshot_command left (where it left one) on its standard input
    """
    state = cached_fact(Releases, install_path=install_path)
    snapshots = state["snapshots"]
    if not snapshots:
        raise OperationError(f"{install_path} has no snapshot to restore")
    name = snapshot or by_age(state["snapshots"])[-1]
    if name not in snapshots:
        raise OperationError(f"{install_path} has no snapshot {name!r} (its snapshots: {', '.join(sorted(snapshots))})")
    target, current = snapshots[name]["live"], state["current"]
    if target != current and target not in state["loadable"]:
        raise OperationError(
            f"{install_path}: snapshot {name} was taken while release {target} was live, which can no longer be"
            " loaded (pruned, or its virtualenv gone): nothing restored"
        )
    kept = f"{install_path}/{SNAPSHOTS}/{name}"
    with_command = command.argv(install_path, target, f"{kept}/{SNAPSHOT_COMMAND_OUTPUT}") if command else []
    steps = [_snapshot_tool(user, "restore", f"{kept}/{SNAPSHOT_DATA}", data_dir, with_command)]
    if target == current:
        steps.append(shlex.join(restart))
        said = f"{install_path}: data back from snapshot {name}; release {current} stays live"
    else:
        releases_dir = f"{install_path}/{RELEASES}"
        steps += [
            f"touch {shlex.quote(f'{releases_dir}/{current}{ROLLED_BACK}')}",
            f"rm -f {shlex.quote(f'{releases_dir}/{target}{ROLLED_BACK}')}",
            *_go_live(install_path, target, restart, f"restore of snapshot {name} from {current}"),
        ]
        said = f"{install_path}: data back from snapshot {name}, and release {target} live again in place of {current}"
        outcome.record(
            host.name, outcome.RELEASES, [{"install_path": install_path, "release": target, "previous": current}]
        )
    outcome.record(host.name, outcome.NOTICES, [said])
    flag = shlex.quote(maintenance_flag)
    # Out of maintenance again whatever happened, unless it was on before.
    yield (
        f"if [ -e {flag} ]; then kept=1; else kept=; touch {flag}; fi; {{ {' && '.join(steps)}; }}; status=$?;"
        f' [ -n "$kept" ] || rm -f {flag}; exit $status'
    )


def _maintenance_ended(maintenance: tuple[str, str]) -> str:
    """Out of maintenance, if a deploy put the site in it: an operator's outlasts the deploy."""
    flag, marker = map(shlex.quote, maintenance)
    return f"[ ! -e {marker} ] || rm -f {flag} {marker}"


def _goes_live(state: ReleasesDict, release: str) -> bool:
    """Whether the live operation switches to the release (not live yet, nor rolled back)."""
    return state["current"] != release and release not in state["rolled_back"]


@operation()
def live(
    install_path: str,
    release: str,
    restart: list[str],
    health_check: list[str],
    source: str,
    maintenance: tuple[str, str] | None = None,
):
    """
    Make a release the live one, if its health check passes.

    + install_path: the site's folder
    + release: the release folder's name under ``releases/``
    + restart: the command (argv) that restarts the app's processes into the live release
    + health_check: the command (argv) that must succeed first
    + source: where its code came from, for the history (``folder``, ``git <url> <ref>``)
    + maintenance: as for commands_ran: the maintenance a deploy began for the release's
      commands ends once it is live, or its health check failed

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
    checked = StringCommand(*(QuoteString(part) for part in health_check))
    ended = _maintenance_ended(maintenance) if maintenance else ""
    yield StringCommand(checked, f"|| {{ status=$?; {ended}; exit $status; }}") if ended else checked
    yield from _go_live(install_path, release, restart, f"deploy {source}")
    if ended:
        yield ended


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

"""
The deploy's record of what it made on the host (layout.MADE_RECORD): written before
anything is made, so a folder the deploy makes is its own from then on, and read at the
end, so what a former setting made is removed and a folder it took over given back.

Each thing made is an item: {"path", "role", "app_name", "setting", "user", "group",
"mode"} (the last three for folders, what the deploy gives them). Roles:
- folders: "app" (app_install_path), "data" (data_dir), "log" (log_dir), "certificate"
  (<tls_dir>/<server_name>), "instance" (/etc/apache2-<app_name> of apache_instance "own");
- "acme": certbot's lineage of a server name, made by certbot for the deploy;
- files of the deploy's own names: "logrotate" (a site's rule), "ca" (the ACME CA).
"""

from __future__ import annotations

import posixpath

from pyinfra import host, logger
from pyinfra.api import OperationError, QuoteString, StringCommand, operation
from pyinfra.api.state import StateStage
from pyinfra.operations.util.files import chmod, chown

from apache_wsgi_deploy import layout, outcome
from apache_wsgi_deploy.facts.cache import cached_fact
from apache_wsgi_deploy.facts.files import PathStates
from apache_wsgi_deploy.facts.record import Entry, MadeOnHost, entry_line
from apache_wsgi_deploy.operations import managed

FOLDER_ROLES = ("app", "data", "log", "certificate", "instance")
# The app's data and logs: a former folder of theirs stays, with what it holds.
KEPT_ROLES = ("data", "log")


def _ownership(state: dict) -> str:
    return f"{state['user']} {state['group']} {state['mode']:o}"


def _wanted(item: dict) -> str:
    return f"{item['user']} {item['group']} {item['mode']}"


def _entry(item: dict, adopted: str | None = None) -> Entry:
    return {"role": item["role"], "app_name": item["app_name"], "adopted": adopted}


def _written(record: dict[str, Entry]):
    content = "".join(entry_line(path, entry) + "\n" for path, entry in sorted(record.items()))
    yield from managed.file_commands(content.encode(), layout.MADE_RECORD, "root", "root", "600")


def _refusal(item: dict, state: dict) -> str:
    where = f"setting '{item['setting']}' of site {item['app_name']}"
    if state["kind"] != "directory":
        return f"{where}: {item['path']} is a {state['kind']} on the host, not a folder: move it away or name another"
    return (
        f"{where}: {item['path']} exists and was not made by this deploy ({_ownership(state)}), so it is left as it"
        " is: name a folder that does not exist yet, or, if this one is meant for the app (a mount point), list it"
        " in adopted_folders (its owner and mode are given back when no setting names it)"
    )


def _parents(path: str) -> list[str]:
    parents = []
    while (path := posixpath.dirname(path)) != "/":
        parents.append(path)
    return parents


def _unsafe_parent(item: dict, states: dict) -> str | None:
    """Why a new folder or file must not be made where the item says: a folder on its way
    that someone other than root owns or may write in could have the deploy's own swapped
    for a link (the next chown would follow it) or read."""
    for parent in reversed(_parents(item["path"])):
        state = states.get(parent)
        if state is None:
            return None
        mode = 0 if state["kind"] == "link" else state["mode"]
        if state["user"] != "root":
            who = f"user {state['user']} owns"
        elif mode & 0o002:
            who = "every user may write in"
        elif mode & 0o020:
            who = f"group {state['group']} may write in"
        else:
            continue
        return (
            f"setting '{item['setting']}' of site {item['app_name']}: {item['path']} would be made in {parent}, which"
            f" {who} ({_ownership(state)}): they could swap what the deploy makes there. Name a folder whose parents"
            " are root's alone (/srv/<app>, /var/lib/<app>)"
        )
    return None


@operation()
def claimed(items: list[dict], everything: list[dict], adopted: list[str]):
    """
    Record what the present sites' settings name before any of it is made; fail, before
    anything changes, when one of their folders exists and the deploy did not make it, or
    would be made in a folder someone other than root owns or may write in.

    + items: what the present sites' settings make
    + everything: all items of the run, those of absent sites too
    + adopted: existing folders the deploy may take over (adopted_folders), their owner
      and mode recorded to be given back

    On a host an earlier version deployed (no record yet), a folder that already has the
    owner and mode the deploy gives it, of a present or absent site, is recorded as made.
    """
    answer = cached_fact(MadeOnHost)
    record, earlier = answer["record"], answer["earlier"]
    # A no-change rerun finds everything recorded: nothing more to ask.
    unrecorded = [item for item in everything if item["path"] not in record and (item in items or earlier)]
    asked = {path for item in unrecorded for path in [item["path"], *_parents(item["path"])]}
    states = host.get_fact(PathStates, paths=sorted(asked)) if unrecorded else {}
    claims = dict(record)
    problems = []
    for item in unrecorded:
        path, state = item["path"], states.get(item["path"])
        if path in claims:
            continue
        if state is None:
            if item in items:
                problem = _unsafe_parent(item, states) if item["role"] in FOLDER_ROLES else None
                if problem:
                    problems.append(problem)
                    continue
                claims[path] = _entry(item)
        elif item["role"] not in FOLDER_ROLES:
            # Files of the deploy's own names; an earlier version's certbot lineage.
            if item["role"] != "acme" or earlier:
                claims[path] = _entry(item)
        elif earlier and state["kind"] == "directory" and _ownership(state) == _wanted(item):
            claims[path] = _entry(item)
        elif item in items and path in adopted and state["kind"] == "directory":
            claims[path] = _entry(item, adopted=_ownership(state))
        elif item in items:
            problems.append(_refusal(item, state))
    if problems:
        raise OperationError("; ".join(problems))
    if claims == record:
        host.noop("the record holds everything the settings make")
        return
    yield from _written(claims)


@operation()
def folders_exist(folders: list[dict]):
    """
    Make folders claimed has recorded exist, each with its owner and mode, read by the
    record's one command.

    + folders: of a site's own_folders
    """
    states = cached_fact(MadeOnHost)["states"]
    # Recorded by claimed, unless in a dry run, which writes no record.
    unrecorded = [folder["path"] for folder in folders if folder["path"] not in states]
    if unrecorded:
        states = {**states, **host.get_fact(PathStates, paths=unrecorded)}
    for folder in folders:
        path = folder["path"]
        state = states[path]
        if state is not None and state["kind"] != "directory":
            raise OperationError(f"{path} is a {state['kind']}, where the deploy keeps a folder: move it away")
        if state is None:
            yield StringCommand("mkdir", "-p", QuoteString(path))
        yield from managed.ownership_commands(state, path, folder["user"], folder["group"], int(folder["mode"], 8))


def former_instances(current: list[str]) -> list[str]:
    """The app names of the instances recorded on the host that no present site runs in."""
    answer = cached_fact(MadeOnHost)
    return [
        entry["app_name"]
        for path, entry in answer["record"].items()
        if entry["role"] == "instance" and path not in current and answer["states"].get(path) is not None
    ]


@operation()
def leftovers_removed(current: list[str], present: list[str], absent: dict[str, bool]):
    """
    Last: what a former setting of a present site made is removed (an old app or
    certificate folder, the logrotate rule of a former log_dir, the ACME CA no site needs),
    a folder the deploy took over and no setting names any more gets its owner and mode
    back, and the record forgets what is no longer on the host. An absent site's data
    folder goes only when the deploy made it and data_removed_with_site says so; a former
    data or log folder of a present site stays, with a warning. What belongs to a site the
    settings do not name is left as it is.

    + current: the paths the present sites' settings name
    + present: the present sites' app names
    + absent: each absent site's app name and its data_removed_with_site
    """
    answer = cached_fact(MadeOnHost)
    record, states = answer["record"], answer["states"]
    kept: dict[str, Entry] = {}
    commands: list = []
    for path, entry in record.items():
        state, app_name, role = states.get(path), entry["app_name"], entry["role"]
        if state is None:
            continue
        declared = app_name is None or app_name in present or app_name in absent
        if path in current or not declared:
            kept[path] = entry
            continue
        if entry["adopted"]:
            user, group, mode = entry["adopted"].split(" ")
            if (state["user"], state["group"]) != (user, group):
                commands.append(chown(path, user, group))
            if f"{state['mode']:o}" != mode:
                commands.append(chmod(path, mode))
            logger.warning(
                f"{host.name}: {path}, taken over for {app_name}, has its owner and mode back ({user}:{group} {mode});"
                " the deploy never deletes a folder it did not make"
            )
            continue
        if role == "instance":
            # Stopped once the front no longer passes requests on to it (instances_stopped).
            commands += managed.folder_removal_commands(path, list(layout.INSTANCE_FILES))
            continue
        if app_name in absent:
            if role == "data" and absent[app_name]:
                commands.append(StringCommand("rm", "-rf", "--", QuoteString(path)))
                continue
            # The rest is the absent site's own removal's (its folder, certificate, user).
            kept[path] = entry
            continue
        if role in KEPT_ROLES:
            logger.warning(
                f"{host.name}: {path}, a former {role} folder of {app_name}, is kept with what it holds: move or"
                " delete it by hand when it is no longer needed"
            )
            outcome.record(host.name, outcome.NOTICES, [f"kept: {path}, a former {role} folder of {app_name}"])
            kept[path] = entry
        elif role == "app":
            commands += managed.folder_removal_commands(path, layout.made_in_install_path(app_name))
        elif role == "certificate":
            commands += managed.folder_removal_commands(path, list(layout.MADE_IN_OWN_TLS_DIR))
        elif role == "acme":
            cert_name = posixpath.basename(path)
            commands.append(
                StringCommand("certbot", "delete", "--non-interactive", "--cert-name", QuoteString(cert_name))
            )
        else:
            commands.append(StringCommand("rm", "-f", "--", QuoteString(path)))
            if role == "ca":
                commands.append(StringCommand("update-ca-certificates --fresh >/dev/null"))
    # Forgetting what is gone from the host is the record's bookkeeping, done by a deploy:
    # the drift check (a run that only plans) has no drift to report for it.
    if kept == record or (not commands and host.state.current_stage == StateStage.Prepare):
        host.noop("nothing a former setting made is left")
        return
    yield from commands
    yield from _written(kept)

"""
A site's app: its own user and folder, and one release pipeline for every source of
code. The code arrives (a folder's files uploaded and compared one by one, or a git
commit fetched on the host); then, whatever brought it, the release gets the virtualenv
named by its pinned requirements, its links into the app's data folder (which outlives
releases), its public copy of the static files, the app's environment and entry point,
its release commands, and goes live once its health check passed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from io import StringIO

from pyinfra import host, logger
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.files import FileContents

from apache_wsgi_deploy import layout, outcome, sources
from apache_wsgi_deploy.declared import template
from apache_wsgi_deploy.deploys.unit import site_deploy
from apache_wsgi_deploy.facts.cache import cached_fact
from apache_wsgi_deploy.facts.files import FolderEntries
from apache_wsgi_deploy.facts.python import HostPython
from apache_wsgi_deploy.facts.releases import Releases
from apache_wsgi_deploy.operations import accounts, certbot, instance, managed, python, record, releases


@dataclass(frozen=True)
class ReleaseSource:
    """What the control machine knows of a release before the host has it."""

    # Names the release: a folder's digest or a commit, shortened.
    content: str
    requirements: list[str]
    # The full commit of a git source.
    commit: str | None = None


def restart_command(site) -> list[str]:
    """What restarts the site's app into the live release without a reload of the host's
    Apache: a graceful restart of its own instance, or for mod_wsgi's daemon processes a
    new mtime on the .wsgi file."""
    if site.own_instance:
        return instance.reload_command(site.app_name, site.paths.instance_error_log)
    return ["touch", site.paths.wsgi_script]


def release_source(site) -> ReleaseSource:
    if site.from_git:
        url, ref = site.app_source["git"], site.app_source["ref"]
        commit = sources.git_commit(url, ref)
        return ReleaseSource(commit[:12], sources.git_requirements(url, ref, commit), commit)
    folder = sources.project_path(site.app_source)
    return ReleaseSource(sources.tree_digest(folder, site.code_exclude), sources.pinned_requirements(folder))


def _code_arrives(site, source: ReleaseSource, release: str, app_files: dict):
    """The release's app/: the only step where the sources differ."""
    if site.from_git:
        return releases.from_git(
            name="Release holds the commit's code, read-only for the daemon",
            url=site.app_source["git"],
            ref=site.app_source["ref"],
            commit=source.commit,
            cache=site.paths.git_cache,
            install_path=site.app_install_path,
            release=release,
            group=site.wsgi_group,
        )
    # Compared file by file: an edit of the live release on the host is put back.
    return managed.tree(
        name="Release holds the app's code, read-only for the daemon",
        src=str(sources.project_path(site.app_source)),
        dest=f"{site.paths.release_dir(release)}/app",
        **app_files,
        mode="640",
        dir_mode="750",
        exclude=site.code_exclude,
        keep=site.code_made_on_host,
    )


def _maintenance_page(site) -> None:
    """The page the site answers with while in maintenance, for Apache to read."""
    page = {"dest": site.paths.maintenance_page, "user": "root", "group": "root", "mode": "644"}
    if site.maintenance_page is None:
        managed.template(
            name="Maintenance page is in place",
            src=template("maintenance.html.j2"),
            server_name=site.server_name,
            **page,
        )
    else:
        managed.file(name="Maintenance page is in place", src=str(sources.project_path(site.maintenance_page)), **page)


def _app_files(site) -> dict:
    # Only the daemon's group reads the code: another app's user cannot.
    return {"user": "root", "group": site.wsgi_group}


def _generation(environment: str, entry: str, venv: str) -> str:
    """What names a release besides its code: its settings and its virtualenv. Other
    settings, or another Python (Debian upgraded in place), same code: a new release,
    health-checked before it goes live, while the live one keeps its own."""
    return hashlib.sha1(f"{entry}\n{venv}\n{environment}".encode()).hexdigest()[:8]


def _venv_name(requirements: list[str]) -> str:
    """The virtualenv of these pins built by the host's Python: python3.13-<pins digest>."""
    version = cached_fact(HostPython)
    if version is None:
        raise DeployError(
            f"{layout.HOST_PYTHON} on the host is not a link to a versioned python3.X (Debian's python3 package "
            f"makes one): install python3 first, then deploy"
        )
    return f"python{version}-{sources.requirements_digest(requirements)}"


def _release_made(site, environment: str) -> tuple[str, list]:
    """The release of the site's code and settings, with its virtualenv and links: its
    name, and the operations whose change means the daemons must load it again."""
    paths = site.paths
    source = release_source(site)
    known = cached_fact(Releases, install_path=site.app_install_path)["releases"]
    venv = _venv_name(source.requirements)
    release = sources.release_name(f"{source.content}-{_generation(environment, site.wsgi_entry, venv)}", known)
    code = _code_arrives(site, source, release, _app_files(site))
    packages = python.venv_requirements(
        name="Virtualenv from the host's python3 holds the pinned requirements",
        requirements=source.requirements,
        venv=f"{paths.venvs_dir}/{venv}",
        python=layout.HOST_PYTHON,
    )
    releases.venv_linked(
        name="Release uses the virtualenv of its requirements",
        install_path=site.app_install_path,
        release=release,
        venv=venv,
    )
    if site.linked_dirs:
        managed.links(
            name="Release's linked folders lead to the data folder",
            links={f"{paths.release_dir(release)}/app/{name}": paths.linked_dir(name) for name in site.linked_dirs},
        )
    return release, [code, packages]


def _not_here(site, setting: str) -> list[str]:
    """The names of an app value setting (app_env, secret_files) this machine cannot read:
    only a run that only reads gets this far without them (settings.validate_host), and
    compares them as the host's live release has them, saying so."""
    missing = [name for name, source in getattr(site, setting).items() if not sources.readable_here(source)]
    if missing:
        names = ", ".join(missing)
        notice = f"{site.app_name}: {setting} {names} cannot be read here, compared as the live release has it"
        outcome.record(host.name, outcome.NOTICES, [notice])
    return missing


def _deployed_environment(site) -> dict[str, str]:
    """The live release's environment on the host ({} without one)."""
    contents = cached_fact(FileContents, path=site.paths.env_file)
    return json.loads("\n".join(contents)) if contents else {}


def _environment_json(site, secrets_dir: str | None) -> str:
    """What the app's processes find in os.environ (app_env, and where its data folder
    and its secret files are), as JSON."""
    missing = _not_here(site, "app_env")
    values = sources.app_environment({name: value for name, value in site.app_env.items() if name not in missing})
    if missing:
        deployed = _deployed_environment(site)
        values.update({name: deployed[name] for name in missing if name in deployed})
    values[layout.DATA_DIR_VARIABLE] = site.data_dir
    if secrets_dir is not None:
        values[layout.SECRETS_DIR_VARIABLE] = secrets_dir
    return json.dumps(values, indent=1, sort_keys=True) + "\n"


def _secret_files(site) -> str | None:
    """The site's secret files in their folder (named by their contents, outside every
    release), root's and readable by the app's group alone; its path."""
    if not site.secret_files:
        return None
    if _not_here(site, "secret_files"):
        return _deployed_environment(site).get(layout.SECRETS_DIR_VARIABLE)
    contents = sources.secret_file_contents(site.secret_files)
    folder = site.paths.secrets_dir(sources.contents_digest(contents))

    def files() -> dict[str, bytes]:
        return contents

    managed.private_files(
        name="Secret files are in place, for the app alone",
        files=files,
        dest=folder,
        **_app_files(site),
        mode="640",
        dir_mode="750",
    )
    return folder


def _in_app(site, release_dir: str) -> list[str]:
    """The command (argv) that runs what follows it as the app's user, in the release's
    context and with the daemons' umask, for at most release_command_timeout seconds."""
    in_app = releases.in_release(release_dir, site.data_dir, site.wsgi_umask, site.release_command_timeout)
    return ["runuser", "-u", site.wsgi_user, "--", *in_app]


def snapshot_command(site, command: str | None) -> releases.SnapshotCommand | None:
    """snapshot_command or snapshot_restore_command, as the snapshot tool runs it."""
    if command is None:
        return None
    return releases.SnapshotCommand(command, site.data_dir, site.wsgi_umask, site.release_command_timeout)


def _maintenance_for_commands(site) -> tuple[str, str] | None:
    """The flag and the deploy's marker, where the site is in maintenance from before its
    release commands until the release is live."""
    if not (site.release_commands and site.maintenance_during_release_commands):
        return None
    return site.paths.maintenance_flag, site.paths.maintenance_by_deploy


def _release_live(site, release: str, environment: str, reloaded: list) -> None:
    """The release's environment and entry point, its release commands, then the release
    live once healthy, and the .wsgi file that loads the live release."""
    paths, release_dir = site.paths, site.paths.release_dir(release)
    settings = [
        managed.file(
            name="Release holds the app's environment, for the app alone",
            src=StringIO(environment),
            dest=paths.release_env_file(release),
            **_app_files(site),
            mode="640",
            private=True,
        ),
        managed.file(
            name="Release holds the app's entry point",
            src=StringIO(site.wsgi_entry + "\n"),
            dest=paths.release_entry_file(release),
            **_app_files(site),
            mode="640",
        ),
    ]
    if site.setup_commands:
        releases.setup_commands_ran(
            name="Setup commands ran once for the app's data, as the app's user",
            data_dir=site.data_dir,
            commands=site.setup_commands,
            run_in_app=_in_app(site, release_dir),
        )
    if site.release_commands and site.snapshots_kept:
        releases.snapshot_taken(
            name="Data folder is in a snapshot before the release commands run",
            install_path=site.app_install_path,
            release=release,
            commands=site.release_commands,
            data_dir=site.data_dir,
            user=site.wsgi_user,
            group=site.wsgi_group,
            keep=site.snapshots_kept,
            command=snapshot_command(site, site.snapshot_command),
        )
    if site.release_commands:
        releases.commands_ran(
            name="Release commands ran in the release, as the app's user",
            install_path=site.app_install_path,
            release=release,
            commands=site.release_commands,
            run_in_app=_in_app(site, release_dir),
            build_dirs=site.build_dirs,
            user=site.wsgi_user,
            group=site.wsgi_group,
            maintenance=_maintenance_for_commands(site),
        )
    # After the commands: static_dir may be a folder they made (collectstatic's).
    if site.static_url is not None:
        releases.static_files(
            name="Release holds the static files, for Apache",
            release=release_dir,
            static_dir=site.static_dir,
        )
    # The release's app answers a real request on the host, as its own user, before it is live.
    run_as_app = ["runuser", "-u", site.wsgi_user, "--", f"{release_dir}/venv/bin/python", layout.HEALTH_CHECK]
    # Asked for as https://<server_name><health_check_path>, as Apache would pass the request on.
    checked = [release_dir, site.server_name, site.health_check_path, str(site.health_check_timeout)]
    switched = releases.live(
        name="Release is live, once its health check passed",
        install_path=site.app_install_path,
        release=release,
        restart=restart_command(site),
        health_check=run_as_app + checked,
        source=f"git {site.app_source['git']} {site.app_source['ref']}" if site.from_git else "folder",
        maintenance=_maintenance_for_commands(site),
    )
    # After the switch: a release from before releases held their settings cannot be loaded by it.
    loader = managed.template(
        name="WSGI entry point loads the live release",
        src=template("app.wsgi.j2"),
        dest=paths.wsgi_script,
        **_app_files(site),
        mode="640",
        site=site,
        paths=paths,
        entry_point=layout.ENTRY_POINT,
    )
    releases.pruned(
        name="Only the newest releases are kept",
        install_path=site.app_install_path,
        keep=site.releases_kept,
        live=release,
    )

    def repaired() -> bool:
        """A live release put back as deployed, or a new loader: restarted into without a
        reload of the host's Apache (a switch restarted already)."""
        if switched.did_change():
            return False
        if loader.did_change():
            # mod_wsgi's daemon processes restart for a new .wsgi file by themselves.
            return site.own_instance
        return any(operation.did_change() for operation in [*settings, *reloaded])

    releases.restarted(name="The app restarts into its repaired release", restart=restart_command(site), _if=repaired)


@site_deploy("Accounts")
def app_runs_unprivileged(site):
    """First of all: a deploy that would run an app as an account that can become root
    changes nothing."""
    accounts.unprivileged(
        name="The app's user and group have no privileges", user=site.wsgi_user, group=site.wsgi_group
    )


@site_deploy("Application")
def app_release(site):
    if site.dedicated_user:
        accounts.system_user(name="The app's own system user exists", user=site.wsgi_user, home=site.app_install_path)
    # Apache's own children may only pass through the folder, to the .wsgi file it maps / to.
    # The app folder owned by root: Apache's own children may only pass through it. The
    # data folder the app's own, kept across releases.
    record.folders_exist(
        name="App and data folders exist, with their owners",
        folders=[site.own_folders[role] for role in ("app", "data")],
    )
    if site.linked_dirs:
        data = site.own_folders["data"]
        managed.folders(
            name="Data folder holds the release's linked folders",
            paths=list(map(site.paths.linked_dir, site.linked_dirs)),
            user=data["user"],
            group=data["group"],
            mode=data["mode"],
        )
    _maintenance_page(site)
    # Before the release's commands and health check, which read them.
    environment = _environment_json(site, _secret_files(site))
    release, reloaded = _release_made(site, environment)
    previous = cached_fact(Releases, install_path=site.app_install_path)["current"]
    made = {"install_path": site.app_install_path, "release": release, "previous": previous}
    outcome.record(host.name, outcome.RELEASES, [made])
    _release_live(site, release, environment, reloaded)


@site_deploy("Application")
def former_layout_removed(site):
    """After the reload: the code and venv folders of the layout before releases."""
    releases.former_layout_removed(
        name="Folders of the layout before releases are removed", install_path=site.app_install_path
    )


@site_deploy("Removed app")
def app_removed(site, settings):
    """After the reload: an absent site's files, certificate and own user."""
    managed.folder_removed(
        name="App folder is deleted", path=site.app_install_path, entries=site.paths.made_in_install_path
    )
    # A renamed site serves the same name: the certificate (its folder and certbot's
    # lineage are the server name's) is now the new site's.
    if site.server_name in [other.server_name for other in settings.present_sites]:
        logger.info(f"{host.name}: the certificate of {site.server_name} is kept: a present site serves that name")
    elif site.tls_certificate_source == "acme":
        certbot.certificate_removed(name="Certificate is deleted", cert_name=site.server_name)
    else:
        managed.folder_removed(
            name="Certificate folder is deleted",
            path=site.paths.own_tls_dir,
            entries=site.paths.made_in_own_tls_dir,
        )
    # The data folder itself goes last, with what former settings made (deploys.made).
    if not site.data_removed_with_site and host.get_fact(FolderEntries, path=site.data_dir) is not None:
        logger.warning(f"{host.name}: {site.data_dir} is kept: the app's data stays unless data_removed_with_site")
    if site.dedicated_user:
        accounts.system_user_removed(
            name="The app's own user is deleted", user=site.wsgi_user, home=site.app_install_path
        )

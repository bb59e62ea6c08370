"""
One host's settings, validated once against the schema before any operation is built:
`Settings.from_data` turns a host's merged data (group files, host data, --data) over the
schema's defaults into a `Settings` and its `Site`s, or raises one `SettingsError` listing
every bad setting. Every "auto" value that depends on other settings alone is resolved
here; `wsgi_processes` depends on the host's CPUs and is resolved by the vhosts unit.
"""

from __future__ import annotations

import functools
import os
import re
import zlib
from dataclasses import field, make_dataclass
from typing import Any

from pyinfra.api.exceptions import DeployError, PyinfraError

from apache_wsgi_deploy import layout, sources
from apache_wsgi_deploy.schema import HOST_KEYS, MPM_SERVER_LIMIT, SETTINGS, SITE_KEYS
from apache_wsgi_deploy.validators import Invalid

# pyinfra's own keys (connection and global arguments) share host.data with ours.
PYINFRA_KEY = re.compile(r"^(_|ssh_|winrm_|docker_|chroot_|local_|podman_)")
TLS_FILES = ("tls_certificate_file", "tls_chain_file", "tls_key_file")


# The settings whose values the app reads (its environment, its secret files): a run that
# only reads the hosts compares them as the host has them when they cannot be read here.
APP_VALUE_SETTINGS = ("app_env", "secret_files")


class SettingsError(PyinfraError, ValueError):
    """Bad group_data; the message names host, setting, value and allowed form.

    A PyinfraError, so pyinfra's CLI prints the message rather than a traceback."""


class _SiteMethods:
    """What a Site answers beyond its settings (its fields come from the schema)."""

    @functools.cached_property
    def paths(self) -> layout.SitePaths:
        return layout.SitePaths(
            app_name=self.app_name,
            install_path=self.app_install_path,
            server_name=self.server_name,
            log_dir=self.log_dir,
            tls_dir=self.tls_dir,
            acme=self.tls_certificate_source == "acme",
            data_dir=self.data_dir,
            own_instance=self.own_instance,
        )

    @property
    def own_instance(self) -> bool:
        return self.apache_instance == "own"

    @functools.cached_property
    def own_folders(self) -> dict[str, dict]:
        """Each folder the site's settings name, by role (deploys.made), with the setting
        naming it and the owner and mode the deploy gives it."""

        def folder(path: str, role: str, setting: str, user: str, group: str, mode: str) -> dict:
            return {
                "path": path, "role": role, "app_name": self.app_name, "setting": setting,
                "user": user, "group": group, "mode": mode,
            }  # fmt: skip

        paths = self.paths
        folders = {
            # Apache's own children may only pass through it, to the .wsgi file it maps / to.
            "app": folder(self.app_install_path, "app", "app_install_path", "root", self.wsgi_group, "751"),
            "data": folder(self.data_dir, "data", "data_dir", self.wsgi_user, self.wsgi_group, "750"),
        }
        if paths.own_log_dir:
            # As Apache's own /var/log/apache2.
            folders["log"] = folder(self.log_dir, "log", "log_dir", "root", layout.LOG_GROUP, "750")
        if not paths.acme:
            # Only Apache's parent process, as root, reads keys; a private folder also hides
            # a key between its copy and its chmod.
            folders["certificate"] = folder(paths.own_tls_dir, "certificate", "tls_dir", "root", "root", "700")
        if self.own_instance:
            # Named by the app alone: never one the deploy did not make (an admin's own instance).
            instance_dir = layout.instance_dir(self.app_name)
            folders["instance"] = folder(instance_dir, "instance", "apache_instance", "root", "root", "755")
        return folders

    @property
    def from_git(self) -> bool:
        return isinstance(self.app_source, dict)

    @property
    def code_exclude(self) -> list[str]:
        """What a folder source leaves out of a release: the names excluded, and the linked folders."""
        return [*self.app_source_exclude, *self.code_made_on_host]

    @property
    def code_made_on_host(self) -> list[str]:
        """What a release's code gets on the host itself: its linked and build folders."""
        return [f"/{name}" for name in [*self.linked_dirs, *self.build_dirs]]

    @property
    def static_source(self) -> str:
        """The static folder on the control machine."""
        return f"{self.app_source}/{self.static_dir}"

    @property
    def wsgi_module(self) -> str:
        return self.wsgi_entry.partition(":")[0]

    @property
    def wsgi_callable(self) -> str:
        """The application, or the factory that makes it (without its "()")."""
        return self.wsgi_entry.partition(":")[2].removesuffix("()")

    @property
    def wsgi_factory(self) -> bool:
        """wsgi_entry is module:factory(): called once per daemon process for the application."""
        return self.wsgi_entry.endswith("()")

    def names(self) -> list[str]:
        """Every name the site serves, and its certificate must cover: server name first."""
        return [self.server_name, *self.server_aliases]

    def daemon_processes(self, cpu_count: int) -> int:
        """wsgi_processes, with "auto" as one per CPU of the host (1 to 64): the deploy, the
        verification suite and the benchmark all ask the host's count with pyinfra's Cpus fact."""
        if self.wsgi_processes == "auto":
            return min(max(cpu_count, 1), 64)
        return self.wsgi_processes

    def control_files(self) -> list[tuple[str, str]]:
        """(setting, path) of the files the site names on the control machine."""
        files = [] if self.from_git else [("app_source", self.app_source)]
        files += [(key, getattr(self, key)) for key in TLS_FILES if getattr(self, key) is not None]
        # A folder its release commands make exists on the host alone.
        if self.static_url is not None and not self.from_git and self.static_dir.split("/")[0] not in self.build_dirs:
            files.append(("static_dir", self.static_source))
        if self.maintenance_page is not None:
            files.append(("maintenance_page", self.maintenance_page))
        return files + self._sources("from_file")

    def control_environment(self) -> list[tuple[str, str]]:
        """(setting, variable) of the control machine's environment variables the site reads."""
        return self._sources("from_env")

    def control_commands(self) -> list[tuple[str, str | list]]:
        """(setting, command) of the programs the site's app values are read from on the
        control machine (a site to remove reads none)."""
        return self._sources("from_command") if self.app_present else []

    def _sources(self, kind: str) -> list[tuple[str, str]]:
        """(setting, reference) of the app_env values and secret_files of this kind."""
        return [
            (f"{key}.{name}", source[kind])
            for key in APP_VALUE_SETTINGS
            for name, source in getattr(self, key).items()
            if isinstance(source, dict) and kind in source
        ]


class _SettingsMethods:
    @classmethod
    def from_data(cls, host_name: str, data: dict[str, Any]) -> Settings:
        """Validate a host's merged data; raise SettingsError listing every bad setting."""
        return _settings_from_data(cls, host_name, data)

    def control_files(self) -> list[tuple[str, str]]:
        """(setting, path) of every file the settings name on the control machine."""
        files = self._per_site(_SiteMethods.control_files)
        if self.acme_ca_bundle is not None:
            files.append(("acme_ca_bundle", self.acme_ca_bundle))
        return files

    def control_environment(self) -> list[tuple[str, str]]:
        """(setting, variable) of every control machine environment variable the sites read."""
        return self._per_site(_SiteMethods.control_environment)

    def control_commands(self) -> list[tuple[str, str | list]]:
        """(setting, command) of every program the sites' app values are read from."""
        return self._per_site(_SiteMethods.control_commands)

    def _per_site(self, pairs) -> list[tuple[str, str]]:
        """Each site's (setting, value) pairs, the setting named sites[N].<key> when there are several."""
        return [
            (f"{_label(self.sites, index)}{key}", value)
            for index, site in enumerate(self.sites)
            for key, value in pairs(site)
        ]

    @property
    def present_sites(self) -> list:
        return [site for site in self.sites if site.app_present]

    @property
    def absent_sites(self) -> list:
        return [site for site in self.sites if not site.app_present]

    def uses_acme(self) -> bool:
        return any(site.tls_certificate_source == "acme" for site in self.present_sites)

    def uses_git(self) -> bool:
        return any(site.from_git for site in self.present_sites)

    def uses_http2(self) -> bool:
        return any(site.http2 for site in self.present_sites)

    def uses_own_instances(self) -> bool:
        return any(site.own_instance for site in self.present_sites)

    @property
    def directory_options(self) -> str:
        """Options for every directory: never FollowSymLinks, Indexes only if asked for."""
        return "Indexes" if self.directory_listings else "None"

    @property
    def allow_override(self) -> str:
        return "All" if self.htaccess_overrides else "None"


def _field(name: str) -> tuple:
    return (name, Any, field(repr=not SETTINGS[name].secret))


# One site (vhosts, app, daemon process group, certificate) with "auto" values resolved;
# dedicated_user: wsgi_user was "auto", a system user of the app's own, which the deploy
# creates and, once the site is absent, removes.
Site = make_dataclass("Site", [*map(_field, SITE_KEYS), ("dedicated_user", bool)], bases=(_SiteMethods,), frozen=True)
# One host's validated settings: the server-wide ones and its sites (a tuple of Site).
Settings = make_dataclass("Settings", list(map(_field, HOST_KEYS)), bases=(_SettingsMethods,), frozen=True)
Site.__module__ = Settings.__module__ = __name__


def instance_port(app_name: str, port: int | str) -> int:
    """apache_instance_port, "auto" resolved: the same port for the same name on every run."""
    if port != "auto":
        return port
    ports = layout.INSTANCE_PORTS
    return ports[zlib.crc32(app_name.encode()) % len(ports)]


def resolve_site(values: dict[str, Any]) -> Site:
    """A Site from its validated values, "auto" resolved: the app's own user, group and folder."""
    dedicated_user = values["wsgi_user"] == "auto"
    user = values["app_name"] if dedicated_user else values["wsgi_user"]
    install_path = values["app_install_path"]
    return Site(
        **{
            **values,
            "app_install_path": f"/srv/{values['app_name']}" if install_path == "auto" else install_path,
            "data_dir": f"/var/lib/{values['app_name']}" if values["data_dir"] == "auto" else values["data_dir"],
            "wsgi_user": user,
            # Debian gives each system user a group of its own name.
            "wsgi_group": user if values["wsgi_group"] == "auto" else values["wsgi_group"],
            "apache_instance_port": instance_port(values["app_name"], values["apache_instance_port"]),
            # The certificate files belong to the "files" source only.
            **({} if values["tls_certificate_source"] == "files" else dict.fromkeys(TLS_FILES)),
            "dedicated_user": dedicated_user,
        }
    )


# Credentials in a URL (https://user:password@host/): never printed back.
URL_CREDENTIALS = re.compile(r"(://)[^/@\s'\"]*@")
NOT_SHOWN = "<not shown: it may hold secrets>"


def shown(key: str, value: Any) -> str:
    """A value as a message shows it: a secret setting's never (nor in a `sites` entry),
    credentials in a URL masked."""
    if key in SETTINGS and SETTINGS[key].secret:
        return NOT_SHOWN
    if key == "sites" and isinstance(value, list):
        secret = {name for name, setting in SETTINGS.items() if setting.secret}
        value = [
            {name: NOT_SHOWN if name in secret else item for name, item in entry.items()}
            if isinstance(entry, dict)
            else entry
            for entry in value
        ]
    return URL_CREDENTIALS.sub(r"\1***@", repr(value))


def _validated(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Every setting's value, validated; the problems of the unknown, missing and invalid ones."""
    problems = [
        f"unknown setting {key!r} (a typo? every setting is in docs/settings.md)"
        for key in sorted(set(data) - set(SETTINGS))
        if not PYINFRA_KEY.match(key)
    ]
    values = {}
    for key, setting in SETTINGS.items():
        # What the inventory and group_data leave out is the schema's default.
        value = data.get(key, setting.default)
        try:
            values[key] = setting.validate(value)
        except Invalid as allowed:
            problems.append(f"setting {key!r} = {shown(key, value)} is invalid: expected {allowed}")
    return values, problems


def _site_values(index: int, entry: dict, defaults: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A `sites` entry over the top-level defaults, each value it sets validated."""
    unknown = sorted(set(entry) - set(SITE_KEYS), key=str)
    problems = [
        f"setting 'sites[{index}]' has {key!r}, which is not a per-site setting (those are: "
        + ", ".join(SITE_KEYS)
        + ")"
        for key in unknown
    ]
    values = {key: defaults[key] for key in SITE_KEYS}
    for key in set(entry) & set(SITE_KEYS):
        try:
            values[key] = SETTINGS[key].validate(entry[key])
        except Invalid as allowed:
            problems.append(f"setting 'sites[{index}].{key}' = {shown(key, entry[key])} is invalid: expected {allowed}")
    return values, problems


def _label(sites, index: int) -> str:
    """How a site's settings are named in messages: sites[N].<key> when there are several."""
    return f"sites[{index}]." if len(sites) > 1 else ""


def _site_problems(label: str, values: dict[str, Any], entry: dict) -> list[str]:
    """A site's settings that are valid alone but not together."""
    problems = [
        f"setting '{label}app_env' sets {name}, which the deploy sets itself (the path of data_dir): use another name"
        for name in values["app_env"]
        if name in layout.DEPLOY_ENVIRONMENT
    ]
    if values["static_url"] is not None:
        static = values["static_dir"]
        module = values["wsgi_entry"].partition(":")[0].replace(".", "/")
        if static.split("/")[0] in values["linked_dirs"]:
            problems.append(
                f"setting '{label}static_dir' = {static!r} is in linked_dirs, the app's data: Apache would serve it"
            )
        if module == static or module.startswith(f"{static}/"):
            problems.append(
                f"setting '{label}static_dir' = {static!r} holds the app's entry module ({module}):"
                " Apache would serve its code"
            )
    if values["build_dirs"] and not values["release_commands"]:
        problems.append(f"setting '{label}build_dirs' names folders but no release_commands make them: add the command")
    problems += [
        f"setting '{label}build_dirs' has {name!r}, which linked_dirs has too: a folder is the data's or the release's"
        for name in values["build_dirs"]
        if name in values["linked_dirs"]
    ]
    return problems + _certificate_file_problems(label, values, entry)


def _certificate_file_problems(label: str, values: dict[str, Any], entry: dict) -> list[str]:
    source = values["tls_certificate_source"]
    if source == "files":
        return [
            f"setting '{label}{key}' is None but tls_certificate_source is 'files': name the file to upload"
            for key in TLS_FILES
            if values[key] is None
        ]
    # A site that sets its own source leaves the top-level certificate files to the others.
    return [
        f"setting '{label}{key}' = {values[key]!r} is only used when tls_certificate_source is 'files'"
        f" (it is {source!r}): set it to None"
        for key in TLS_FILES
        if values[key] is not None and (key in entry or "tls_certificate_source" not in entry)
    ]


def _host_problems(values: dict[str, Any], sites: list[Site], ssh_user: str | None) -> list[str]:
    """Host-wide settings that contradict each other, the sites or the SSH user."""
    problems = [
        f"setting '{_label(sites, index)}wsgi_user' = {ssh_user!r} is the SSH user the deploy logs in as, who can"
        " become root: give the app an unprivileged user of its own"
        for index, site in enumerate(sites)
        if site.wsgi_user == ssh_user
    ]
    acme = any(site.tls_certificate_source == "acme" for site in sites)
    if acme and not values["acme_agree_tos"]:
        problems.append(
            "setting 'acme_agree_tos' is False but tls_certificate_source is 'acme': read the terms of"
            f" service of {values['acme_directory_url']} and set it to True"
        )
    if not acme and values["acme_ca_bundle"] is not None:
        problems.append(
            f"setting 'acme_ca_bundle' = {values['acme_ca_bundle']!r} is only used when"
            " tls_certificate_source is 'acme' (no site's is): set it to None"
        )
    threads, workers = values["mpm_threads_per_child"], values["mpm_max_request_workers"]
    if workers % threads or workers > MPM_SERVER_LIMIT * threads:
        problems.append(
            f"setting 'mpm_max_request_workers' = {workers} must be a multiple of mpm_threads_per_child"
            f" ({threads}) and at most {MPM_SERVER_LIMIT} times it ({MPM_SERVER_LIMIT * threads})"
        )
    named = {
        folder["path"]
        for site in sites
        if site.app_present
        for role, folder in site.own_folders.items()
        if role != "instance"
    }
    problems += [
        f"setting 'adopted_folders' lists {folder!r}, which is no present site's app_install_path, data_dir,"
        " log_dir (outside Apache's own) or <tls_dir>/<server_name>: list only folders the settings name"
        for folder in values["adopted_folders"]
        if folder not in named
    ]
    return problems + _clashes(sites)


def _clashes(sites: list[Site]) -> list[str]:
    """Two sites of one host must not share a name, a DNS name, a folder, or the account
    their daemons run as (each app's user is kept out of the others' code and secrets).
    An absent site's DNS names are free: a renamed site takes them over in the run that
    removes its old name."""
    problems = []
    owners: dict[tuple[str, str], int] = {}
    for index, site in enumerate(sites):
        claims = [("app_name", site.app_name), ("app_install_path", site.app_install_path)]
        claims += [("wsgi_user", site.wsgi_user), ("wsgi_group", site.wsgi_group)]
        if site.app_present:
            claims += [("server_name/server_aliases", name) for name in dict.fromkeys(site.names())]
            if site.own_instance:
                claims.append(("apache_instance_port", site.apache_instance_port))
        if len(set(site.names())) < len(site.names()):
            problems.append(f"sites[{index}] names a DNS name twice in server_name and server_aliases: name it once")
        for claim in claims:
            if claim in owners:
                problems.append(
                    f"sites[{owners[claim]}] and sites[{index}] both have {claim[0]} {claim[1]!r}:"
                    " give each site its own"
                )
            owners.setdefault(claim, index)
        for other in sites[:index]:
            inner, outer = sorted((site.app_install_path, other.app_install_path), key=len, reverse=True)
            if inner.startswith(outer + "/"):
                problems.append(f"app_install_path {inner!r} is inside another site's {outer!r}: use separate folders")
    return problems + _data_dir_problems(sites) + _folder_problems(sites)


# The folders a site's settings name on the host, which the deploy makes and owns.
FOLDER_KEYS = ("app_install_path", "data_dir", "log_dir", "tls_dir")


def _folder_problems(sites: list[Site]) -> list[str]:
    """Inside /var/lib or /var/log a folder setting names a folder made for its app alone
    (/var/lib/<app_name>, Apache's /var/log/apache2 for logs): the others there are other
    packages' state. And no folder of one kind is, or lies in, one of another kind (logs in
    the code's folder: two owners set in turn, every request a 403)."""
    problems = []
    for index, site in enumerate(sites):
        label = _label(sites, index)
        for key in FOLDER_KEYS:
            folder = getattr(site, key)
            tree = next((tree for tree in layout.SHARED_TREES if folder == tree or _within(folder, tree)), None)
            if tree is None or (
                key == "log_dir" and (folder == layout.APACHE_LOG_DIR or _within(folder, layout.APACHE_LOG_DIR))
            ):
                continue
            own = folder.removeprefix(f"{tree}/").split("/")[0]
            if key == "tls_dir" or not (
                own == site.app_name or own.startswith((f"{site.app_name}-", f"{site.app_name}_"))
            ):
                problems.append(
                    f"setting '{label}{key}' = {folder!r} is inside {tree}, which holds other packages' state:"
                    f" only a folder made for the app, such as {tree}/{site.app_name}"
                )
    claimed = [(key, getattr(site, key)) for site in sites for key in ("app_install_path", "log_dir", "tls_dir")]
    for index, site in enumerate(sites):
        label = _label(sites, index)
        for key in ("app_install_path", "log_dir"):
            folder = getattr(site, key)
            for other_key, other in claimed:
                if other_key != key and (folder == other or _within(folder, other) or _within(other, folder)):
                    problems.append(
                        f"setting '{label}{key}' = {folder!r} overlaps {other_key} {other!r}: each is a folder of its"
                        " own, with its own owner and mode"
                    )
                    break
    return problems


def _data_dir_problems(sites: list[Site]) -> list[str]:
    """A data folder is the app's to write: it may hold no folder the deploy makes (the
    app could replace its own code, logs or keys), nor lie in one."""
    problems = []
    for index, site in enumerate(sites):
        label = _label(sites, index)
        folders = [(key, getattr(other, key)) for other in sites for key in ("app_install_path", "log_dir", "tls_dir")]
        folders += [("data_dir", other.data_dir) for other in sites if other is not site]
        folders.append(("the deploy's own folder", layout.STATE_DIR))
        for key, folder in folders:
            if site.data_dir == folder or _within(folder, site.data_dir) or _within(site.data_dir, folder):
                problems.append(
                    f"setting '{label}data_dir' = {site.data_dir!r} overlaps {key} {folder!r}: the app writes in its"
                    " data folder, so it must be a folder of its own"
                )
                break
    return problems


def _within(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip("/") + "/")


def _settings_from_data(cls, host_name: str, data: dict[str, Any]) -> Settings:
    values, problems = _validated(data)
    sites = []
    # A bad top-level default is its own setting's problem: the sites wait for it.
    for index, entry in enumerate(values["sites"] if not problems else []):
        site_values, entry_problems = _site_values(index, entry, values)
        label = f"sites[{index}]." if len(values["sites"]) > 1 or entry else ""
        if not entry_problems and not set(entry) - set(SITE_KEYS):
            entry_problems = _site_problems(label, site_values, entry)
        problems += entry_problems
        sites.append(resolve_site(site_values))
    if not problems:
        problems = _host_problems(values, sites, data.get("ssh_user"))
    if problems:
        raise SettingsError(f"host {host_name}: " + f"\nhost {host_name}: ".join(problems))
    return cls(**{**{key: values[key] for key in HOST_KEYS}, "sites": tuple(sites)})


def _certificate_problems(settings: Settings) -> list[str]:
    """The uploaded certificates that would not serve their site."""
    problems = []
    for index, site in enumerate(settings.sites):
        if site.tls_certificate_source == "files" and site.app_present:
            problems += sources.uploaded_certificate_problems(
                site.tls_certificate_file,
                site.tls_chain_file,
                site.tls_key_file,
                site.names(),
                _label(settings.sites, index),
            )
    return problems


def _app_value(key: str) -> bool:
    """Whether a setting as messages name it ("sites[1].app_env.DB") is one of APP_VALUE_SETTINGS."""
    return sources.setting_of(key) in APP_VALUE_SETTINGS


def validate_host(host_name: str, data: dict[str, Any], app_values: bool = True) -> Settings:
    """
    Validate one host's data; raise one SettingsError listing all its problems. Files the
    settings name on the control machine must exist (relative to the project folder), and
    the environment variables they read must be set, and the programs they read print a
    value (run here, once per process); but for the app's values (app_env, secret_files)
    when app_values is False: a run that only reads takes those the control
    machine lacks as the host has them.
    """
    host_settings = Settings.from_data(host_name, data)
    problems = [
        problem
        for key, path in host_settings.control_files()
        if (app_values or not _app_value(key)) and (problem := sources.control_path_problem(key, path)) is not None
    ]
    if not problems:
        problems += _certificate_problems(host_settings)
        if host_settings.acme_ca_bundle is not None:
            bundle = sources.ca_bundle_problem("acme_ca_bundle", host_settings.acme_ca_bundle)
            problems += [bundle] if bundle else []
        for index, site in enumerate(host_settings.present_sites):
            if not site.from_git:
                label = _label(host_settings.sites, index)
                problems += sources.link_problems(f"{label}app_source", site.app_source, site.code_exclude)
                try:
                    sources.pinned_requirements(sources.project_path(site.app_source))
                except DeployError as error:
                    problems.append(f"setting '{label}app_source' = {site.app_source!r}: {error}")
                if ("static_dir", site.static_source) in site.control_files():
                    problems += sources.code_in_static(f"{label}static_dir", site.static_source)
    if app_values:
        problems += [
            f"setting {key!r} reads environment variable {variable}, which is not set on the control machine"
            for key, variable in host_settings.control_environment()
            if variable not in os.environ
        ]
        problems += filter(
            None, (sources.command_problem(key, command) for key, command in host_settings.control_commands())
        )
    if problems:
        raise SettingsError("\n".join(f"host {host_name}: {problem}" for problem in problems))
    return host_settings

"""
The verification suite's pytest plugin: its options, the hosts and sites the checks run
against (read from the same inventory and group_data the deploy uses, in the project
folder), and their fixtures. `awd verify` loads it; so can a team's own pytest, for
checks of its own that take the same fixtures:

    pytest -p apache_wsgi_deploy.verify.plugin --pyargs apache_wsgi_deploy.verify.checks my_checks/
    pytest -p apache_wsgi_deploy.verify.plugin my_checks/ --inventory=production.py

Each check runs once per host, site or served name; test ids end with [<host>],
[<host>:<app_name>] or [<host>:<DNS name>].
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import testinfra

from apache_wsgi_deploy import declared, effective, layout, project
from apache_wsgi_deploy.facts import answer
from apache_wsgi_deploy.facts.apache import EffectiveConfig, ManagedSites
from apache_wsgi_deploy.facts.capacity import Capacity
from apache_wsgi_deploy.facts.python import Virtualenv
from apache_wsgi_deploy.facts.tls import CertbotLineage
from apache_wsgi_deploy.hosts import load_inventory
from apache_wsgi_deploy.probe import Probe
from apache_wsgi_deploy.settings import Settings, Site


def pytest_addoption(parser):
    parser.addoption(
        "--inventory",
        default=os.environ.get("AWD_INVENTORY", "inventory.py"),
        help="pyinfra inventory file whose hosts are verified (default: inventory.py)",
    )
    parser.addoption(
        "--limit",
        action="append",
        help="an inventory host to verify, the others left out (repeatable; default: every host)",
    )


# Seconds an SSH master connection stays up once idle: more than any check's pause.
CONTROL_PERSIST = 15


@functools.cache
def control_dir() -> str:
    """A folder of this process's own for its SSH master connections' sockets; at exit,
    each master is told to end and the folder removed."""
    folder = tempfile.mkdtemp(prefix="awd-verify-")
    atexit.register(_end_masters, folder)
    return folder


def _end_masters(folder: str) -> None:
    for socket in Path(folder).iterdir():
        # The destination is a placeholder: the control socket names the connection.
        subprocess.run(["ssh", "-o", f"ControlPath={socket}", "-O", "exit", "placeholder"], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


class Target:
    """One inventory host: its settings and a testinfra host."""

    def __init__(self, name: str, data: dict):
        self.name = name
        self.data = data
        self.settings = Settings.from_data(name, data)
        self.sites = [SiteTarget(self, site) for site in self.settings.present_sites]
        self.absent_sites = [SiteTarget(self, site) for site in self.settings.absent_sites]

    @functools.cached_property
    def host(self):
        """testinfra's ssh backend: OpenSSH honours the ssh config, known_hosts included."""
        hostname = self.data.get("ssh_hostname") or self.name
        user = self.data.get("ssh_user")
        port = self.data.get("ssh_port")
        spec = f"ssh://{user + '@' if user else ''}{hostname}{f':{port}' if port else ''}"
        # pyinfra's own host-key settings, for OpenSSH.
        options = {
            "UserKnownHostsFile": self.data.get("ssh_known_hosts_file"),
            "StrictHostKeyChecking": self.data.get("ssh_strict_host_key_checking"),
        }
        return testinfra.get_host(
            spec,
            ssh_config=self.data.get("ssh_config_file"),
            ssh_identity_file=self.data.get("ssh_key"),
            ssh_extra_args=" ".join(f"-o {key}={value}" for key, value in options.items() if value) or None,
            sudo=bool(self.data.get("_sudo")),
            # One SSH connection for all the host's commands: testinfra names no control
            # path of its own, so each command would pay a whole handshake. The master
            # ends once it has been idle that long.
            controlpath=f"{control_dir()}/{hashlib.sha256(self.name.encode()).hexdigest()[:16]}",
            controlpersist=CONTROL_PERSIST,
        )

    @functools.cached_property
    def aliases(self) -> list[dict]:
        """Every Alias Apache runs with (effective.aliases), its folder a real path."""
        found = effective.aliases(self.effective_config) if self.config_passes else []
        if not found:
            return []
        folders = [alias["folder"] for alias in found]
        real = self.host.check_output("readlink -m -- " + " ".join(["%s"] * len(folders)), *folders).splitlines()
        return [{**alias, "folder": folder} for alias, folder in zip(found, real, strict=True)]

    @functools.cached_property
    def managed_sites(self) -> list[str]:
        """The sites whose vhosts file a deploy of this project wrote (facts.apache.ManagedSites)."""
        return answer(ManagedSites, self.host.check_output)

    @functools.cached_property
    def undeclared_routes(self) -> list[dict]:
        """Every route besides an Alias Apache runs with (effective.routes) in a file the
        deploy did not write: its vhosts files and its own confs declare theirs."""
        ours = {layout.site_link(name) for name in self.managed_sites}
        ours |= {layout.conf_link(conf) for conf in layout.OWN_CONFS}
        found = effective.routes(self.effective_config) if self.config_passes else []
        return [route for route in found if route["file"] not in ours]

    @functools.cached_property
    def effective_config(self) -> dict | None:
        """What Apache runs with, as the deploy's fact reads it (facts.apache.EffectiveConfig)."""
        return answer(EffectiveConfig, self.host.check_output)

    @property
    def config_passes(self) -> bool:
        """Apache is installed and its config on disk passes its configtest: what it runs
        with is known (test_apache_config_on_disk_passes_configtest fails otherwise)."""
        return bool(self.effective_config) and self.effective_config["error"] is None

    @functools.cached_property
    def stapling(self) -> dict[str, bool]:
        """Each present site -> whether its vhost staples OCSP responses (declared.staples)."""
        stapling = {}
        for site in self.settings.present_sites:
            acme = site.tls_certificate_source == "acme"
            lineage = answer(CertbotLineage, self.host.check_output, cert_name=site.server_name) if acme else None
            stapling[site.app_name] = declared.staples(site, lineage)
        return stapling

    def declared_files(self) -> dict[str, str]:
        """The deploy's files Apache includes, as a deploy with these settings writes them
        on this host (declared.apache_files)."""
        return declared.apache_files(self.settings, self.cpus, self.stapling)

    @functools.cached_property
    def cpus(self) -> int:
        """The host's CPU count, as the deploy reads it (facts.capacity.Capacity)."""
        return answer(Capacity, self.host.check_output)["cpus"]

    @functools.cached_property
    def undeclared_config(self) -> tuple[list[effective.Directive], list[str]]:
        """What the host's Apache and each app's own instance run with that neither the
        deploy nor Debian declares: directives and modules (effective.undeclared,
        effective.undeclared_modules). An instance whose configtest fails is left to the
        checks of the instance."""
        config = self.effective_config
        left_out = effective.left_out(self.settings, self.managed_sites)
        found = effective.undeclared(config, self.declared_files(), left_out)
        modules = effective.undeclared_modules(config, effective.declared_modules(self.settings))
        for site in self.settings.present_sites:
            if not site.own_instance:
                continue
            confdir = layout.instance_dir(site.app_name)
            instance = answer(EffectiveConfig, self.host.check_output, confdir=confdir)
            if instance is None or instance["error"]:
                continue
            conf = layout.instance_file(site.app_name, layout.INSTANCE_CONF)
            found += effective.undeclared(
                instance, {conf: declared.instance_conf(site, self.settings, self.cpus)}, set()
            )
            own = effective.undeclared_modules(instance, set(layout.INSTANCE_MODULES), debian_defaults=False)
            modules += [f"{module} (in {confdir})" for module in own]
        return found, modules

    @functools.cached_property
    def app_files(self) -> list[str]:
        """The real paths of what no Alias may serve, for each site: its entry module's
        source, the live release's environment (its secrets) and its .wsgi file."""
        files = []
        for site in self.sites:
            module = f"{site.paths.app_code_dir}/{site.site.wsgi_module.replace('.', '/')}"
            candidates = [f"{module}.py", f"{module}/__init__.py", site.paths.env_file, site.paths.wsgi_script]
            # readlink -e prints the ones that exist.
            found = self.host.run("readlink -e -- " + " ".join(["%s"] * len(candidates)), *candidates)
            files += found.stdout.split()
        return files

    def run_as(self, user: str, command: str, *args: str):
        """host.run(command, *args) as user, from /: a user often cannot enter the SSH
        user's home (Debian 13's HOME_MODE 0700), and find, for one, fails there
        ("Failed to restore initial working directory")."""
        return self.host.run(f"cd / && runuser -u %s -- {command}", user, *args)


class SiteTarget:
    """One site of a host: its settings (`site`) and paths on the host, the host's
    settings, and HTTP probes for its names."""

    def __init__(self, target: Target, site: Site):
        self.target = target
        self.site = site
        self.paths = site.paths
        self.settings = target.settings
        self.id = f"{target.name}:{site.app_name}"

    @property
    def host(self):
        return self.target.host

    def run_as(self, user: str, command: str, *args: str):
        return self.target.run_as(user, command, *args)

    @functools.cached_property
    def probe(self) -> Probe:
        ca_bundle = self.settings.verify_ca_bundle
        if ca_bundle:
            return Probe.for_settings(self.settings, str(project.path(ca_bundle)))
        if self.site.tls_certificate_source == "selfsigned":
            # A self-signed certificate is its own CA: trust exactly the one on the host.
            own = tempfile.NamedTemporaryFile("w", prefix=f"{self.site.app_name}-", suffix=".pem", delete=False)
            with own:
                own.write(self.host.file(self.paths.certificate_path).content_string)
            return Probe.for_settings(self.settings, own.name)
        return Probe.for_settings(self.settings, None)

    @functools.cached_property
    def tls_scan(self):
        """sslyze's scan of the site's HTTPS port, once for the checks that read it."""
        return self.probe.tls_scan(self.site.server_name)

    @functools.cached_property
    def venv(self) -> dict | None:
        """The live virtualenv, as the deploy's fact reads it (facts.python.Virtualenv)."""
        return answer(Virtualenv, self.host.check_output, venv=self.paths.venv)

    def other_sites(self) -> list[SiteTarget]:
        return [other for other in self.target.sites if other.site != self.site]


def daemon_processes(target, app_name: str) -> list:
    """A site's mod_wsgi daemon processes, by their display-name."""
    # display-name overwrites argv[0]; the rest of Apache's arguments follow it.
    display_name = f"(wsgi:{app_name})"
    return [process for process in target.host.process.filter() if process.args.startswith(display_name)]


def instance_processes(target, app_name: str) -> list:
    """The children of a site's own Apache instance: those that run the app."""
    parent = target.host.run("cat %s", layout.instance_pid_file(app_name)).stdout.strip()
    if not parent.isdigit():
        return []
    command = f"/usr/sbin/apache2 -d {layout.instance_dir(app_name)}"
    # Not its piped loggers (rotatelogs).
    return [process for process in target.host.process.filter(ppid=int(parent)) if process.args.startswith(command)]


def app_processes(target, site) -> list:
    """The processes that run a site's app: its own instance's children, or its mod_wsgi daemons."""
    if site.own_instance:
        return instance_processes(target, site.app_name)
    return daemon_processes(target, site.app_name)


def pytest_configure(config):
    limit = config.getoption("limit")
    if limit:
        unknown = sorted(set(limit) - {target.name for target in load_targets(config.getoption("inventory"))})
        if unknown:
            raise pytest.UsageError(f"--limit: no host {', '.join(unknown)} in the inventory")


@functools.cache
def load_targets(inventory_file: str) -> list[Target]:
    return [Target(host.name, host.data.dict()) for host in load_inventory(inventory_file)]


def pytest_generate_tests(metafunc):
    """
    Each test runs once for what its argument names:
      target: each host (server-wide checks);
      front: each host's first site, for server-wide checks over HTTP;
      site: each site of each host, and with `site_name` each name it serves;
      absent_site: each site marked absent (app_present False): what must be gone;
      static_site: each site that serves static files (static_url set);
      acme_target: each host with a site whose certificate comes from ACME;
      baseline_target: each host whose settings keep the host baseline (verify_host_baseline).
    """
    arguments = set(metafunc.fixturenames)
    if not arguments & {"target", "front", "site", "absent_site", "static_site", "acme_target", "baseline_target"}:
        return
    targets = load_targets(metafunc.config.getoption("inventory"))
    limit = metafunc.config.getoption("limit")
    if limit:
        targets = [target for target in targets if target.name in limit]
    sites = [site for target in targets for site in target.sites]
    if "site_name" in arguments:
        pairs = [(site, name) for site in sites for name in site.site.names()]
        metafunc.parametrize(
            ("site", "site_name"), pairs, ids=[f"{site.target.name}:{name}" for site, name in pairs], scope="module"
        )
    elif "site" in arguments:
        metafunc.parametrize("site", sites, ids=[site.id for site in sites], scope="module")
    elif "front" in arguments:
        fronts = [target.sites[0] for target in targets if target.sites]
        metafunc.parametrize("front", fronts, ids=[site.target.name for site in fronts], scope="module")
    elif "absent_site" in arguments:
        absent = [site for target in targets for site in target.absent_sites]
        metafunc.parametrize("absent_site", absent, ids=[site.id for site in absent], scope="module")
    elif "static_site" in arguments:
        static = [site for site in sites if site.site.static_url is not None]
        metafunc.parametrize("static_site", static, ids=[site.id for site in static], scope="module")
    elif "acme_target" in arguments:
        acme = [target for target in targets if target.settings.uses_acme()]
        metafunc.parametrize("acme_target", acme, ids=[target.name for target in acme], scope="module")
    elif "baseline_target" in arguments:
        kept = [target for target in targets if target.settings.verify_host_baseline]
        metafunc.parametrize("baseline_target", kept, ids=[target.name for target in kept], scope="module")
    else:
        metafunc.parametrize("target", targets, ids=[target.name for target in targets], scope="module")


@pytest.fixture(scope="module")
def apache2ctl(target):
    """`apache2ctl <option>`'s output on the host (-M, -S), once the config on disk passes
    its configtest; otherwise these checks skip, and only
    test_apache_config_on_disk_passes_configtest fails, naming the cause."""
    error = target.effective_config["error"]
    if error:
        pytest.skip(f"apache2ctl configtest fails: {error}")
    return lambda option: target.host.check_output("apache2ctl %s", option)

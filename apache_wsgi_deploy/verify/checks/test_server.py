"""What the deploy put on each server, observed with testinfra."""

import pytest
from pyinfra.facts.hardware import Cpus

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.deploys import apt_packages
from apache_wsgi_deploy.facts import answer
from apache_wsgi_deploy.facts.packages import Diversion
from apache_wsgi_deploy.host_tools import vhostcheck
from apache_wsgi_deploy.verify.plugin import app_processes, daemon_processes, instance_processes


def test_packages_are_installed(target):
    missing = [package for package in apt_packages(target.settings) if not target.host.package(package).is_installed]
    assert missing == []


@pytest.mark.parametrize("module", layout.APACHE_MODULES)
def test_module_is_loaded(apache2ctl, module):
    loaded = apache2ctl("-M")
    assert f" {module}_module " in loaded


def test_wsgi_module_is_enabled(target):
    enabled = target.host.file(layout.module_link("wsgi"))
    assert enabled.is_symlink
    assert enabled.linked_to == layout.module_file("wsgi")


def test_site_is_linked_to_its_file_in_sites_available(site):
    link = site.host.file(site.paths.site_link)
    assert link.is_symlink
    assert link.linked_to == site.paths.site_file


def test_every_site_of_ours_is_declared(target):
    """A site dropped from `sites` instead of marked absent is left serving; the deploy's
    own fact finds the vhosts files it wrote."""
    ours = target.managed_sites
    declared = {site.app_name for site in target.settings.sites}
    assert [name for name in ours if name not in declared] == []


def test_default_site_is_disabled(target):
    assert not target.host.file(layout.site_link(layout.DEFAULT_SITE)).exists


def test_apache_config_on_disk_passes_configtest(target):
    """What the next restart or reboot reads: a file that fails here is an outage waiting."""
    assert target.effective_config["error"] is None


def test_every_vhost_apache_runs_is_ours(target, apache2ctl):
    """A vhost left from an old setup, or dropped in by hand, answers names or ports of
    ours: every VirtualHost `apache2ctl -S` lists is in a vhosts file the deploy wrote, or
    in one the settings expect (expected_foreign_entries)."""
    ours = {layout.site_link(name) for name in target.managed_sites}
    ours |= {f"{layout.APACHE_DIR}/{entry}" for entry in target.settings.expected_foreign_entries}
    running = {where.rpartition(":")[0] for found in vhostcheck.claims(apache2ctl("-S")).values() for where in found}
    assert sorted(running - ours) == []


def test_embedded_mode_is_off(target):
    assert target.host.file(layout.conf_link(layout.DAEMON_ONLY_CONF)).exists


def test_apache_is_running(target):
    assert target.host.service(layout.APACHE_SERVICE).is_running


def test_running_apache_uses_the_event_mpm(target):
    """The running parent's MPM, not only the config's: switching MPMs takes a restart."""
    maps = target.host.check_output(f"cat /proc/$(cat {layout.APACHE_PID_FILE})/maps")
    assert "/mod_mpm_event.so" in maps
    assert "/mod_mpm_prefork.so" not in maps and "/mod_mpm_worker.so" not in maps


def test_apache_is_enabled_at_boot(target):
    assert target.host.service(layout.APACHE_SERVICE).is_enabled


# Run by the host's python3: the status a request to the instance without the front's token gets.
_ASK_INSTANCE = """
import sys, urllib.error, urllib.request
try:
    print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=10).status)
except urllib.error.HTTPError as error:
    print(error.code)
"""


def test_own_instance_runs_and_answers_only_the_front(site):
    """A site in an Apache instance of its own: the instance runs and starts at boot, with
    Debian's event MPM, and answers 403 to a request from anyone on the host who does not
    hold the token only root can read."""
    app = site.site
    if not app.own_instance:
        return  # the app runs in mod_wsgi's daemon processes of the host's Apache
    service = site.host.service(layout.instance_service(app.app_name))
    assert service.is_running and service.is_enabled
    pid = site.host.check_output("cat %s", layout.instance_pid_file(app.app_name))
    assert "/mod_mpm_event.so" in site.host.check_output("cat /proc/%s/maps", pid)
    token = site.host.file(layout.instance_file(app.app_name, layout.INSTANCE_TOKEN))
    assert (token.user, token.group, token.mode) == ("root", "root", 0o600)
    port = str(app.apache_instance_port)
    assert site.run_as(app.wsgi_user, "python3 -c %s %s", _ASK_INSTANCE, port).stdout.strip() == "403"


def test_daemon_processes_run_as_the_configured_user(site):
    daemons = app_processes(site, site.site)
    assert len(daemons) == site.site.daemon_processes(answer(Cpus, site.host.check_output))
    assert {daemon.user for daemon in daemons} == {site.site.wsgi_user}
    assert {daemon.group for daemon in daemons} == {site.site.wsgi_group}


def test_daemon_processes_run_the_configured_threads(site):
    """At least as many request threads as configured: an app may start threads of its
    own (an error reporter's sender, a scheduler), which no count from outside tells apart."""
    wanted = site.site.wsgi_threads
    own_threads = layout.INSTANCE_CHILD_OWN_THREADS if site.site.own_instance else layout.MOD_WSGI_OWN_THREADS
    daemons = app_processes(site, site.site)
    assert daemons, f"no process runs {site.site.app_name}"
    for daemon in daemons:
        threads = int(site.host.check_output("ps -o nlwp= -p %s", str(daemon.pid)))
        assert threads - own_threads >= wanted, f"pid {daemon.pid}: {threads} threads for threads={wanted}"


def test_daemon_processes_write_with_the_sites_umask(site):
    """What the app writes (a database, uploads) is created with wsgi_umask's mode."""
    daemons = app_processes(site, site.site)
    assert daemons, f"no process runs {site.site.app_name}"
    for daemon in daemons:
        umask = site.host.check_output("sed -n 's/^Umask:[[:space:]]*//p' /proc/%s/status", str(daemon.pid))
        assert umask == site.site.wsgi_umask, f"pid {daemon.pid}: umask {umask}"


def rotatelogs_commands(host) -> list[str]:
    """The command lines of the host's rotatelogs processes."""
    return [line.split(" ", 1)[1] for line in host.check_output("pgrep -a -x rotatelogs || true").splitlines()]


def log_folders(target) -> tuple[str, ...]:
    """Where Apache writes logs on the host: its own folder and each site's log_dir, each with a "/"."""
    return tuple(f"{folder}/" for folder in {layout.APACHE_LOG_DIR, *(site.log_dir for site in target.settings.sites)})


def test_site_logs_rotate_through_rotatelogs(site):
    """Each of the site's logs is written by a rotatelogs that starts a new file each
    interval, keeps the log's name a link to the current file and runs the hook that
    compresses and expires the closed ones: rotation that needs no reload."""
    seconds, paths = site.target.settings.log_rotation_seconds, site.paths
    running = rotatelogs_commands(site.host)
    missing = [log for log in paths.logs if layout.rotatelogs_command(log, seconds) not in running]
    assert missing == [], f"no rotatelogs writes {', '.join(missing)} (running: {running})"
    # As Debian's: its log readers' (adm), no one else's.
    for log in paths.logs:
        current = site.host.file(log)
        assert (current.user, current.group, current.mode) == ("root", layout.LOG_GROUP, 0o640), log


def test_apaches_own_logs_rotate_through_rotatelogs(target):
    seconds, running = target.settings.log_rotation_seconds, rotatelogs_commands(target.host)
    for log in (layout.APACHE_ERROR_LOG, layout.OTHER_VHOSTS_LOG):
        assert layout.rotatelogs_command(log, seconds) in running, f"no rotatelogs writes {log}"


def test_apache_holds_no_log_file_open(target):
    """Every log goes through a pipe: no log file is Apache's own to let go of, which is
    what a reload after a rotation was for."""
    pid = target.host.file(layout.APACHE_PID_FILE).content_string.strip()
    folders = log_folders(target)
    opened = target.host.check_output("find /proc/%s/fd -type l -printf '%%l\\n'", pid).splitlines()
    assert [path for path in opened if path.startswith(folders)] == []


def test_no_log_rotation_reloads_apache(target):
    """Debian's logrotate rule for Apache's logs (its postrotate reloads Apache every
    night) is diverted to a name logrotate skips, and no other rule takes a log Apache
    writes: logrotate's debug mode, which changes nothing, names every file a rule takes."""
    diverted = answer(Diversion, target.host.check_output, path=layout.DEBIAN_LOGROTATE_RULE)
    assert diverted == layout.DIVERTED_LOGROTATE_RULE
    folders = log_folders(target)
    considered = target.host.run("logrotate -d %s 2>&1", layout.LOGROTATE_CONF).stdout.splitlines()
    taken = [line for line in considered if line.startswith("considering log ") and line[16:].startswith(folders)]
    assert taken == [], f"a logrotate rule takes Apache's logs (its postrotate may reload Apache): {taken}"


def test_private_key_is_0600_root(site):
    key = site.host.file(site.paths.key_path)
    if key.is_symlink:  # certbot's live/ links into archive/
        key = site.host.file(key.linked_to)
    assert (key.user, key.group, key.mode) == ("root", "root", 0o600)


def test_certificate_folder_is_root_only(site):
    # certbot keeps the keys themselves in archive/; live/ only links to them.
    acme = site.site.tls_certificate_source == "acme"
    folder = site.host.file(layout.CERTBOT_ARCHIVE if acme else site.paths.own_tls_dir)
    assert (folder.user, folder.group, folder.mode) == ("root", "root", 0o700)


def test_app_files_are_not_writable_by_the_daemon_user(site):
    # A link's own mode means nothing (access(2) follows it): a release's linked folders
    # lead into the data folder, the app's to write by design.
    writable = site.run_as(site.site.wsgi_user, "find %s ! -type l -writable -print -quit", site.site.app_install_path)
    assert (writable.rc, writable.stdout) == (0, ""), writable.stderr


def test_app_files_are_readable_by_the_daemon_user(site):
    # A link is read through (access(2) follows it): what a release's venv link leads to is
    # checked as the live venv; a kept release's dangling one is no file to read.
    unreadable = site.run_as(
        site.site.wsgi_user, "find %s ! -type l ! -readable -print -quit", site.site.app_install_path
    )
    assert (unreadable.rc, unreadable.stdout) == (0, ""), unreadable.stderr


def test_live_release_is_a_root_link_into_the_kept_releases(site):
    app = site.site
    paths = site.paths
    current = site.host.file(paths.current_dir)
    assert current.is_symlink and current.user == "root"
    assert current.linked_to.startswith(f"{paths.releases_dir}/")
    releases = site.host.check_output("find %s -mindepth 1 -maxdepth 1 -type d", paths.releases_dir).split()
    assert current.linked_to in releases
    assert len(releases) <= app.releases_kept


def test_app_environment_is_readable_by_the_app_alone(site):
    environment = site.host.file(site.paths.env_file)
    assert (environment.user, environment.group, environment.mode) == ("root", site.site.wsgi_group, 0o640)


def test_other_apps_cannot_read_the_code(site):
    """Each app's daemon user is kept out of every other app's code, entry point and secrets."""
    app = site.site
    attempts = [("ls", site.paths.app_code_dir), ("cat", site.paths.wsgi_script), ("cat", site.paths.env_file)]
    for other in site.other_sites():
        if other.site.wsgi_user == app.wsgi_user:
            continue  # the same user by configuration: nothing to isolate
        for tool, path in attempts:
            result = site.run_as(other.site.wsgi_user, "%s %s", tool, path)
            assert result.rc != 0 and "Permission denied" in result.stderr, (other.site.wsgi_user, path)


def test_absent_site_is_gone(absent_site):
    removed = absent_site.site
    assert not absent_site.host.file(absent_site.paths.site_link).exists
    assert not absent_site.host.file(absent_site.paths.site_file).exists
    # Its folder may stay only for what the deploy did not make there.
    folder = absent_site.host.file(removed.app_install_path)
    left = folder.listdir() if folder.exists else []
    assert [name for name in left if name in absent_site.paths.made_in_install_path] == []
    assert daemon_processes(absent_site, removed.app_name) == []
    assert instance_processes(absent_site, removed.app_name) == []
    assert not absent_site.host.file(layout.instance_dir(removed.app_name)).exists
    if removed.dedicated_user:
        assert not absent_site.host.user(removed.wsgi_user).exists

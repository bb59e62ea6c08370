"""
The drift check and the verification suite see the whole server, not only our files:
what else Apache reads from its *-enabled folders, a config on disk that fails its
configtest, sensitive paths served, a stray vhost, the daemons' threads, daemons that
keep serving an old release. Each test plants one misconfiguration the way an operator
makes it, and removes it. The untouched host runs on both suites: what Debian enables by
default differs between releases.
"""

import re

import pytest

from apache_wsgi_deploy import effective, layout
from tests import stock_catalogue
from tests.e2e.conftest import SAMPLE
from tests.e2e.test_deploy import SITE, assert_verified
from tests.e2e.test_drift_check import check
from tests.e2e.test_releases import body, variant

RELOAD = f"systemctl reload {layout.APACHE_SERVICE}"
# The checks judging what Apache runs with that no one declared (checks/test_effective_config.py).
ROUTES = "test_no_undeclared_directive_opens_a_way_to_a_file_or_a_port"
TLS = "test_no_undeclared_directive_weakens_tls"
LEAKS = "test_no_undeclared_directive_leaks"
DAEMONS = "test_no_undeclared_directive_changes_how_the_daemons_run"
MODULES = "test_apache_loads_no_module_neither_the_deploy_nor_debian_enables"


def failed(verify) -> set[str]:
    """The checks a verbose run of the verification suite reports FAILED."""
    return set(re.findall(r"::(\S+) FAILED", verify.stdout))


def with_settings(fleet, tmp_path, **settings) -> str:
    """An inventory file of the fleet's first host with settings of its own."""
    alias, data = fleet.hosts[0].inventory_entry()
    inventory = tmp_path / "with-settings.py"
    inventory.write_text(f"web_servers = [({alias!r}, {{**{data!r}, **{settings!r}}})]\n")
    return str(inventory)


def assert_clean(fleet):
    result = check(fleet)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert_verified(fleet)


@pytest.mark.both_suites
def test_untouched_host_passes_drift_and_verification(deployed):
    assert_clean(deployed)


@pytest.mark.both_suites
def test_the_stock_catalogue_holds_debians_configuration_as_this_suite_ships_it(deployed):
    """What an edit to a Debian file is held against: a Debian update that changes a
    conffile is seen here (then run tests/stock_catalogue.py)."""
    host = deployed.hosts[0]
    catalogue = effective.stock_catalogue()
    shipped = stock_catalogue.entries(f"ssh -F {host.ssh_config} {host.alias}")
    missing = {
        path: sorted(found - {tuple(entry) for entry in catalogue.get(path, [])}) for path, found in shipped.items()
    }
    assert {path: lines for path, lines in missing.items() if lines} == {}


def test_conf_making_server_status_public_is_drift_and_fails_the_sensitive_path_check(deployed):
    name = deployed.hosts[0].server_name
    conf = layout.conf_file("status-public")
    deployed.sudo(
        f"printf '<Location /server-status>\\n    SetHandler server-status\\n    Require all granted\\n</Location>\\n'"
        f" > {conf} && a2enconf -q status-public && {RELOAD}"
    )
    try:
        drift = check(deployed)
        assert drift.returncode == 2, drift.stdout + drift.stderr[-3000:]
        assert "  - not made by the deploy: conf-enabled/status-public.conf" in drift.stdout
        verify = deployed.verify("-v")
        host = deployed.hosts[0].alias
        assert f"test_sensitive_path_is_not_served[{host}:{name}-https-as-sent-/server-status]" in failed(verify), (
            verify.stdout
        )
        # A deploy says so, and leaves what it did not make.
        deploy = deployed.deploy()
        assert deploy.returncode == 0, deploy.stderr[-3000:]
        assert "conf-enabled/status-public.conf was not made by this deploy" in deploy.stderr
        assert deployed.sudo(f"test -e {layout.conf_link('status-public')}").returncode == 0
    finally:
        deployed.sudo(f"a2disconf -q status-public; rm -f {conf} && {RELOAD}")


def test_vhost_left_from_an_old_setup_is_drift_and_fails_the_vhost_check_unless_expected(deployed, tmp_path):
    old = layout.site_file("old-shop")
    deployed.sudo(
        f"printf '<VirtualHost *:80>\\n    ServerName old-shop.example\\n    DocumentRoot /var/www/html\\n"
        f"</VirtualHost>\\n' > {old} && a2ensite -q old-shop && {RELOAD}"
    )
    try:
        drift = check(deployed)
        assert drift.returncode == 2, drift.stdout + drift.stderr[-3000:]
        assert "  - not made by the deploy: sites-enabled/old-shop.conf" in drift.stdout
        verify = deployed.verify("-v")
        host = deployed.hosts[0].alias
        assert failed(verify) == {f"test_every_vhost_apache_runs_is_ours[{host}]", f"{ROUTES}[{host}]"}, verify.stdout[
            -6000:
        ]
        assert layout.site_link("old-shop") in verify.stdout
        # Kept there on purpose, and said so in the settings: neither reports it.
        expected = with_settings(deployed, tmp_path, expected_foreign_entries=["sites-enabled/old-shop.conf"])
        drift = check(deployed, f"--inventory={expected}")
        assert drift.returncode == 0, drift.stdout + drift.stderr[-3000:]
        verify = deployed.verify(f"--inventory={expected}")
        assert verify.returncode == 0, verify.stdout[-6000:]
    finally:
        deployed.sudo(f"a2dissite -q old-shop; rm -f {old} && {RELOAD}")


def test_alias_listing_a_folder_is_drift_and_fails_the_listing_check(deployed, tmp_path):
    """A database dump shared "for a minute" with an Alias and Options Indexes (Debian
    enables mod_autoindex). Expected in the settings, it is no longer drift; what it
    serves still fails."""
    conf, dump = layout.conf_file("backup"), "/srv/backup"
    deployed.sudo(
        f"mkdir -p {dump} && echo 'INSERT INTO users' > {dump}/db.sql && printf 'Alias /backup {dump}\\n"
        f"<Directory {dump}>\\n    Options Indexes\\n    Require all granted\\n</Directory>\\n' > {conf}"
        f" && a2enconf -q backup && {RELOAD}"
    )
    try:
        drift = check(deployed)
        assert drift.returncode == 2, drift.stdout + drift.stderr[-3000:]
        assert "  - not made by the deploy: conf-enabled/backup.conf" in drift.stdout
        assert "list it in expected_foreign_entries" in drift.stdout
        host, name = deployed.hosts[0].alias, deployed.hosts[0].server_name
        listing = f"test_no_aliased_folder_is_listed[{host}:{name}-https]"
        verify = deployed.verify("-v")
        # Accepted below, its directives are no longer judged; what it serves still is.
        assert failed(verify) == {listing, f"{ROUTES}[{host}]"}, verify.stdout[-6000:]
        assert "/backup/ answers 200 with" in verify.stdout
        assert f"(Alias in {layout.conf_link('backup')})" in verify.stdout
        expected = with_settings(deployed, tmp_path, expected_foreign_entries=["conf-enabled/backup.conf"])
        drift = check(deployed, f"--inventory={expected}")
        assert drift.returncode == 0, drift.stdout + drift.stderr[-3000:]
        assert failed(deployed.verify(f"--inventory={expected}", "-v")) == {listing}
    finally:
        deployed.sudo(f"a2disconf -q backup; rm -rf {conf} {dump} && {RELOAD}")


def test_alias_onto_the_code_made_readable_fails_the_served_source_check(deployed):
    """A quick look at the code "from the browser": an Alias onto the live code, and its
    files made readable by all (Apache's user cannot read them otherwise: 403)."""
    conf = layout.conf_file("code-peek")
    code = SAMPLE.app_code_dir
    deployed.sudo(
        f"printf 'Alias /code {code}\\n<Directory {code}>\\n    Require all granted\\n</Directory>\\n' > {conf}"
        f" && a2enconf -q code-peek && chmod -R o+rX {SAMPLE.releases_dir} && {RELOAD}"
    )
    try:
        drift = check(deployed)
        assert drift.returncode == 2, drift.stdout + drift.stderr[-3000:]
        assert "  - not made by the deploy: conf-enabled/code-peek.conf" in drift.stdout
        host, name = deployed.hosts[0].alias, deployed.hosts[0].server_name
        verify = deployed.verify("-v")
        assert failed(verify) == {
            f"test_no_alias_serves_an_apps_files[{host}:{name}-https]",
            f"test_app_environment_is_readable_by_the_app_alone[{host}:{SAMPLE.app_name}]",
            f"{ROUTES}[{host}]",
        }, verify.stdout[-6000:]
        assert f"https://{name}/code/app.py answers 200" in verify.stdout
    finally:
        deployed.sudo(f"a2disconf -q code-peek; rm -f {conf} && {RELOAD}")
        assert deployed.deploy().returncode == 0


def test_config_on_disk_failing_configtest_is_drift_and_fails_its_own_check_first(deployed):
    """A snippet from a guide that needs mod_expires, not enabled; not reloaded (the running
    server is fine): the next restart or reboot would fail."""
    legacy = layout.conf_link("legacy-headers")
    deployed.sudo(f"printf 'ExpiresActive On\\nExpiresDefault \"access plus 1 day\"\\n' > {legacy}")
    try:
        drift = check(deployed)
        assert drift.returncode == 2, drift.stdout + drift.stderr[-3000:]
        assert "  - apache2ctl configtest fails on the files on disk: AH00526: Syntax error" in drift.stdout
        assert f"{legacy}:" in drift.stdout
        assert "  - not made by the deploy: conf-enabled/legacy-headers.conf" in drift.stdout
        verify = deployed.verify("-v")
        host = deployed.hosts[0].alias
        assert failed(verify) == {f"test_apache_config_on_disk_passes_configtest[{host}]"}, verify.stdout[-6000:]
        assert f"test_modules_no_site_needs_are_not_loaded[{host}] SKIPPED" in verify.stdout
        assert f"test_every_vhost_apache_runs_is_ours[{host}] SKIPPED" in verify.stdout
    finally:
        deployed.sudo(f"rm -f {legacy}")


def test_daemon_with_fewer_threads_than_configured_fails_the_threads_check(deployed):
    deployed.sudo(f"sed -i 's/ threads=[0-9]* / threads=1 /' {SITE} && {RELOAD}")
    try:
        verify = deployed.verify("-v")
        host = deployed.hosts[0].alias
        assert failed(verify) == {
            f"test_daemon_processes_run_the_configured_threads[{host}:{SAMPLE.app_name}]",
            f"{DAEMONS}[{host}]",
        }, verify.stdout[-6000:]
        # mod_wsgi's own threads beside the one request thread.
        assert "4 threads for threads=15" in verify.stdout
    finally:
        assert deployed.deploy().returncode == 0


def test_script_reloading_turned_off_fails_the_live_release_checks_after_a_switch(deployed, tmp_path):
    """WSGIScriptReloading Off in an extra conf: the next release is reported live while
    the daemon processes keep serving the old code."""
    conf = layout.conf_file("no-reloading")
    deployed.sudo(f"printf 'WSGIScriptReloading Off\\n' > {conf} && a2enconf -q no-reloading && {RELOAD}")
    try:
        # Every daemon process loads the live release before the switch, as on a busy server.
        loaded = deployed.verify("-k", "test_daemon_processes_run_the_live_release")
        assert loaded.returncode == 0, loaded.stdout[-3000:]
        code = variant(tmp_path, "next", '"Good!"', '"Next!"')
        switched = deployed.deploy("--data", f"app_source={code}")
        assert switched.returncode == 0, switched.stderr[-3000:]
        assert body(deployed) == "Good!"
        verify = deployed.verify("-v")
        host = deployed.hosts[0].alias
        assert failed(verify) == {
            f"test_script_reloading_is_not_turned_off[{host}]",
            f"test_daemon_processes_run_the_live_release[{host}:{SAMPLE.app_name}]",
            f"{DAEMONS}[{host}]",
        }, verify.stdout[-6000:]
        assert f"WSGIScriptReloading Off in {layout.conf_link('no-reloading')}" in verify.stdout
    finally:
        deployed.sudo(f"a2disconf -q no-reloading; rm -f {conf} && {RELOAD}")
        assert deployed.deploy().returncode == 0


def test_debians_logrotate_rule_put_back_fails_the_check_and_is_set_aside_again(deployed):
    """An operator undoes the diversion (or a package's maintainer script does): every
    night logrotate would reload Apache again, and mod_wsgi answer 503 to requests in flight."""
    deployed.sudo(f"dpkg-divert --quiet --local --rename --remove {layout.DEBIAN_LOGROTATE_RULE}")
    try:
        verify = deployed.verify("-v")
        expected = {f"test_no_log_rotation_reloads_apache[{deployed.hosts[0].alias}]"}
        assert failed(verify) == expected, verify.stdout[-6000:]
        checked = deployed.awd("check")
        assert checked.returncode == 2 and "is set aside" in checked.stdout, checked.stdout
    finally:
        repaired = deployed.deploy()
    assert "Debian's logrotate rule, which reloads Apache nightly, is set aside" in repaired.changed
    assert deployed.sudo(f"dpkg-divert --truename {layout.DEBIAN_LOGROTATE_RULE}").stdout.strip() == (
        layout.DIVERTED_LOGROTATE_RULE
    )


def test_logs_outside_apaches_folder_are_written_through_rotatelogs(deployed, tmp_path):
    own = "/var/log/flaskapp-logs"
    alias = deployed.hosts[0].alias
    inventory = with_settings(deployed, tmp_path, log_dir=own)
    try:
        moved = deployed.deploy(inventory=inventory)
        assert moved.returncode == 0, moved.stderr[-3000:]
        assert "Log folder exists, as Apache's own" in moved.changed
        verify = deployed.verify(f"--inventory={inventory}", "-v")
        assert verify.returncode == 0, verify.stdout[-6000:]
        assert f"test_site_logs_rotate_through_rotatelogs[{alias}:{SAMPLE.app_name}] PASSED" in verify.stdout
        assert f"{SAMPLE.app_name}-access.log" in deployed.sudo(f"ls {own}").stdout.split()
        assert deployed.deploy(inventory=inventory).changed == []
    finally:
        assert deployed.deploy().returncode == 0
        # What that log_dir left: not the deploy's to remove once the setting is gone.
        deployed.sudo(f"rm -rf {own}")


def test_host_is_clean_again_after_every_plant(deployed):
    """Each plant above is removed by its own test: together, they leave nothing behind
    (one check for all of them, as each costs a drift check and a verification run)."""
    assert_clean(deployed)

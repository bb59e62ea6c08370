"""
A deploy under mistakes: settings that would take Apache down, remove what the
deploy did not create or give an app privileges are refused before anything changes;
an Apache that stops after its reload fails the deploy with the cause; two deploys at
once run one after the other.
"""

import shlex
import shutil
import threading

import pytest

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.lock import holder_script
from apache_wsgi_deploy.polling import poll
from apache_wsgi_deploy.testhost import pki
from apache_wsgi_deploy.testhost.fleet import STATE
from tests import CHECKOUT
from tests.e2e.test_deploy import SITE, assert_verified, probe


def host_state(fleet) -> str:
    """What a refused deploy must leave as it was: the vhosts, the apps' folders, the accounts."""
    return fleet.sudo(f"stat -c %Y {SITE}; ls /srv; getent passwd | cut -d: -f1").stdout


def serves(fleet) -> bool:
    response = probe(fleet).get("https", fleet.hosts[0].server_name, "/")
    return (response.status_code, response.text) == (200, "Good!")


@pytest.fixture
def other_key(tmp_path):
    """A key of the test CA's, but another certificate's."""
    key = tmp_path / "other-key.pem"
    shutil.copy(pki.issue_certificate(STATE, ["other.awd.test"]) / "privkey.pem", key)
    return str(key)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            "app_install_path=/opt",
            "setting 'app_install_path' = '/opt' is invalid: expected \"auto\" or an absolute path of a folder",
        ),
        ("wsgi_group=shadow", "members of shadow can become root"),
        ("wsgi_user=www-data", "www-data is Apache's"),
        ("app_name=default-ssl", "not 'default-ssl': Debian's Apache or system already has"),
        ("data_dir=/var/lib/dpkg", "setting 'data_dir' = '/var/lib/dpkg' is inside /var/lib"),
        ("log_dir=/home/deploy", "setting 'log_dir' = '/home/deploy' is invalid"),
        ("log_dir=/var/log/.", "setting 'log_dir' = '/var/log/.' is invalid: expected a normalised path"),
        ("log_dir=/srv/flaskapp", "setting 'log_dir' = '/srv/flaskapp' overlaps app_install_path"),
    ],
)
def test_a_setting_that_would_harm_the_host_is_refused_before_any_change(deployed, data, message):
    before = host_state(deployed)
    result = deployed.deploy("--data", data)
    assert result.returncode != 0
    assert message in result.stderr
    assert host_state(deployed) == before and serves(deployed)


def test_a_key_that_is_not_the_certificates_is_refused_before_any_change(deployed, other_key):
    before = host_state(deployed)
    result = deployed.deploy("--data", f"tls_key_file={other_key}")
    assert result.returncode != 0
    assert f"setting 'tls_key_file' = '{other_key}' is not the key of tls_certificate_file" in result.stderr
    assert host_state(deployed) == before and serves(deployed)


def test_the_ssh_user_as_the_apps_user_is_refused_on_the_host_before_any_change(deployed):
    """The SSH user comes from the ssh config here, so only the host can tell."""
    before = host_state(deployed)
    result = deployed.deploy("--data", "wsgi_user=deploy", "--data", "wsgi_group=deploy")
    assert result.returncode != 0
    failed = result.last_operation
    assert failed.startswith("Accounts flaskapp | The app's user and group have no privileges")
    assert "refusing to run an app as user deploy, group deploy: " in failed
    assert "sudo lets user deploy run commands" in failed and "is the SSH user the deploy logs in as" in failed
    assert host_state(deployed) == before and serves(deployed)


def test_daemons_and_threads_the_host_cannot_run_are_refused_before_any_change(deployed):
    """A test host's container allows 2048 tasks: 64 processes of 256 threads would take
    Apache down and leave sshd unable to start a process."""
    before = host_state(deployed)
    result = deployed.deploy("--data", "wsgi_processes=64", "--data", "wsgi_threads=256")
    assert result.returncode != 0
    failed = result.last_operation
    assert failed.startswith("Capacity | The host can run the sites' daemons and Apache's workers")
    assert "refusing settings this host cannot run: the sites' daemons and Apache need 16907 tasks" in failed
    assert host_state(deployed) == before and serves(deployed)


@pytest.mark.parametrize(
    ("rule", "user"),
    [
        ("%awdops ALL=(ALL) NOPASSWD:ALL", "flaskapp"),  # the app's own user, given the group
        ("%awdops ALL=(root) NOPASSWD:/usr/bin/id", "awd-newapp"),  # a user the deploy would make
        ("%#4242 ALL=(ALL) NOPASSWD:ALL", "flaskapp"),  # the group by its number
    ],
    ids=["a group rule", "a group rule for one command, a user not made yet", "a group rule by gid"],
)
def test_a_group_that_sudo_empowers_is_refused_as_the_daemons_will_run(deployed, rule, user):
    """sudo matches a %group rule on a process's groups, which `sudo -l -U` never sees."""
    deployed.sudo(
        f"groupadd -g 4242 awdops && echo '{rule}' > /etc/sudoers.d/awdops && chmod 440 /etc/sudoers.d/awdops"
    )
    try:
        before = host_state(deployed)
        settings = ["--data", "wsgi_group=awdops"] + (["--data", f"wsgi_user={user}"] if user != "flaskapp" else [])
        result = deployed.deploy(*settings)
        assert result.returncode != 0
        failed = result.last_operation
        assert failed.startswith("Accounts flaskapp | The app's user and group have no privileges")
        assert f"refusing to run an app as user {user}, group awdops: sudo lets user {user} run commands" in failed
        assert host_state(deployed) == before and serves(deployed)
        # The drift check stops there too, and counts it as what it is: a finding.
        check = deployed.awd("check", *settings)
        assert check.returncode == 2, check.stdout + check.stderr
        assert f"  - refusing to run an app as user {user}, group awdops: sudo lets user {user}" in check.stdout
        assert check.stdout.rstrip().endswith("0 of 1 host(s) match, 1 drifted, 0 not checked")
    finally:
        deployed.sudo("rm -f /etc/sudoers.d/awdops; groupdel awdops")


# polkitd's unit sandboxes itself with namespaces and seccomp, which a test host's
# container does not allow: this drop-in lets it run there as on a server.
POLKIT_IN_A_CONTAINER = (
    "[Service]\nMemoryDenyWriteExecute=no\nSystemCallFilter=\nSystemCallArchitectures=\nLockPersonality=no\n"
    "RestrictRealtime=no\nRestrictNamespaces=no\nRestrictAddressFamilies=\nRestrictSUIDSGID=no\nPrivateDevices=no\n"
    "PrivateNetwork=no\nPrivateTmp=no\nProtectHome=no\nProtectSystem=no\nProtectKernelModules=no\n"
    "ProtectKernelLogs=no\nProtectKernelTunables=no\nProtectControlGroups=no\nProtectClock=no\n"
    "ProtectHostname=no\nDevicePolicy=auto\nCapabilityBoundingSet=\nNoNewPrivileges=no\n"
)
POLKIT_RULE = "/etc/polkit-1/rules.d/50-awd-test.rules"


@pytest.fixture
def polkit(deployed):
    """polkitd running on the test host, removed after the test."""
    deployed.sudo(
        "mkdir -p /etc/systemd/system/polkit.service.d && printf "
        f"{shlex.quote(POLKIT_IN_A_CONTAINER)} > /etc/systemd/system/polkit.service.d/container.conf &&"
        " DEBIAN_FRONTEND=noninteractive apt-get install -y -q polkitd >/dev/null && systemctl restart polkit"
    )
    yield
    deployed.sudo(
        f"rm -f {POLKIT_RULE}; DEBIAN_FRONTEND=noninteractive apt-get purge -y -q polkitd >/dev/null;"
        " rm -rf /etc/systemd/system/polkit.service.d; systemctl daemon-reload"
    )


@pytest.mark.parametrize(
    ("rule", "setup"),
    [
        ('subject.isInGroup("awdops")', "groupadd awdops && usermod -aG awdops flaskapp"),
        ('subject.user == "flaskapp"', "true"),
    ],
    ids=["a rule for one of the user's groups", "a rule for the user"],
)
def test_a_user_that_polkit_empowers_is_refused_before_any_change(deployed, polkit, rule, setup):
    """polkit lets a process of the app's user manage systemd's units (start a root
    service of its own): as good as root."""
    deployed.sudo(setup)
    action = "org.freedesktop.systemd1.manage-units"
    deployed.sudo(
        f'echo \'polkit.addRule(function(action, subject) {{ if (action.id == "{action}" && {rule})'
        f" return polkit.Result.YES; }});' > {POLKIT_RULE}"
    )
    try:
        before = host_state(deployed)
        result = deployed.deploy()
        assert result.returncode != 0
        failed = result.last_operation
        assert failed.startswith("Accounts flaskapp | The app's user and group have no privileges")
        assert "refusing to run an app as user flaskapp, group flaskapp: polkit lets user flaskapp" in failed
        assert action in failed
        assert host_state(deployed) == before and serves(deployed)
    finally:
        deployed.sudo(f"rm -f {POLKIT_RULE}; gpasswd -d flaskapp awdops >/dev/null 2>&1; groupdel awdops || true")
    # polkit running, with its own rules only: nothing refused.
    assert deployed.deploy().returncode == 0


def test_an_apache_that_stops_after_its_reload_fails_the_deploy_naming_the_cause(deployed):
    """A conf the deploy did not write passes configtest but makes the graceful reload
    stop Apache (its port is taken). The deploy says so instead of "converged"."""
    planted = layout.conf_link("zz-planted-listen")
    deployed.sudo(f"echo 'Listen 22' > {planted}")
    deployed.sudo(f"sed -i 's/Strict-Transport-Security/X-Drift/' {SITE}")
    try:
        result = deployed.deploy()
        assert result.returncode != 0
        failed = result.last_operation
        assert failed.startswith("Apache service | Apache reloads after its configtest passed")
        assert "apache-wsgi-deploy: Apache stopped after its reload-or-restart (" in failed
        assert "Address already in use" in failed or "could not bind" in failed
        assert "did not start on it either" in failed
    finally:
        deployed.sudo(f"rm -f {planted}")
    result = deployed.deploy()
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Apache is running and enabled at boot" in result.changed
    assert serves(deployed)
    assert_verified(deployed)


APT_LOCK_HOLDER = """import fcntl, sys, time
locks = [open(path, "w") for path in ("/var/lib/apt/lists/lock", "/var/lib/dpkg/lock-frontend")]
for lock in locks:
    fcntl.lockf(lock, fcntl.LOCK_EX)
open("/run/awd-apt-locked", "w").close()
time.sleep(float(sys.argv[1]))
"""


def hold_apt_locks(fleet, seconds: float) -> None:
    """Another apt (unattended-upgrades on a fresh server) holding apt's and dpkg's locks."""
    fleet.sudo(f"rm -f /run/awd-apt-locked; printf %s {shlex.quote(APT_LOCK_HOLDER)} > /run/awd-apt-lock.py")
    fleet.sudo(f"nohup python3 /run/awd-apt-lock.py {seconds} >/dev/null 2>&1 &")
    poll(
        lambda: fleet.sudo("test -e /run/awd-apt-locked && echo held || true").stdout.strip(), 10, "the locks are held"
    )


def test_a_deploy_waits_for_apts_lock_then_fails_past_its_timeout(deployed):
    deployed.sudo("apt-get remove -y -qq python3-venv >/dev/null")
    hold_apt_locks(deployed, 6)
    waited = deployed.deploy("--data", "apt_cache_time=0")
    assert waited.returncode == 0, waited.stderr[-4000:]
    assert "Apache, mod_wsgi and venv are installed" in waited.changed

    deployed.sudo("apt-get remove -y -qq python3-venv >/dev/null")
    hold_apt_locks(deployed, 30)
    try:
        result = deployed.deploy("--data", "apt_cache_time=0", "--data", "apt_lock_timeout=2")
        assert result.returncode != 0
        failed = result.last_operation
        assert failed.startswith("Packages | Apache, mod_wsgi and venv are installed")
        assert "Could not get lock /var/lib/apt/lists/lock" in failed
        assert serves(deployed)
    finally:
        deployed.sudo("pkill -f 'python3 /run/[a]wd-apt-lock.py' || true")
    assert deployed.deploy().returncode == 0
    assert_verified(deployed)


OTHER_RUN = "a deploy by ops@elsewhere (pid 7), started 2026-12-01T09:00:00Z"


def test_a_deploy_waits_for_another_runs_lock_then_fails_naming_it(deployed):
    # Another run's shell holding the lock, fed no heartbeat: it gives up after 60 s at most.
    script = holder_script(layout.DEPLOY_LOCK, False, 0, OTHER_RUN, 60)
    holding = f"sleep 60 | bash -c {shlex.quote(script)}"
    deployed.sudo(f"setsid sh -c {shlex.quote(holding)} </dev/null >/run/awd-lock-held 2>&1 &")
    poll(lambda: "LOCKED" in deployed.sudo("cat /run/awd-lock-held").stdout, 10, "the other run holds the lock")
    before = host_state(deployed)
    try:
        result = deployed.deploy("--data", "deploy_lock_timeout=1", "--data", "wsgi_threads=14")
        assert result.returncode != 0
        assert f"the deploy lock {layout.DEPLOY_LOCK} is held by {OTHER_RUN}; gave up after 1 s" in result.stderr
        assert "--> Starting operation" not in result.stderr
        assert host_state(deployed) == before
        assert serves(deployed)
    finally:
        deployed.sudo("pkill -f '[s]leep 60$' || true")
    # The holder ended with its run: the next deploy takes the lock at once.
    assert deployed.deploy().changed == []


def test_two_deploys_at_once_run_one_after_the_other(deployed, tmp_path):
    """Each makes a release and prunes: without the lock, one pruned the release the
    other was health-checking."""
    sources = {}
    for word in ("First", "Second"):
        sources[word] = tmp_path / word
        shutil.copytree(CHECKOUT / "app", sources[word])
        app = sources[word] / "app.py"
        app.write_text(app.read_text().replace('"Good!"', f'"{word}!"'))
    results = {}

    def deploy(word):
        results[word] = deployed.deploy("--data", f"app_source={sources[word]}", "--data", "releases_kept=2")

    threads = [threading.Thread(target=deploy, args=(word,)) for word in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results.values():
        assert result.returncode == 0, result.stderr[-4000:]
        assert "Release is live, once its health check passed" in result.changed
    waited = [word for word, result in results.items() if "for the deploy lock, held by a deploy by" in result.stderr]
    assert len(waited) == 1, {word: result.stderr[-2000:] for word, result in results.items()}
    # The run that waited ran last: its release is the one live.
    response = probe(deployed).get("https", deployed.hosts[0].server_name, "/")
    assert response.text == f"{waited[0]}!"
    assert deployed.deploy().returncode == 0
    assert serves(deployed)

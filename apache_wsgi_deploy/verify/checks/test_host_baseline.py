"""The host around the sites, as DevSec's os-baseline, CIS and lynis see it: what an
attacker or a sloppy admin changes first. Each failure says what to do; a host whose OS
another tool verifies sets verify_host_baseline = False (the checks are then skipped:
no host to run them for)."""

import re
from pathlib import Path

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.host_tools import listeners as listeners_tool

LISTENERS_TOOL = Path(listeners_tool.__file__).read_text()

# sshd's values of PermitRootLogin that take no password.
ROOT_WITHOUT_PASSWORD = ("no", "prohibit-password", "without-password", "forced-commands-only")
# Addresses only this host reaches.
LOOPBACK = re.compile(r"^(127\.|::1$|::ffff:127\.)")
# apt-get's simulated line for an upgrade from a security archive:
# "Inst libssl3 [3.0.15-1~deb12u1] (3.0.16-1~deb12u1 Debian-Security:12/stable-security [amd64])".
SECURITY_UPGRADE = re.compile(r"^Inst (\S+) .*\(\S+ [^)]*-[Ss]ecurity[^)]*\)", re.MULTILINE)
APT_TIMERS = ("apt-daily.timer", "apt-daily-upgrade.timer")
DEBIAN_UNIT_DIRS = ("/usr/lib/systemd/system", "/lib/systemd/system")


def test_root_is_the_only_account_with_uid_0(baseline_target):
    others = baseline_target.host.check_output("awk -F: '$3 == 0 && $1 != \"root\" {print $1}' /etc/passwd").split()
    assert others == [], f"uid 0 besides root: {', '.join(others)}: remove them, or give each a uid of its own"


def test_sshd_takes_no_password_for_root(baseline_target):
    """sshd's effective settings for a login as root (Match blocks applied)."""
    host = baseline_target.host
    if not host.exists("sshd"):
        return  # no OpenSSH server: no password to take
    effective = dict(
        line.split(" ", 1)
        for line in host.check_output("sshd -T -C user=root,host=client.invalid,addr=192.0.2.1").splitlines()
        if " " in line
    )
    permit = effective.get("permitrootlogin")
    passwords = "yes" in (effective.get("passwordauthentication"), effective.get("kbdinteractiveauthentication"))
    assert permit in ROOT_WITHOUT_PASSWORD or not passwords, (
        f"sshd: PermitRootLogin {permit} with password logins on: set PermitRootLogin prohibit-password"
    )


def listeners(host) -> list[tuple[str, int, str]]:
    """(address, port, command) of each listening TCP socket (host_tools/listeners.py)."""
    found = []
    for line in host.check_output("python3 -c %s", LISTENERS_TOOL).splitlines():
        address, port, command = line.split(" ", 2)
        found.append((address, int(port), command))
    return found


def test_nothing_unknown_listens_on_a_public_address(baseline_target):
    """sshd on its ports, Apache on 80 and 443, what expected_listeners names; on loopback, anything."""
    accepted = {80, 443, *baseline_target.settings.expected_listeners}
    unknown = [
        f"{process} on {address}:{port}"
        for address, port, process in listeners(baseline_target.host)
        if not LOOPBACK.match(address) and process != "sshd" and port not in accepted
    ]
    assert unknown == [], (
        f"listening on a public address: {', '.join(unknown)}: stop it, bind it to 127.0.0.1, or list the port"
        " in expected_listeners"
    )


def test_no_security_update_is_pending(baseline_target):
    """As of apt's last look (apt-daily.timer's): a simulated upgrade, which changes nothing."""
    simulated = baseline_target.host.check_output("apt-get -s -o Debug::NoLocking=1 dist-upgrade")
    pending = SECURITY_UPGRADE.findall(simulated)
    assert pending == [], (
        f"security updates pending: {', '.join(pending)}: run apt-get upgrade (or unattended-upgrades)"
    )


def test_apts_periodic_timers_are_on(baseline_target):
    host = baseline_target.host
    off = [timer for timer in APT_TIMERS if not (host.service(timer).is_enabled and host.service(timer).is_running)]
    assert off == [], f"{', '.join(off)} off: systemctl enable --now {' '.join(off)}"


def test_apache_runs_from_etc_apache2_under_debians_unit(baseline_target):
    """The running parent is the one Debian's apache2.service started, reading /etc/apache2:
    no drop-in changes how it starts, no other config folder or file is given."""
    host = baseline_target.host
    shown = dict(
        line.split("=", 1)
        for line in host.check_output(
            "systemctl show -p FragmentPath -p DropInPaths %s", layout.APACHE_SERVICE
        ).splitlines()
    )
    # Debian 12 keeps its units in /lib, which 13 merges into /usr/lib.
    assert shown["FragmentPath"] in (f"{units}/{layout.APACHE_SERVICE}" for units in DEBIAN_UNIT_DIRS), shown
    assert shown["DropInPaths"] == "", f"drop-ins change how Apache starts: {shown['DropInPaths']}: remove them"
    parent = host.file(layout.APACHE_PID_FILE).content_string.strip()
    # systemd names no MainPID for it (a forking unit whose parent starts rotatelogs): its cgroup says.
    # systemd's line (cgroup v2's only one, v1's name=systemd) names the unit.
    cgroups = host.check_output("cat /proc/%s/cgroup", parent).splitlines()
    assert any(line.endswith(f"/{layout.APACHE_SERVICE}") for line in cgroups), (
        f"Apache's parent {parent} is not apache2.service's: {cgroups}"
    )
    arguments = host.check_output("tr '\\0' ' ' < /proc/%s/cmdline", parent).split()
    assert arguments[0] == "/usr/sbin/apache2" and not {"-d", "-f"} & set(arguments), " ".join(arguments)
    environment = host.check_output("tr '\\0' '\\n' < /proc/%s/environ", parent).splitlines()
    confdir = [entry for entry in environment if entry.startswith("APACHE_CONFDIR=")]
    assert confdir in ([], [f"APACHE_CONFDIR={layout.APACHE_DIR}"]), confdir

"""The host baseline's readings of what hosts print, on captured output."""

import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from apache_wsgi_deploy.verify.checks.test_host_baseline import LOOPBACK, SECURITY_UPGRADE, listeners

APT_SIMULATED = """\
Reading package lists...
Building dependency tree...
Calculating upgrade...
The following packages will be upgraded:
  libc6 libssl3 tzdata
Inst libc6 [2.36-9+deb12u7] (2.36-9+deb12u8 Debian:12.7/stable, Debian-Security:12/stable-security [amd64])
Inst libssl3 [3.0.14-1~deb12u1] (3.0.14-1~deb12u2 Debian-Security:12/stable-security [amd64])
Inst tzdata [2024a-0+deb12u1] (2024b-0+deb12u1 Debian:12.7/stable-updates [all])
Conf libc6 (2.36-9+deb12u8 Debian:12.7/stable, Debian-Security:12/stable-security [amd64])
"""


def test_only_upgrades_from_a_security_archive_are_pending_security_updates():
    assert SECURITY_UPGRADE.findall(APT_SIMULATED) == ["libc6", "libssl3"]


def test_the_listeners_tool_names_each_listening_socket_and_its_process():
    """Run here, on this machine's /proc: a socket of this process on each family."""
    with socket.create_server(("127.0.0.1", 0)) as four, socket.create_server(("::", 0), family=socket.AF_INET6) as six:
        host = SimpleNamespace(
            check_output=lambda command, source: (
                subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, check=True).stdout
            )
        )
        found = listeners(host)
        ports = four.getsockname()[1], six.getsockname()[1]
    command = Path("/proc/self/comm").read_text().strip()
    assert ("127.0.0.1", ports[0], command) in found
    assert ("::", ports[1], command) in found
    assert LOOPBACK.match("127.0.0.1") and LOOPBACK.match("::1") and LOOPBACK.match("::ffff:127.0.0.1")
    assert not LOOPBACK.match("::") and not LOOPBACK.match("0.0.0.0") and not LOOPBACK.match("::1:5")

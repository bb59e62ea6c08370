"""
The verification suite (`awd verify`): the checks in `checks/`, run by pytest with this
package's plugin (`plugin.py`) against each host of an inventory, each host in a pytest
process of its own, at most `concurrency` at once.

With one host, pytest runs on this terminal as it is. With several, each host's pytest
output is printed whole as that host ends (never two hosts' lines mixed), kept under the
project folder's .logs/<run>/verify-<host>.log, and one line per host ends the run. A
host that cannot be reached over SSH is one line, not a failure of every check.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from apache_wsgi_deploy.appcommand import UNREACHABLE, last_line
from apache_wsgi_deploy.connection import openssh_command
from apache_wsgi_deploy.project import shipped

# Hosts verified at once, by default: a pytest process with its TLS scan holds several times
# a pyinfra one's memory (docs/benchmarks.md).
CONCURRENCY = 8
CHECKS = shipped("verify/checks")
PYTEST = [
    sys.executable,
    "-m",
    "pytest",
    "-p",
    "apache_wsgi_deploy.verify.plugin",
    # The suite's own pytest settings, whatever the project folder's pytest.ini says.
    "-c",
    str(shipped("verify/pytest.ini")),
    # No cache: several pytest processes at once would race on it, and it would be
    # written where the package is installed.
    "-p",
    "no:cacheprovider",
    "-v",
]
# How long a host may take to accept an SSH connection before it counts as unreachable.
CONNECT_TIMEOUT = 15


@dataclass
class HostVerified:
    host: str
    exit_status: int
    # pytest's closing line: "60 passed, 4 skipped in 23.40s", or why the host was not checked.
    result: str
    output: str
    reached: bool = True

    def as_dict(self) -> dict:
        return {"exit_status": self.exit_status, "result": self.result, "reached": self.reached}


def pytest_command(inventory: str, host: str, options: list[str]) -> list[str]:
    """pytest over the packaged checks (and whatever paths options add) for one host."""
    return [*PYTEST, "--rootdir", ".", f"--inventory={inventory}", f"--limit={host}", str(CHECKS), *options]


def closing_line(output: str) -> str:
    """pytest's last line, its ='s stripped, or a note that it printed none."""
    lines = [line.strip("= ") for line in output.strip().splitlines()]
    return lines[-1] if lines and re.search(r"\bin [\d.]+s\b", lines[-1]) else "pytest ended without its summary"


def unreachable(host: str, data: dict) -> str | None:
    """Why a host cannot be reached over SSH as the checks reach it, or None."""
    command = openssh_command(host, data, "true", tty=False)
    command[1:1] = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT}"]
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    return last_line(done.stderr) if done.returncode == UNREACHABLE else None


def verify_host(host: str, data: dict, inventory: str, options: list[str], capture: bool = True) -> HostVerified:
    """The suite against one host, its output captured (or on this terminal)."""
    reason = unreachable(host, data)
    if reason:
        return HostVerified(host, 1, f"NOT REACHED, {reason}", "", reached=False)
    done = subprocess.run(pytest_command(inventory, host, options), capture_output=capture, text=True)
    output = (done.stdout or "") + (done.stderr or "")
    return HostVerified(host, done.returncode, closing_line(output) if capture else "", output)


def verify_hosts(
    hosts: dict[str, dict], inventory: str, options: list[str], concurrency: int, logs, quiet: bool = False
) -> list[HostVerified]:
    """Each host (name -> inventory data) verified, `concurrency` at a time; each output
    printed whole as its host ends (unless quiet), and kept in logs."""
    printing = threading.Lock()
    started = time.monotonic()

    def one(host: str) -> HostVerified:
        verified = verify_host(host, hosts[host], inventory, options)
        (logs / f"verify-{host.replace('/', '_')}.log").write_text(verified.output)
        if not quiet and verified.reached:
            with printing:
                print(f"=== {host} ({time.monotonic() - started:.1f} s) ===\n{verified.output.rstrip()}\n", flush=True)
        return verified

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(one, hosts))


def summary(results: list[HostVerified]) -> str:
    lines = ["--> Per host:"]
    lines += [f"    {r.host}: {'passed' if r.exit_status == 0 else 'FAILED'}, {r.result}" for r in results]
    return "\n".join(lines)

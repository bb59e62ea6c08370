"""What the benchmarks share: test host inventories, timed deploys, commands on a host."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from bench import CHECKOUT

PYINFRA = str(CHECKOUT / ".venv/bin/pyinfra")


def write_inventory(hosts, path: Path, data: dict | None = None) -> Path:
    """A pyinfra inventory file of these test hosts, as a user's own inventory would be."""
    entries = []
    for test_host in hosts:
        alias, host_data = test_host.inventory_entry()
        entries.append((alias, {**host_data, **(data or {})}))
    path.write_text(f"web_servers = {entries!r}\n")
    return path


def deploy(inventory: Path, *options: str) -> float:
    """`./run.sh deploy`'s runner (one pyinfra process per host); its wall time, in seconds."""
    return timed([sys.executable, "-m", "apache_wsgi_deploy.cli", "deploy", f"--inventory={inventory}", *options])


def pyinfra(inventory: Path, *options: str) -> float:
    """One plain `pyinfra -y <inventory> deploy.py` process for all hosts; its wall time."""
    return timed([PYINFRA, "-y", str(inventory), "deploy.py", *options])


def machine_busy_s() -> float:
    """CPU seconds this machine's cores have been busy since boot (test hosts included)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def timed(command: list[str]) -> float:
    started = time.monotonic()
    run = subprocess.run(
        command, cwd=CHECKOUT, capture_output=True, text=True, env={**os.environ, "AWD_TESTHOST_FLEET": ""}
    )
    if run.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed:\n{run.stderr[-3000:]}")
    return time.monotonic() - started


def sudo(test_host, command: str, check: bool = True) -> str:
    """Run a shell command as root on a test host; its stdout."""
    run = test_host.run_as_root(command, check=False)
    if check and run.returncode != 0:
        raise SystemExit(f"{test_host.alias}: {command!r} failed:\n{run.stderr[-3000:]}")
    return run.stdout

"""
The verification suite (tests/verify) against every host of an inventory, each host in a
pytest process of its own, at most --concurrency at once: ./run.sh verify.

    .venv/bin/python -m apache_wsgi_deploy.verify [--inventory FILE] [--concurrency N] [pytest options...]

With one host, pytest runs on this terminal as it is. With several, each host's pytest
output is printed whole as that host ends (never two hosts' lines mixed), kept under
.logs/<run>/verify-<host>.log, and one line per host ends the run. Settings are
validated for every host first, once. Exit status: 0 when every host passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from apache_wsgi_deploy import PROJECT
from apache_wsgi_deploy.runner import positive, run_logs, validated_hosts
from apache_wsgi_deploy.settings import SettingsError

# Hosts verified at once, by default: each pytest process peaks at 108 MiB resident
# (one host, its TLS scan included, 2026-12-01).
CONCURRENCY = 8
PYTEST = [sys.executable, "-m", "pytest", "tests/verify", "-v"]


@dataclass
class HostVerified:
    host: str
    exit_status: int
    # pytest's closing line: "60 passed, 4 skipped in 23.40s".
    result: str
    output: str


def closing_line(output: str) -> str:
    """pytest's last line, its ='s stripped, or a note that it printed none."""
    lines = [line.strip("= ") for line in output.strip().splitlines()]
    return lines[-1] if lines and re.search(r"\bin [\d.]+s\b", lines[-1]) else "pytest ended without its summary"


def verify_host(host: str, inventory: str, options: list[str]) -> HostVerified:
    # No cache: several pytest processes at once would race on .pytest_cache.
    command = [*PYTEST, "-p", "no:cacheprovider", f"--inventory={inventory}", f"--limit={host}", *options]
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True)
    output = done.stdout + done.stderr
    return HostVerified(host, done.returncode, closing_line(output), output)


def verify_hosts(hosts: list[str], inventory: str, options: list[str], concurrency: int, logs) -> list[HostVerified]:
    """Each host verified, `concurrency` at a time; each output printed whole as its host
    ends, and kept in logs."""
    printing = threading.Lock()
    started = time.monotonic()

    def one(host: str) -> HostVerified:
        verified = verify_host(host, inventory, options)
        (logs / f"verify-{host.replace('/', '_')}.log").write_text(verified.output)
        with printing:
            print(f"=== {host} ({time.monotonic() - started:.1f} s) ===\n{verified.output.rstrip()}\n", flush=True)
        return verified

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(one, hosts))


def summary(results: list[HostVerified]) -> str:
    lines = ["--> Per host:"]
    lines += [f"    {r.host}: {'passed' if r.exit_status == 0 else 'FAILED'}, {r.result}" for r in results]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Verify every host of an inventory, each in its own pytest.")
    parser.add_argument("--inventory", default="inventory.py", help="pyinfra inventory file (default: inventory.py)")
    parser.add_argument(
        "--concurrency", type=positive, default=CONCURRENCY, help=f"hosts verified at once ({CONCURRENCY})"
    )
    args, options = parser.parse_known_args(argv)
    try:
        hosts = validated_hosts(args.inventory)
    except SettingsError as error:
        print(f"--> verify: {error}", file=sys.stderr)
        return 1
    if len(hosts) == 1:
        return subprocess.run([*PYTEST, f"--inventory={args.inventory}", *options], cwd=PROJECT).returncode
    logs = run_logs()
    results = verify_hosts(hosts, args.inventory, options, args.concurrency, logs)
    print(summary(results))
    print(f"--> Each host's pytest output: {logs.relative_to(PROJECT)}/verify-<host>.log")
    return 0 if all(result.exit_status == 0 for result in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

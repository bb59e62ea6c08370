"""
The control machine at fleet scale: the drift check (`./run.sh check`, which reads what
a no-change rerun reads and changes nothing) over inventories of up to 1,000 hosts, made
as aliases of a few deployed test hosts, at several concurrency settings. A read-only
run takes the deploy lock shared, so aliases of one host run at once as separate hosts
would; what they do not have of separate hosts is their own CPU: the test hosts share
this machine's cores with the control machine, so the wall times are an upper bound.

Per run: wall time, the peak memory of the control machine's processes (the summed PSS
of the drift check and every process under it, sampled every 50 ms: forked pyinfra
runs share pages, which RSS would count once per process), and their CPU time.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench import CHECKOUT

FLEET_SIZES = (100, 300, 1000)
# The largest fleet again at each of these besides the default.
CONCURRENCIES = (32, 64)
# Uncounted checks before the timed ones: what a fleet's reruns meet (measure()).
WARMING_CHECKS = 2
SAMPLE_SECONDS = 0.05
RUN_DEADLINE = 1800


@dataclass
class FleetRun:
    hosts: int
    concurrency: int
    wall_s: float
    peak_pss_mib: float
    cpu_s: float
    not_checked: int = 0

    @property
    def per_host_ms(self) -> float:
        return self.wall_s / self.hosts * 1000


def alias_inventory(hosts, count: int, path: Path) -> Path:
    """count inventory hosts, each an alias of one of `hosts` in turn (ssh_hostname names
    the test host's entry in its ssh config)."""
    entries = []
    for number in range(count):
        test_host = hosts[number % len(hosts)]
        alias, data = test_host.inventory_entry()
        entries.append((f"{alias}-as-{number + 1:03d}", {**data, "ssh_hostname": alias}))
    path.write_text(f"web_servers = {entries!r}\n")
    return path


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended while read
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += children.get(pid, [])
    return found


def _pss_kib(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0)


def drift_check(inventory: Path, hosts: int, concurrency: int) -> FleetRun:
    """One drift check over the inventory; every host must match."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "apache_wsgi_deploy.cli",
            "check",
            f"--inventory={inventory}",
            f"--concurrency={concurrency}",
        ],
        cwd=CHECKOUT,
        env={**os.environ, "AWD_TESTHOST_FLEET": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_SECONDS):
            peak[0] = max(peak[0], sum(_pss_kib(pid) for pid in _descendants(process.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate(timeout=RUN_DEADLINE)
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    # A host not read (a test host's sshd refusing a burst of handshakes) is counted and
    # said; a host that drifted, or any other failure, stops the benchmark.
    unread = [line for line in output.splitlines() if ": NOT CHECKED, " in line]
    if process.returncode != 0 and (not unread or " 0 drifted" not in output):
        raise SystemExit(f"drift check over {inventory} exited {process.returncode}:\n{output[-3000:]}")
    for line in unread:
        print(f"    {line}", file=sys.stderr, flush=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return FleetRun(hosts, concurrency, wall, peak[0] / 1024, cpu, len(unread))


def measure(hosts, folder: Path) -> list[FleetRun]:
    """hosts: deployed test hosts. Every fleet size at the default concurrency, then the
    largest at every concurrency, each over warm facts records, as a fleet's reruns meet
    those its last run left: checks over every alias run first, not counted, since a
    host's record is kept by its name. The first asks a fresh alias each fact alone and
    records them; the next asks them at once and keeps the costly facts' outputs with
    their fingerprints."""
    from apache_wsgi_deploy.runner import CONCURRENCY

    inventories = {size: alias_inventory(hosts, size, folder / f"fleet-{size}.py") for size in FLEET_SIZES}
    largest = max(FLEET_SIZES)
    for _ in range(WARMING_CHECKS):
        drift_check(inventories[largest], largest, CONCURRENCY)
    plan = [(size, CONCURRENCY) for size in FLEET_SIZES]
    plan += [(largest, concurrency) for concurrency in CONCURRENCIES if concurrency != CONCURRENCY]
    return [drift_check(inventories[size], size, concurrency) for size, concurrency in plan]


def table(runs: list[FleetRun], test_hosts: int) -> str:
    lines = [
        f"Aliases of {test_hosts} test hosts on this machine's cores: an upper bound on wall time.\n",
        "| hosts | concurrency | wall | per host | control machine peak memory (PSS) | control machine CPU |"
        " not checked |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {run.hosts} | {run.concurrency} | {run.wall_s:.1f} s | {run.per_host_ms:.0f} ms"
        f" | {run.peak_pss_mib:,.0f} MiB | {run.cpu_s:.1f} s | {run.not_checked} |"
        for run in runs
    ]
    return "\n".join(lines)

"""
How long deploys take: a first deploy on a fresh test host, the no-change rerun drift
correction repeats (median), the rerun on 1, 2, 4 and 8 hosts at once (`./run.sh
deploy`'s one-process-per-host runner, with the CPU seconds the whole machine spent, test
hosts included; and one plain pyinfra process for comparison), and the SSH commands a
no-change rerun executes on each host (pyinfra's own debug log).
"""

from __future__ import annotations

import re
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench import CHECKOUT
from bench.hosts import PYINFRA, deploy, machine_busy_s, pyinfra, write_inventory

FLEET_SIZES = (1, 2, 4, 8)


@dataclass
class DeploySpeed:
    first_deploy_s: float = 0.0
    rerun_median_s: float = 0.0
    reruns: int = 0
    # hosts -> median seconds, for the per-host runner and for one pyinfra process
    fleet_rerun_s: dict[int, float] = field(default_factory=dict)
    fleet_rerun_single_process_s: dict[int, float] = field(default_factory=dict)
    # hosts -> median CPU seconds this machine spent on a rerun (controller and test hosts)
    fleet_rerun_machine_cpu_s: dict[int, float] = field(default_factory=dict)
    ssh_commands_per_host: int = 0
    uploads_per_host: int = 0


def ssh_commands(inventory: Path, alias: str) -> tuple[int, int]:
    """Commands and file uploads one no-change rerun sends to the host, from `--debug`."""
    run = subprocess.run(
        [PYINFRA, "-y", "--debug", str(inventory), "deploy.py"],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
    )
    log = run.stdout + run.stderr
    commands = len(re.findall(rf"Running command on {re.escape(alias)}:", log))
    uploads = len(re.findall(r"Attempting upload of", log))
    return commands, uploads


def measure(hosts, folder: Path, reruns: int) -> DeploySpeed:
    """hosts: fresh test hosts, the first of them never deployed to."""
    inventories = {count: write_inventory(hosts[:count], folder / f"inventory-{count}.py") for count in FLEET_SIZES}
    speed = DeploySpeed(reruns=reruns)
    speed.first_deploy_s = deploy(inventories[1])
    speed.rerun_median_s = statistics.median(deploy(inventories[1]) for _ in range(reruns))
    deploy(inventories[max(FLEET_SIZES)])  # the others converge; not measured
    for count in FLEET_SIZES:
        walls, cpus = [], []
        for _ in range(3):
            busy = machine_busy_s()
            walls.append(deploy(inventories[count]))
            cpus.append(machine_busy_s() - busy)
        speed.fleet_rerun_s[count] = statistics.median(walls)
        speed.fleet_rerun_machine_cpu_s[count] = statistics.median(cpus)
        speed.fleet_rerun_single_process_s[count] = statistics.median(pyinfra(inventories[count]) for _ in range(3))
    speed.ssh_commands_per_host, speed.uploads_per_host = ssh_commands(inventories[1], hosts[0].alias)
    return speed


def table(speed: DeploySpeed) -> str:
    one, one_single = speed.fleet_rerun_s[1], speed.fleet_rerun_single_process_s[1]
    lines = [
        "| what | wall time | ratio to 1 host | machine CPU |",
        "|---|---|---|---|",
        f"| first deploy, fresh test host | {speed.first_deploy_s:.1f} s | | |",
        f"| no-change rerun, 1 host (median of {speed.reruns}) | {speed.rerun_median_s:.2f} s | | |",
    ]
    for count, seconds in speed.fleet_rerun_s.items():
        lines.append(
            f"| no-change rerun, {count} host{'s' * (count > 1)}, `./run.sh deploy` | {seconds:.2f} s"
            f" | {seconds / one:.2f} | {speed.fleet_rerun_machine_cpu_s[count]:.2f} s |"
        )
    for count, seconds in speed.fleet_rerun_single_process_s.items():
        lines.append(
            f"| no-change rerun, {count} host{'s' * (count > 1)}, one pyinfra process | {seconds:.2f} s"
            f" | {seconds / one_single:.2f} | |"
        )
    lines.append(
        f"| SSH commands per host, no-change rerun | {speed.ssh_commands_per_host}"
        f" (+{speed.uploads_per_host} uploads) | | |"
    )
    return "\n".join(lines)

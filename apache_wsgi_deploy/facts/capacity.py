"""
What a host can run: its CPUs, its memory, and the fewest tasks (processes and threads)
any of its limits allows.
"""

from __future__ import annotations

import shlex
from typing import TypedDict

from pyinfra.api import FactBase


class CapacityDict(TypedDict):
    cpus: int
    memory_kib: int | None
    # The lowest task limit, and which limit it is; None when none is set.
    task_limit: int | None
    task_limit_from: str | None


LIMITS = {
    "pids_max": "the cgroup's pids.max",
    "threads_max": "kernel.threads-max",
    "pid_max": "kernel.pid_max",
}

# Each limit's file, by the name the fact prints it under.
LIMIT_FILES = {
    "threads_max": ["/proc/sys/kernel/threads-max"],
    "pid_max": ["/proc/sys/kernel/pid_max"],
    "pids_max": ["/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"],
}
READ_FILES = ["/proc/meminfo", *(path for paths in LIMIT_FILES.values() for path in paths)]
READ_PROGRAM = "\n".join(
    [
        'FILENAME == "/proc/meminfo" { if ($1 == "MemTotal:") print "memory_kib=" $2; next }',
        *(
            f'FILENAME == "{path}" && FNR == 1 && !printed["{name}"]++ {{ print "{name}=" $1 }}'
            for name, paths in LIMIT_FILES.items()
            for path in paths
        ),
    ]
)


class Capacity(FactBase[CapacityDict]):
    """
    Returns the host's CPU count (nproc, as pyinfra's Cpus fact), its memory in KiB, and
    the lowest of its task limits: the cgroup's pids.max (a container's),
    kernel.threads-max and kernel.pid_max. Apache's own, its unit's TasksMax, is
    ApacheService's.

    .. code:: python

        {"cpus": 2, "memory_kib": 24684084, "task_limit": 2048, "task_limit_from": "the cgroup's pids.max"}
    """

    def command(self) -> str:
        # One awk over the files there are (mawk stops at the first it cannot open); the
        # cgroup's pids.max is read where cgroup v2 puts it first, then where v1 does.
        files = " ".join(READ_FILES)
        return (
            'echo "cpus=$(nproc)"; set --;'
            f' for file in {files}; do [ ! -r "$file" ] || set -- "$@" "$file"; done;'
            f' [ "$#" = 0 ] || awk {shlex.quote(READ_PROGRAM)} "$@"'
        )

    def process(self, output: list[str]) -> CapacityDict:
        fields = dict(line.split("=", 1) for line in output if "=" in line)
        numbers = {key: int(value) for key, value in fields.items() if value.strip().isdigit()}
        limits = {key: numbers[key] for key in LIMITS if key in numbers}
        lowest = min(limits, key=limits.get) if limits else None
        return {
            "cpus": numbers.get("cpus", 1),
            "memory_kib": numbers.get("memory_kib"),
            "task_limit": limits.get(lowest) if lowest else None,
            "task_limit_from": LIMITS[lowest] if lowest else None,
        }

"""Whether the host can run what the settings ask of it, checked before anything changes."""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import operation

from apache_wsgi_deploy import layout, outcome
from apache_wsgi_deploy.facts.apache import ApacheService
from apache_wsgi_deploy.facts.cache import cached_fact, fixed_fact
from apache_wsgi_deploy.facts.capacity import Capacity

# What one daemon process of a small app holds resident at least.
DAEMON_MEMORY_KIB = 25 * 1024
# The share of a limit the sites may take: the rest is the system's (sshd, systemd...).
SHARE = 0.75


def needs(daemons: list[dict], apache_tasks: int) -> tuple[int, int, list[str]]:
    """The tasks and memory (KiB) the sites' daemons and Apache need, and each site's part."""
    tasks, memory, parts = apache_tasks, 0, []
    for daemon in daemons:
        processes = daemon["processes"]
        tasks += processes * (daemon["threads"] + layout.MOD_WSGI_OWN_THREADS)
        memory += processes * DAEMON_MEMORY_KIB
        parts.append(f"{daemon['app_name']} {processes} x ({daemon['threads']} + {layout.MOD_WSGI_OWN_THREADS})")
    return tasks, memory, parts


@operation()
def suffices(daemons: list[dict], apache_tasks: int):
    """
    Fail, before anything is changed, when the sites' daemon processes and threads and
    Apache's own would take more than three quarters of the host's lowest task limit or of
    its memory: past it mod_wsgi cannot start its threads, the site goes down, and sshd
    itself may no longer start a process.

    + daemons: each site's {"app_name", "processes", "threads"}
    + apache_tasks: the threads and processes Apache's MPM runs
    """
    capacity = fixed_fact(Capacity)
    tasks, memory, parts = needs(daemons, apache_tasks)
    problems = []
    # The host's lowest task limit, and Apache's unit's own.
    limits = [
        (capacity["task_limit"], capacity["task_limit_from"]),
        (cached_fact(ApacheService)["tasks_max"], f"{layout.APACHE_SERVICE}'s TasksMax"),
    ]
    limit, limit_from = min(((limit, name) for limit, name in limits if limit is not None), default=(None, None))
    if limit is not None and tasks > SHARE * limit:
        problems.append(
            f"the sites' daemons and Apache need {tasks} tasks ({'; '.join(parts)}; Apache {apache_tasks}),"
            f" more than {SHARE:.0%} of the {limit} that {limit_from} allows"
        )
    total = capacity["memory_kib"]
    if total is not None and memory > SHARE * total:
        problems.append(
            f"the sites' {memory // DAEMON_MEMORY_KIB} daemon processes need at least {memory // 1024} MiB,"
            f" more than {SHARE:.0%} of the host's {total // 1024} MiB"
        )
    if problems:
        raise outcome.refused(
            host.name,
            f"refusing settings this host cannot run: {'; '.join(problems)}.",
            "Lower wsgi_processes or wsgi_threads",
        )
    host.noop(f"{tasks} tasks and {memory // 1024} MiB fit this host")
    yield from ()

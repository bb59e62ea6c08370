"""
Apache's reload, run on the host, never leaving it down:

1. `apache2ctl configtest`, then no name claimed by two VirtualHosts (vhostcheck.py), then
   the certificate check (tlscheck.py): on failure the files the deploy changed since
   the last reload are put back, and nothing reloads;
2. a graceful reload (a restart when the MPM changed, which a graceful reload cannot do);
3. then Apache must say it resumed serving: a reload that fails stops Apache's parent,
   every site with it, after `systemctl reload` has already returned success. If it
   stopped, the files are put back and Apache is started on them.

The deploy keeps each file and link as it was before its first change since the last
reload below <before> (at its own path; "<path>.absent" for one that did not exist);
every reload that ends, failed or not, forgets them.

Before the reload, each log Apache wrote itself (a plain file, one link: a host deployed
before its logs went through rotatelogs) is renamed as a rotated file of its own:
rotatelogs replaces the log's name with a link to its current file, and would drop it.

    python3 reload.py <before> <apache dir> <error log> <pid file> <service> [<log>...]

Exit status 0 when Apache serves the new configuration, 1 otherwise (the cause on stderr).
"""

import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import tlscheck
import vhostcheck

ABSENT = ".absent"
# Apache's notice once a start or a graceful restart has read its configuration.
RESUMED = "resuming normal operations"
RESUME_DEADLINE = 30
STOPPED, SLOW = "stopped", "slow"
MPM = re.compile(r"^LoadModule (mpm_\w+_module) ", re.M)


def restore(before: Path) -> None:
    """Put back every kept file and link (remove what did not exist), then forget them."""
    if not before.is_dir():
        return
    for kept in sorted(path for path in before.rglob("*") if not path.is_dir() or path.is_symlink()):
        original = Path("/") / kept.relative_to(before)
        if kept.name.endswith(ABSENT):
            original = original.with_name(original.name[: -len(ABSENT)])
            original.unlink(missing_ok=True)
            continue
        original.unlink(missing_ok=True)
        shutil.copy2(kept, original, follow_symlinks=False)
    shutil.rmtree(before)


def set_aside(logs: list[str]) -> None:
    """Each log that is a plain file of one link renamed <log>.<now>, a rotated name (a log
    rotatelogs writes has two links: its name and its current file)."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for log in map(Path, logs):
        try:
            info = log.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
            log.rename(log.with_name(f"{log.name}.{stamp}"))


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True)


def end(error_log: Path) -> tuple[int, int]:
    """Where the log's file ends now: its inode and size ((0, 0) with none)."""
    try:
        info = error_log.stat()
    except OSError:
        return 0, 0
    return info.st_ino, info.st_size


def logged_since(error_log: Path, end: tuple[int, int]) -> str:
    """What Apache logged since end (end): all the file, if it is another one since
    (rotatelogs links the log's name to each new file) or was truncated."""
    try:
        with error_log.open("rb") as log:
            info = os.fstat(log.fileno())
            same_file = info.st_ino == end[0] and info.st_size >= end[1]
            log.seek(end[1] if same_file else 0)
            return log.read().decode(errors="replace")
    except OSError:
        return ""


def mpm_changed(config: str, pid: Path) -> bool:
    """Whether the MPM the configuration loads is not the one the running parent loaded."""
    module = MPM.search(config)
    if module is None or not pid.exists():
        return False
    library = f"mod_{module.group(1).removesuffix('_module')}.so"
    maps = Path(f"/proc/{pid.read_text().strip()}/maps")
    return maps.exists() and library not in maps.read_text(errors="replace")


def cause(logged: str) -> str:
    """Why Apache stopped, from what it logged since the reload (not its notices)."""
    lines = [line for line in logged.splitlines() if line.strip() and ":notice]" not in line and "AH00558" not in line]
    return " | ".join(lines[-4:]) or "it logged no reason"


def watch(service: str, log: Path, offset: tuple[int, int]) -> str:
    """After a reload: RESUMED once the service logged so since offset (end), STOPPED if
    it stopped first, SLOW if neither happened within RESUME_DEADLINE."""
    deadline = time.monotonic() + RESUME_DEADLINE
    while run("systemctl", "is-active", "--quiet", service).returncode == 0:
        if RESUMED in logged_since(log, offset):
            return RESUMED
        if time.monotonic() > deadline:
            return SLOW
        time.sleep(0.1)
    return STOPPED


def main(before: str, apache_dir: str, error_log: str, pid_file: str, service: str, *logs: str) -> int:
    before_dir, log = Path(before), Path(error_log)
    test = run("apache2ctl", "configtest")
    if test.returncode:
        restore(before_dir)
        print(test.stderr.strip() or test.stdout.strip(), file=sys.stderr)
        print("apache-wsgi-deploy: configtest failed; its config changes are undone", file=sys.stderr)
        return 1
    if vhostcheck.main():
        restore(before_dir)
        print("apache-wsgi-deploy: two VirtualHosts claim one name; its config changes are undone", file=sys.stderr)
        return 1
    if tlscheck.main(f"{apache_dir}/sites-enabled"):
        restore(before_dir)
        print("apache-wsgi-deploy: a certificate would stop Apache; its config changes are undone", file=sys.stderr)
        return 1
    set_aside(list(logs))
    offset = end(log)
    # A graceful reload cannot switch MPMs ("The MPM cannot be changed during restart").
    enabled = "".join(path.read_text() for path in Path(apache_dir).glob("mods-enabled/mpm_*.load"))
    action = "restart" if mpm_changed(enabled, Path(pid_file)) else "reload-or-restart"
    run("systemctl", action, service)
    watched = watch(service, log, offset)
    if watched == RESUMED:
        shutil.rmtree(before_dir, ignore_errors=True)
        return 0
    if watched == SLOW:
        print(f"apache-wsgi-deploy: Apache did not resume within {RESUME_DEADLINE} s", file=sys.stderr)
        return 1
    why = cause(logged_since(log, offset))
    restore(before_dir)
    started = run("systemctl", "start", service).returncode == 0
    print(
        f"apache-wsgi-deploy: Apache stopped after its {action} ({why}); the configuration before this deploy's"
        " changes is back and Apache "
        + ("was started on it" if started else "did not start on it either: see journalctl -u " + service),
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

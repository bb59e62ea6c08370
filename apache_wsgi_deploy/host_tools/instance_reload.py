"""
A graceful restart of a site's own Apache instance (apache2@<app_name>), run on the host,
never leaving it down. Its apache2.conf passed `apache2ctl -t` before it was written;
what a test cannot see (another MPM, which only a full restart loads) is watched for: the
instance must say it resumed serving, or it is started again on the files on disk.

    python3 instance_reload.py <service> <apache2.conf> <error log> <pid file>

Nothing when the instance does not run: its first start comes with its configuration.
Exit status 0 when the instance serves, 1 otherwise (the cause on stderr).
"""

import sys
from pathlib import Path

from reload import RESUME_DEADLINE, RESUMED, SLOW, cause, end, logged_since, mpm_changed, run, watch


def main(service: str, conf: str, error_log: str, pid_file: str) -> int:
    if run("systemctl", "is-active", "--quiet", service).returncode:
        return 0
    log = Path(error_log)
    offset = end(log)
    # A graceful restart cannot switch MPMs: a hand edit may have loaded another.
    action = "restart" if mpm_changed(Path(conf).read_text(), Path(pid_file)) else "reload"
    run("systemctl", action, service)
    watched = watch(service, log, offset)
    if watched == RESUMED:
        return 0
    if watched == SLOW:
        print(f"apache-wsgi-deploy: {service} did not resume within {RESUME_DEADLINE} s", file=sys.stderr)
        return 1
    why = cause(logged_since(log, offset))
    started = run("systemctl", "start", service).returncode == 0
    print(
        f"apache-wsgi-deploy: {service} stopped after its {action} ({why}); it "
        + ("was started again" if started else "did not start again: see journalctl -u " + service),
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

"""
A site's logs from every selected host (`awd logs APP`): its access and error logs, and
its own Apache instance's (where the app's tracebacks go), over OpenSSH as root. The
last lines of each, or with --follow every line as it is written, from all hosts at
once; each line is printed whole, prefixed with its host and its log's kind.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from apache_wsgi_deploy.appcommand import UNREACHABLE, last_line

ACCESS, ERROR, APP = "access", "error", "app"


def site_logs(site, errors_only: bool) -> dict[str, str]:
    """The site's logs by kind: its vhosts' error log, its access log unless errors_only,
    and the error log of its own instance (the app's output) if it runs in one."""
    paths = site.paths
    logs = {ERROR: paths.error_log} if errors_only else {ACCESS: paths.access_log, ERROR: paths.error_log}
    if site.own_instance:
        logs[APP] = paths.instance_error_log
    return logs


def tail_command(logs: dict[str, str], lines: int, follow: bool) -> str:
    """tail over the logs, with its headers (==> path <==) to tell which each line is
    from; -F follows a log across rotatelogs' new files."""
    files = " ".join(shlex.quote(path) for path in logs.values())
    return f"exec tail -v -n {lines} {'-F ' if follow else ''}-- {files}"


def prefixed(host: str, logs: dict[str, str], output) -> iter:
    """Each line tail prints (output: an iterable of lines), as "<host> <kind>: <line>"."""
    kinds = {f"==> {path} <==": kind for kind, path in logs.items()}
    kind = ""
    for line in output:
        text = line.rstrip("\n")
        if text in kinds:
            kind = kinds[text]
        elif text:
            yield f"{host} {kind}: {text}"


def stream(commands: dict[str, tuple[list[str], dict[str, str]]], concurrency: int) -> int:
    """Run each host's command (host -> (its argv, its logs)), `concurrency` at once,
    printing each line as it comes: 0 when every host's tail ended well."""
    printing = threading.Lock()

    def run(host: str) -> bool:
        argv, logs = commands[host]
        with subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as tail:
            for line in prefixed(host, logs, tail.stdout):
                with printing:
                    print(line, flush=True)
            error = tail.stderr.read()
        if tail.returncode == UNREACHABLE:
            with printing:
                print(f"{host}: NOT REACHED, {last_line(error)}", file=sys.stderr, flush=True)
        elif tail.returncode != 0:
            with printing:
                print(f"{host}: {last_line(error)}", file=sys.stderr, flush=True)
        return tail.returncode == 0

    with ThreadPoolExecutor(concurrency) as pool:
        return 0 if all(pool.map(run, commands)) else 1

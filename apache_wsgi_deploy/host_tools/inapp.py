"""
A command in a release's context, run on the host as the app's user: in the release's
code folder, its virtualenv first on PATH, with the app's environment, HOME in the
app's data folder, with the app's umask. What release commands (with a timeout) and
`awd app` run.

    python inapp.py <release folder> <data folder> [--timeout SECONDS] [--umask MODE] -- COMMAND [ARGS...]

With a timeout the command runs in a process group of its own, its output passed on as
it comes: it ends when the command does, and then whatever the command left running in
its group (a background job) is killed, so nothing holds the deploy's connection; past
the timeout the whole group is killed and the exit status is 124, as timeout(1)'s; and
when the deploy is gone (killed, its connection dropped), the group is killed at once.
Without one, the command replaces this process (a terminal stays the command's).
"""

import json
import os
import select
import signal
import subprocess
import sys
import time

from deploy_gone import end_with_the_deploy

TIMED_OUT = 124


def _in_app_context(release: str, data_dir: str) -> None:
    with open(os.path.join(release, "environment.json")) as values:
        app_environment = json.load(values)
    venv = os.path.join(release, "venv")
    os.environ.update(app_environment)
    os.environ["VIRTUAL_ENV"] = venv
    os.environ["PATH"] = os.pathsep.join((os.path.join(venv, "bin"), "/usr/local/bin", "/usr/bin", "/bin"))
    # Tools that keep a cache or history in ~ (pip, a shell) write where the app may.
    os.environ["HOME"] = data_dir
    os.chdir(os.path.join(release, "app"))


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _pass_on(output: int) -> bool:
    """Pass what the command wrote on to this process's stderr; False at its end."""
    chunk = os.read(output, 65536)
    sys.stderr.buffer.write(chunk)
    sys.stderr.flush()
    return bool(chunk)


def bounded(command: list[str], timeout: float) -> int:
    """Run command in a group of its own, its output to this one's stderr as it comes;
    its exit status, or TIMED_OUT once timeout seconds passed."""
    deadline = time.monotonic() + timeout
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)  # fmt: skip
    end_with_the_deploy(child.pid)
    output, reading = child.stdout.fileno(), True
    try:
        while child.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0:
                print(f"release command timed out after {timeout:g} s, killed", file=sys.stderr, flush=True)
                return TIMED_OUT
            if not reading:  # the command closed its output and goes on
                try:
                    child.wait(timeout=min(left, 1.0))
                except subprocess.TimeoutExpired:
                    pass
                continue
            if select.select([output], [], [], min(left, 1.0))[0]:
                reading = _pass_on(output)
        # What is there already; a background job that goes on writing does not hold this.
        while reading and select.select([output], [], [], 0)[0] and _pass_on(output):
            pass
        return child.returncode
    finally:
        # The command's background jobs, or the whole command past its timeout.
        _kill_group(child.pid)
        child.wait()


def main(release: str, data_dir: str, *arguments: str) -> int:
    timeout = None
    while arguments[:1] in (("--timeout",), ("--umask",)) and len(arguments) > 1:
        option, value, arguments = arguments[0], arguments[1], arguments[2:]
        if option == "--timeout":
            timeout = float(value)
        else:
            os.umask(int(value, 8))
    separator, command = arguments[:1], list(arguments[1:])
    if separator != ("--",) or not command:
        print(__doc__.strip().splitlines()[4].strip(), file=sys.stderr)
        return 2
    _in_app_context(release, data_dir)
    if timeout is None:
        os.execvp(command[0], command)
    return bounded(command, timeout)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

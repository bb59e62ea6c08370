"""
A host tool's processes end with the deploy that started them. The tool's stderr is the
deploy's connection (a pipe or terminal sshd holds); once its reader is gone (the deploy
killed, the connection dropped), poll() reports an error or a hangup on it, and the
command the tool runs is killed at once instead of running on for nobody until its
timeout.
"""

import os
import select
import signal
import threading


def end_with_the_deploy(group: int) -> None:
    """Watch stderr from a thread: when the deploy is gone, kill the process group
    `group` and exit. Nothing is watched when stderr is no connection (closed)."""

    def watch() -> None:
        watcher = select.poll()
        watcher.register(2, select.POLLERR | select.POLLHUP)
        events = watcher.poll()
        if any(event & select.POLLNVAL for _, event in events):
            return
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()

"""
Live progress of a run over many hosts (apache_wsgi_deploy.runner): each host's pyinfra
process reports through a pipe where it is (connecting, preparing, the operation it
runs and how many of its operations are done), and the parent shows it.

On a terminal: a line per running host and one for the fleet (done, failed, left),
redrawn in place, each host's result printed above them as it ends. Elsewhere (cron,
CI, a pipe): only a plain line as each host ends.
"""

from __future__ import annotations

import os
import shutil
import sys
import time

from pyinfra.api import BaseStateCallback

from apache_wsgi_deploy.outcome import op_name

# Redraws of the terminal's lines at most this often: 32 hosts report many times a second.
REDRAW_EVERY = 0.1


class Reporter(BaseStateCallback):
    """In a host's pyinfra process: one line per step, "<done>\\t<total>\\t<where>", to fd."""

    def __init__(self, fd: int):
        self.fd = fd
        self.done = 0

    def _send(self, total: int, where: str) -> None:
        try:
            os.write(self.fd, f"{self.done}\t{total}\t{where.replace(chr(10), ' ')}\n".encode())
        except OSError:  # the parent went away: progress is not worth failing a deploy for
            pass

    def host_before_connect(self, state, host):
        self._send(0, "connecting")

    def host_connect(self, state, host):
        self._send(0, "preparing")

    def operation_host_start(self, state, host, op_hash):
        # The host's own list: pyinfra's whole order is sorted again at every call.
        self._send(len(host.op_hash_order), op_name(state.op_meta[op_hash]))

    def operation_host_success(self, state, host, op_hash, retry_count=0):
        self.done += 1

    def operation_host_error(self, state, host, op_hash, retry_count=0, max_retries=0):
        self.done += 1


def parse(line: str) -> tuple[int, int, str]:
    done, total, where = line.split("\t", 2)
    return int(done), int(total), where


class Plain:
    """A line as each host ends; nothing while it runs."""

    def __init__(self, hosts: int, stream=sys.stderr):
        self.hosts, self.ended, self.stream = hosts, 0, stream

    def started(self, host: str) -> None:
        pass

    def update(self, host: str, line: str) -> None:
        pass

    def ended_host(self, host: str, result: str, failed: bool = False) -> None:
        self.ended += 1
        width = len(str(self.hosts))
        print(f"[{self.ended:>{width}}/{self.hosts}] {result}", file=self.stream, flush=True)

    def close(self) -> None:
        pass


class Terminal(Plain):
    """The running hosts and the fleet's bar, redrawn in place below the ended hosts' lines."""

    BAR = 30

    def __init__(self, hosts: int, stream=sys.stderr):
        super().__init__(hosts, stream)
        self.running: dict[str, tuple[float, str]] = {}
        self.failed = 0
        self.drawn = 0
        self.last_draw = 0.0

    def started(self, host: str) -> None:
        self.running[host] = (time.monotonic(), "starting")
        self._draw()

    def update(self, host: str, line: str) -> None:
        done, total, where = parse(line)
        steps = f"{done}/{total} " if total else ""
        self.running[host] = (self.running.get(host, (time.monotonic(), ""))[0], f"{steps}{where}")
        if time.monotonic() - self.last_draw >= REDRAW_EVERY:
            self._draw()

    def ended_host(self, host: str, result: str, failed: bool = False) -> None:
        self.running.pop(host, None)
        self.failed += failed
        self._clear()
        super().ended_host(host, result, failed)
        self._draw()

    def close(self) -> None:
        self._clear()

    def _clear(self) -> None:
        # Back to the first drawn line, then erase to the end of the screen.
        if self.drawn:
            self.stream.write(f"\x1b[{self.drawn}F\x1b[J")
        self.drawn = 0

    def _draw(self) -> None:
        self._clear()
        columns, rows = shutil.get_terminal_size()
        now = time.monotonic()
        shown = sorted(self.running.items())[: max(rows - 3, 1)]
        name_width = max((len(host) for host, _ in shown), default=0)
        lines = [f"  {host:<{name_width}}  {now - since:5.1f}s  {where}" for host, (since, where) in shown]
        if len(self.running) > len(shown):
            lines.append(f"  ... and {len(self.running) - len(shown)} more")
        succeeded = self.ended - self.failed
        filled = round(self.BAR * self.ended / max(self.hosts, 1))
        left = self.hosts - self.ended
        lines.append(f"[{'#' * filled}{'.' * (self.BAR - filled)}] {succeeded} done, {self.failed} failed, {left} left")
        self.stream.write("".join(line[: columns - 1] + "\n" for line in lines))
        self.stream.flush()
        self.drawn = len(lines)
        self.last_draw = now


class Silent(Plain):
    def ended_host(self, host: str, result: str, failed: bool = False) -> None:
        pass


def for_stream(hosts: int, stream=sys.stderr, plain: bool = True) -> Plain:
    """Terminal on a terminal; otherwise Plain lines, or Silent when plain is False (a
    read-only run, whose report is its output)."""
    if stream.isatty() and os.environ.get("TERM") != "dumb":
        return Terminal(hosts, stream)
    return Plain(hosts, stream) if plain else Silent(hosts, stream)

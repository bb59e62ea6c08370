"""
A run's lone first host (a single host, a canary): its TCP connection opened as soon as
`awd` knows the host, before the interpreter is patched and pyinfra's operations
imported, paramiko's greeting sent once it is up, and the connection handed to paramiko
in the host's own process, where the SSH handshake then runs while that process imports
the deploy (runner). The server answers a greeting with its key exchange offer, so
paramiko finds it waiting. Out of the way by the time paramiko needs them: the TCP
connect's round trip and the server's start, and the greetings' round trip when the
connection is up before the host's process is forked (on a loopback relay, always).

Only for a host that starts alone: a fleet's hosts connect in their own processes, at
once, and a name looked up here would hold up the others. A host whose connection
pyinfra would not open as a plain TCP socket (a ProxyCommand, a jump host, a socket of
its own, retries, another connector) is left to pyinfra.
"""

from __future__ import annotations

import errno
import functools
import select
import socket
import time
from dataclasses import dataclass

# How long after it was opened a connection may still be coming up when the host's
# process needs it; past that, paramiko opens its own, with pyinfra's whole timeout (a
# host that does not answer then fails at most this much later than it would have).
PATIENCE_S = 0.5


@dataclass
class _Opening:
    """A host's connection being opened: when, and whether it sent paramiko's greeting."""

    sock: socket.socket
    opened_at: float
    greeted: bool = False


# By host name.
_opened: dict[str, _Opening] = {}


@functools.cache
def greeting() -> bytes:
    """The identification line paramiko's Transport sends first, as a Transport that is
    never started says it."""
    from paramiko import Transport

    ends = socket.socketpair()
    transport = Transport(ends[0])
    try:
        return f"{transport.local_version}\r\n".encode()
    finally:
        transport.close()
        ends[1].close()


def destination(name: str, data: dict) -> tuple[str, int] | None:
    """Where paramiko would open the host's TCP connection, read as pyinfra's ssh
    connector reads the host's data and ssh_config (the data's port first, then the
    config's); None when it would not open one itself."""
    from pyinfra.connectors.sshuserclient.client import get_ssh_config

    overrides = data.get("ssh_paramiko_connect_kwargs") or {}
    if name.startswith("@") or data.get("ssh_connect_retries") or "sock" in overrides:
        return None
    hostname, port = data.get("ssh_hostname") or name, 22
    config = get_ssh_config(data.get("ssh_config_file"))
    if config is not None:
        found = config.lookup(hostname)
        if "proxycommand" in found or "proxyjump" in found:
            return None
        hostname, port = found.get("hostname", hostname), int(found.get("port", port))
    return hostname, int(overrides.get("port") or data.get("ssh_port") or port)


def open_first(first: list) -> None:
    """Begin the TCP connection of the run's first hosts (RunHost), when one starts alone."""
    if len(first) != 1 or (where := destination(first[0].name, first[0].data)) is None:
        return
    try:
        family, kind, proto, _, address = socket.getaddrinfo(*where, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError:  # paramiko looks the name up again, and says what failed
        return
    sock.setblocking(False)
    if sock.connect_ex(address) not in (0, errno.EINPROGRESS):
        sock.close()
        return
    _opened[first[0].name] = _Opening(sock, time.monotonic())
    greet()


def greet() -> None:
    """Send paramiko's greeting on each connection up by now that has not sent it; a
    connection that failed is closed, for paramiko to try again."""
    for name, opening in list(_opened.items()):
        sock = opening.sock
        if opening.greeted or not select.select([], [sock], [], 0)[1]:
            continue
        try:
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 and sock.send(greeting()) == len(greeting()):
                opening.greeted = True
                continue
        except OSError:
            pass
        sock.close()
        del _opened[name]


def take(name: str) -> socket.socket | None:
    """In the host's own process, patched by gevent: its connection once it is up (at
    most PATIENCE_S after it was opened), a socket of the patched kind, whose waits let
    other greenlets run; None when there is none, or it failed or is not up in time, for
    paramiko to connect, and say why. Every other host's connection is closed here."""
    from gevent.socket import wait_write

    opening = _opened.pop(name, None)
    close_all()
    if opening is None:
        return None
    sock = opening.sock
    try:
        wait_write(sock.fileno(), timeout=max(opening.opened_at + PATIENCE_S - time.monotonic(), 0))
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
            raise ConnectionError
    except OSError:  # socket.timeout and refusals alike
        sock.close()
        return None
    kind = _greeted_class() if opening.greeted else socket.socket
    connected = kind(sock.family, sock.type, sock.proto, fileno=sock.detach())
    connected.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    connected.setblocking(True)
    return connected


def forget(name: str) -> None:
    """In the parent, once the host's process started: this process's copy closed."""
    opening = _opened.pop(name, None)
    if opening is not None:
        opening.sock.close()


def close_all() -> None:
    while _opened:
        _opened.popitem()[1].sock.close()


@functools.cache
def _greeted_class() -> type:
    """The socket class as gevent patched it, with its first send, paramiko's greeting,
    taken as sent already: made on first use, once patched."""
    line = greeting()

    class Greeted(socket.socket):
        greeted = True

        def send(self, data, flags=0):
            if not self.greeted:
                return super().send(data, flags)
            self.greeted = False
            if bytes(data) != line:
                raise ConnectionError("paramiko's greeting is not the one sent ahead of it")
            return len(data)

    return Greeted

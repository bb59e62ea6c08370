"""
The SSH connection pyinfra opens to each host.
"""

from __future__ import annotations

import socket

from pyinfra.api.host import Host
from pyinfra.connectors.ssh import SSHConnector


def disable_nagle(host: Host) -> None:
    """
    Send each SSH packet at once: paramiko leaves Nagle's algorithm on, so the small
    packets that open a command's channel wait for the server's delayed ACK, about 40 ms
    per command on Linux. OpenSSH sets TCP_NODELAY on its own sessions.
    """
    if not isinstance(host.connector, SSHConnector) or host.connector.client is None:
        return
    transport = host.connector.client.get_transport()
    # A ProxyCommand or a jump host's channel is not a TCP socket of ours.
    if transport is not None and isinstance(transport.sock, socket.socket):
        transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

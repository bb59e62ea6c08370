"""
The SSH connection pyinfra opens to each host.
"""

from __future__ import annotations

import shlex
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


def openssh_command(name: str, data: dict, remote: str, tty: bool) -> list[str]:
    """OpenSSH's command line for an inventory host, as pyinfra's data reaches it
    (ssh_hostname, ssh_user, ssh_port, ssh_key, ssh_config_file and its host-key
    settings); `remote` runs as root through sudo when the host data asks for _sudo."""
    command = ["ssh", "-t" if tty else "-T"]
    if data.get("ssh_config_file"):
        command += ["-F", data["ssh_config_file"]]
    if data.get("ssh_port"):
        command += ["-p", str(data["ssh_port"])]
    if data.get("ssh_key"):
        command += ["-i", data["ssh_key"]]
    for option, key in (
        ("UserKnownHostsFile", "ssh_known_hosts_file"),
        ("StrictHostKeyChecking", "ssh_strict_host_key_checking"),
    ):
        if data.get(key):
            command += ["-o", f"{option}={data[key]}"]
    user = data.get("ssh_user")
    destination = f"{user}@" if user else ""
    destination += data.get("ssh_hostname") or name
    if data.get("_sudo"):
        remote = f"sudo -n sh -c {shlex.quote(remote)}"
    return [*command, destination, remote]

"""
Every listening TCP socket of the host, one line each: address, port, the command of a
process holding it ("?" when none can be seen). Read from /proc, as root sees it: no
iproute2 needed (Debian's minimal installs lack ss). The verification suite sends it to
the host's python3 (`python3 -c`); nothing installs it.
"""

import os
import socket
import sys

LISTEN = "0A"


def socket_owners() -> dict[str, str]:
    """Socket inode -> the command (comm) of the first process seen holding it."""
    owners = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as comm:
                command = comm.read().strip()
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    owners.setdefault(target[8:-1], command)
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return owners


def address(hexadecimal: str, family: int) -> str:
    """/proc/net/tcp's address: each 32-bit word printed as a number in the host's byte order."""
    raw = bytes.fromhex(hexadecimal)
    if sys.byteorder == "little":
        raw = b"".join(raw[start : start + 4][::-1] for start in range(0, len(raw), 4))
    return socket.inet_ntop(family, raw)


def main() -> None:
    owners = socket_owners()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            with open(f"/proc/net/{table}") as sockets:
                rows = sockets.read().splitlines()[1:]
        except OSError:
            continue  # no IPv6 on this host
        for row in rows:
            fields = row.split()
            if fields[3] == LISTEN:
                local, port = fields[1].split(":")
                print(address(local, family), int(port, 16), owners.get(fields[9], "?"))


if __name__ == "__main__":
    main()

"""Reading pyinfra's progress output, which the drift check and the deploy summary parse."""

from __future__ import annotations


def host_message(line: str) -> tuple[str, str] | None:
    """(host, message) of a line like '    [web1]   Connected', or None for other lines.
    pyinfra pads short host names so that the messages line up."""
    stripped = line.strip()
    if not stripped.startswith("[") or "] " not in stripped:
        return None
    host, _, message = stripped[1:].partition("] ")
    return host, message.strip()

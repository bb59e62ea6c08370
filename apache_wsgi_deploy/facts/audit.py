"""The host's audit trail (layout.AUDIT_LOG, audit.py), as `awd status --history` reads it."""

from __future__ import annotations

import shlex

from pyinfra.api import FactBase

from apache_wsgi_deploy import layout


class AuditTrail(FactBase[list[str]]):
    """
    Returns the last lines of the host's audit trail, oldest first; [] without one.

    .. code:: python

        ['{"at": "2026-12-03T10:00:00Z", "run": "...", "event": "started", ...}', ...]
    """

    def command(self, lines: int) -> str:
        return f"tail -n {int(lines)} {shlex.quote(layout.AUDIT_LOG)} 2>/dev/null || true"

    def process(self, output: list[str]) -> list[str]:
        return output

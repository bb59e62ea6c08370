"""podman, always with the project's containers.conf."""

from __future__ import annotations

import os
import subprocess

from apache_wsgi_deploy.project import shipped

CONTAINERS_CONF = shipped("testhost/containers.conf")


def podman(*args: str, check: bool = True, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["podman", *args],
        env={**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)},
        input=stdin,
        capture_output=True,
        check=check,
    )

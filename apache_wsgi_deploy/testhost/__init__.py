"""
The local test host layer: throwaway Debian 13 (or 12) servers in podman containers,
booting systemd and sshd, reachable over SSH as a sudoer, with a test CA.

    awd testhost up [--fleet NAME] [--count N] [--suite trixie|bookworm] | status | down
"""

from apache_wsgi_deploy.testhost.fleet import DEFAULT_FLEET, TestHost, ca_bundle, down, load, up
from apache_wsgi_deploy.testhost.podman import CONTAINERS_CONF, podman

__all__ = ["CONTAINERS_CONF", "DEFAULT_FLEET", "TestHost", "ca_bundle", "down", "load", "podman", "up"]

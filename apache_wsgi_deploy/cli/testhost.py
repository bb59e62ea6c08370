"""awd testhost up|status|down: local throwaway test hosts (podman, on Linux)."""

from __future__ import annotations

import platform
import shutil
import sys

HELP = "start, show or remove local throwaway Debian test hosts (needs Linux and podman)"


def add_arguments(parser) -> None:
    from apache_wsgi_deploy.testhost.fleet import DEFAULT_FLEET
    from apache_wsgi_deploy.testhost.image import DEFAULT_SUITE, SUITES

    parser.add_argument("action", choices=["up", "status", "down"])
    parser.add_argument(
        "--fleet", default=DEFAULT_FLEET, help=f"the containers' name prefix ({DEFAULT_FLEET}, or AWD_TESTHOST_FLEET)"
    )
    parser.add_argument("--count", type=int, default=1, help="number of hosts (up only)")
    parser.add_argument(
        "--suite",
        choices=list(SUITES),
        default=DEFAULT_SUITE,
        help=f"Debian release of the hosts (up only; default {DEFAULT_SUITE}, or AWD_TESTHOST_SUITE)",
    )


def missing() -> list[str]:
    """What the test hosts need that this machine lacks."""
    needs = [] if platform.system() == "Linux" else ["Linux"]
    return needs + [tool for tool in ("podman", "debootstrap", "ssh") if shutil.which(tool) is None]


def run(args, extra: list[str]) -> int:
    if args.action != "status" and missing():
        print(
            f"awd testhost: test hosts need {', '.join(missing())} on this machine"
            " (Debian: apt-get install podman runc debootstrap openssh-client), and root to build their image",
            file=sys.stderr,
        )
        return 1
    from apache_wsgi_deploy.testhost import down, load, up
    from apache_wsgi_deploy.testhost.fleet import print_status

    if args.action == "up":
        print_status(up(args.fleet, args.count, suite=args.suite))
    elif args.action == "status":
        print_status(load(args.fleet))
    else:
        down(args.fleet)
    return 0

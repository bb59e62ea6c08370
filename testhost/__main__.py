"""
python -m testhost up [--fleet NAME] [--count N] [--suite trixie|bookworm]
                 | status [--fleet NAME] | down [--fleet NAME]
"""

import argparse
import sys

from testhost import ca_bundle, down, load, up
from testhost.fleet import DEFAULT_FLEET, container_status
from testhost.image import DEFAULT_SUITE, SUITES


def print_status(hosts) -> None:
    if not hosts:
        print("testhost: no test host is up")
        return
    for host in hosts:
        state = container_status(host.alias)
        system = f"Debian {SUITES.get(host.suite, '?')} {host.suite}, " if host.suite else ""
        print(
            f"{host.alias} ({system}{state}): https://{host.server_name}/ on loopback ports "
            f"ssh {host.ssh_port}, http {host.http_port}, https {host.https_port}\n"
            f"  ssh -F {host.ssh_config} {host.alias}\n"
            f"  curl --cacert {ca_bundle()} --resolve {host.server_name}:{host.https_port}:127.0.0.1 "
            f"https://{host.server_name}:{host.https_port}/"
        )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m testhost", description="Local throwaway test hosts.")
    parser.add_argument("action", choices=["up", "status", "down"])
    parser.add_argument(
        "--fleet",
        default=DEFAULT_FLEET,
        help=f"fleet name, the containers' name prefix ({DEFAULT_FLEET}, or AWD_TESTHOST_FLEET)",
    )
    parser.add_argument("--count", type=int, default=1, help="number of hosts (up only)")
    parser.add_argument(
        "--suite",
        choices=list(SUITES),
        default=DEFAULT_SUITE,
        help=f"Debian release of the hosts (up only; default {DEFAULT_SUITE}, or AWD_TESTHOST_SUITE)",
    )
    args = parser.parse_args()
    if args.action == "up":
        print_status(up(args.fleet, args.count, suite=args.suite))
    elif args.action == "status":
        print_status(load(args.fleet))
    else:
        down(args.fleet)
    return 0


if __name__ == "__main__":
    sys.exit(main())

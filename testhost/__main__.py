"""python -m testhost up [--fleet NAME] [--count N] | status [--fleet NAME] | down [--fleet NAME]"""

import argparse
import sys

from testhost import ca_bundle, down, load, up
from testhost.fleet import container_status


def print_status(hosts) -> None:
    if not hosts:
        print("testhost: no test host is up")
        return
    for host in hosts:
        state = container_status(host.alias)
        print(
            f"{host.alias} ({state}): https://{host.server_name}/ on loopback ports "
            f"ssh {host.ssh_port}, http {host.http_port}, https {host.https_port}\n"
            f"  ssh -F {host.ssh_config} {host.alias}\n"
            f"  curl --cacert {ca_bundle()} --resolve {host.server_name}:{host.https_port}:127.0.0.1 "
            f"https://{host.server_name}:{host.https_port}/"
        )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m testhost", description="Local throwaway test hosts.")
    parser.add_argument("action", choices=["up", "status", "down"])
    parser.add_argument("--fleet", default="awd-test", help="fleet name, the containers' name prefix")
    parser.add_argument("--count", type=int, default=1, help="number of hosts (up only)")
    args = parser.parse_args()
    if args.action == "up":
        print_status(up(args.fleet, args.count))
    elif args.action == "status":
        print_status(load(args.fleet))
    else:
        down(args.fleet)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""
Deploy wall time per certificate source, side by side in one run: a first deploy on a
fresh test host, then no-change reruns (median), for `files` and for `acme` against the
local Pebble. Prints a Markdown table.

    .venv/bin/python -m bench.certificate_sources [--reruns N]
"""

from __future__ import annotations

import argparse
import statistics

from apache_wsgi_deploy import testhost
from apache_wsgi_deploy.testhost.acme import AcmeServer
from apache_wsgi_deploy.testhost.fleet import STATE
from bench.hosts import pyinfra, write_inventory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--reruns", type=int, default=5)
    reruns = parser.parse_args().reruns
    pebble = AcmeServer(STATE / "acme-bench")
    rows = []
    try:
        for source in ("files", "acme"):
            fleet = f"awd-bench-{source}"
            testhost.down(fleet)
            hosts = testhost.up(fleet, 1, data=pebble.host_data() if source == "acme" else None)
            if source == "acme":
                pebble.start()
                pebble.point(hosts[0].server_name, hosts[0].address)
            inventory = write_inventory(hosts, STATE / f"{fleet}-inventory.py")
            first = pyinfra(inventory)
            rerun = statistics.median(pyinfra(inventory) for _ in range(reruns))
            rows.append((source, first, rerun))
            testhost.down(fleet)
    finally:
        pebble.stop()
    print(f"| source | first deploy, fresh host | no-change rerun (median of {reruns}) |")
    print("|---|---|---|")
    for source, first, rerun in rows:
        print(f"| `{source}` | {first:.1f} s | {rerun:.2f} s |")


if __name__ == "__main__":
    main()

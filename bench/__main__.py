"""
The benchmark: deploy speed and serving speed, side by side in one run, on local test
hosts (fleet awd-bench, replaced at the start). Prints Markdown tables and writes the
same figures as JSON and a PNG chart. Not part of the test suite; takes about 10 minutes.

    ./run.sh bench [--only deploy|serving] [--seconds 10] [--repeats 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path

import testhost
from apache_wsgi_deploy import PROJECT, schema
from apache_wsgi_deploy.settings import Settings
from bench import deploy_speed, serving
from bench.chart import write_chart
from bench.hosts import deploy, write_inventory

FLEET = "awd-bench"
CONCURRENCIES = (1, 16, 64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--only", choices=("deploy", "serving"))
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="wrk runs per server and concurrency (median)")
    parser.add_argument("--reruns", type=int, default=5, help="no-change reruns on one host (median)")
    parser.add_argument("--json", type=Path, default=PROJECT / ".benchmarks/results.json")
    args = parser.parse_args()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    results = {"cpu_count": os.cpu_count()}

    testhost.down(FLEET)
    hosts = testhost.up(FLEET, max(deploy_speed.FLEET_SIZES) if args.only != "serving" else 1)
    try:
        if args.only != "serving":
            speed = deploy_speed.measure(hosts, args.json.parent, args.reruns)
            results["deploy"] = asdict(speed)
            print(f"Deploy ({os.cpu_count()} cores)\n\n{deploy_speed.table(speed)}\n", flush=True)
        if args.only != "deploy":
            if args.only == "serving":
                deploy(write_inventory(hosts[:1], args.json.parent / "inventory-1.py"))
            alias, data = hosts[0].inventory_entry()
            site = Settings.from_data(alias, {**schema.defaults(), **data}).sites[0]
            servers = serving.prepare(hosts[0], site)
            runs = serving.measure(hosts[0], servers, CONCURRENCIES, args.seconds, args.repeats)
            memory = serving.resident_memory_mib(hosts[0], servers)
            results["serving"] = serving.as_json(runs)
            results["resident_memory_mib"] = memory
            print(f"Serving ({os.cpu_count()} cores, wrk {args.seconds} s x {args.repeats}, median)\n")
            print(serving.table(runs))
            print("\nResident memory (MiB): " + ", ".join(f"{group} {mib}" for group, mib in memory.items()))
    finally:
        testhost.down(FLEET)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nfigures written to {args.json} and {write_chart(results, args.json.with_suffix('.png'))}")


if __name__ == "__main__":
    main()

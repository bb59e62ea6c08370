"""
The benchmark: deploy speed (on loopback, and over a relay that delays like a network
link) and serving speed, side by side in one run, on local test hosts of each Debian
suite (fleet awd-bench-<suite>, replaced at the start). Prints
Markdown tables per suite, then the suites side by side, and writes the same figures as
JSON and a PNG chart per suite. Not part of the test suite; takes about 10 minutes a suite.

    ./run.sh bench [--only deploy|relay|fleet|serving|events] [--suites trixie,bookworm] [--seconds 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path

from apache_wsgi_deploy import schema, testhost
from apache_wsgi_deploy.settings import Settings
from apache_wsgi_deploy.testhost.image import SUITES
from bench import CHECKOUT, deploy_speed, events, relay, serving
from bench import fleet as fleet_scale
from bench.chart import write_charts
from bench.hosts import deploy, write_inventory

FLEET = "awd-bench"
CONCURRENCIES = (1, 16, 64)


def _suites(value: str) -> list[str]:
    suites = value.split(",")
    unknown = [suite for suite in suites if suite not in SUITES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown suite {', '.join(unknown)}: one of {', '.join(SUITES)}")
    return suites


def measure_suite(suite: str, args, folder: Path) -> dict:
    """Every figure of one suite, on test hosts of its own, printed as it comes."""
    fleet = f"{FLEET}-{suite}"
    results = {}
    testhost.down(fleet)
    one_host = args.only in ("serving", "events", "relay")
    hosts = testhost.up(fleet, 1 if one_host else max(deploy_speed.FLEET_SIZES), suite=suite)
    title = f"Debian {SUITES[suite]} {suite}, {os.cpu_count()} cores"
    try:
        if args.only in (None, "deploy"):
            speed = deploy_speed.measure(hosts, folder, args.reruns)
            results["deploy"] = asdict(speed)
            print(f"Deploy ({title})\n\n{deploy_speed.table(speed)}\n", flush=True)
        if args.only in (None, "relay"):
            relayed = relay.measure(hosts[0], folder, args.reruns)
            results["relay"] = {**asdict(relayed), "ratios": relayed.ratios}
            print(f"Over a network link ({title})\n\n{relay.table(relayed)}\n", flush=True)
        if args.only in (None, "fleet"):
            if args.only == "fleet":
                deploy(write_inventory(hosts, folder / "inventory-fleet.py"))
            runs = fleet_scale.measure(hosts, folder)
            results["fleet"] = [asdict(run) for run in runs]
            print(f"Fleet, drift check ({title})\n\n{fleet_scale.table(runs, len(hosts))}\n", flush=True)
        if args.only in (None, "serving"):
            if args.only == "serving":
                deploy(write_inventory(hosts[:1], folder / "inventory-1.py"))
            alias, data = hosts[0].inventory_entry()
            site = Settings.from_data(alias, {**schema.defaults(), **data}).sites[0]
            servers = serving.prepare(hosts[0], site)
            runs = serving.measure(hosts[0], servers, CONCURRENCIES, args.seconds, args.repeats)
            h2_runs = serving.measure_h2(hosts[0], servers, CONCURRENCIES, args.seconds, args.repeats)
            memory = serving.resident_memory_mib(hosts[0], servers)
            loss = serving.reload_loss(hosts[0], servers[0], args.reloads)
            results["serving"] = serving.as_json(runs)
            results["serving_h2"] = serving.as_json(h2_runs)
            results["resident_memory_mib"] = memory
            results["reload_loss"] = asdict(loss)
            print(f"Serving ({title}, wrk {args.seconds} s x {args.repeats}, median)\n")
            print(serving.table(runs))
            print(f"\nHTTP/2 ({title}, h2load {args.seconds} s x {args.repeats}, one stream per client, median)\n")
            print(serving.h2_table(h2_runs))
            print("\nResident memory (MiB): " + ", ".join(f"{group} {mib}" for group, mib in memory.items()))
            print(
                f"Graceful reloads: {loss.reloads} under {loss.clients} keep-alive clients, {loss.requests:,} requests,"
                f" {loss.non_2xx} answered 503, {loss.socket_errors} socket errors\n"
            )
        if args.only in (None, "events"):
            alias, data = hosts[0].inventory_entry()
            site = Settings.from_data(alias, {**schema.defaults(), **data}).sites[0]
            losses = events.measure_loss(hosts, folder, site, args.events)
            results["event_loss"] = [asdict(loss) for loss in losses]
            print(f"Requests lost to routine events ({title}, {events.CLIENTS} keep-alive clients)\n")
            print(events.loss_table(losses) + "\n", flush=True)
            pairs = events.measure_serving(hosts, folder, CONCURRENCIES, args.seconds, args.repeats)
            results["instance_serving"] = [{**asdict(pair), "ratio": pair.ratio} for pair in pairs]
            print(f"Serving, shared and own instance ({title}, wrk {args.seconds} s, interleaved pairs)\n")
            print(events.serving_table(pairs) + "\n", flush=True)
    finally:
        testhost.down(fleet)
    return results


def _rate(results: dict, server: str, concurrency: int) -> str:
    run = next(run for run in results["serving"] if (run["server"], run["concurrency"]) == (server, concurrency))
    return f"{run['requests_per_second']:,.0f} req/s"


def side_by_side(by_suite: dict[str, dict]) -> str:
    """The headline figures of each suite in one table: a column per suite."""
    columns = list(by_suite.values())
    rows = []

    def row(what: str, cell) -> None:
        rows.append(f"| {what} | " + " | ".join(cell(results) for results in columns) + " |")

    if all("deploy" in results for results in columns):
        row("first deploy, fresh test host", lambda results: f"{results['deploy']['first_deploy_s']:.1f} s")
        row("no-change rerun, 1 host", lambda results: f"{results['deploy']['rerun_median_s']:.2f} s")
        row("SSH commands per host, no-change rerun", lambda results: str(results["deploy"]["ssh_commands_per_host"]))
    if all("fleet" in results for results in columns):
        largest = max(fleet_scale.FLEET_SIZES)
        for concurrency in fleet_scale.CONCURRENCIES:
            row(
                f"drift check, {largest} hosts, concurrency {concurrency}: wall, peak memory",
                lambda results, c=concurrency: next(
                    f"{run['wall_s']:.1f} s, {run['peak_pss_mib']:,.0f} MiB"
                    for run in results["fleet"]
                    if (run["hosts"], run["concurrency"]) == (largest, c)
                ),
            )
    if all("serving" in results for results in columns):
        for server in ("apache-mod_wsgi", "nginx-gunicorn"):
            for concurrency in CONCURRENCIES:
                connections = f"{concurrency} connection{'s' * (concurrency > 1)}"
                row(f"{server}, {connections}", lambda results, s=server, c=concurrency: _rate(results, s, c))
        loss = columns[0]["reload_loss"]
        row(
            f"failed requests, {loss['reloads']} graceful reloads, {loss['clients']} clients",
            lambda results: (
                f"{results['reload_loss']['non_2xx'] + results['reload_loss']['socket_errors']}"
                f" of {results['reload_loss']['requests']:,}"
            ),
        )
    header = "| what | " + " | ".join(f"Debian {SUITES[suite]} {suite}" for suite in by_suite) + " |"
    return "\n".join([header, "|---|" + "---|" * len(columns), *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--only", choices=("deploy", "relay", "fleet", "serving", "events"))
    parser.add_argument("--suites", type=_suites, default=list(SUITES), help="comma-separated (default: all)")
    parser.add_argument("--seconds", type=int, default=10, help="each wrk and h2load run (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per server and concurrency (median)")
    parser.add_argument(
        "--reruns", type=int, default=5, help="no-change reruns on one host (median), and pairs through the relay"
    )
    parser.add_argument("--reloads", type=int, default=30, help="graceful reloads under load (default 30)")
    parser.add_argument("--events", type=int, default=30, help="each routine event under load (default 30)")
    parser.add_argument("--json", type=Path, default=CHECKOUT / ".benchmarks/results.json")
    args = parser.parse_args()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    by_suite = {suite: measure_suite(suite, args, args.json.parent) for suite in args.suites}
    if len(by_suite) > 1:
        print(f"Side by side ({os.cpu_count()} cores)\n\n{side_by_side(by_suite)}")
    results = {"cpu_count": os.cpu_count(), "suites": by_suite}
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    charts = write_charts(results, args.json)
    print(f"\nfigures written to {args.json} and {', '.join(str(chart) for chart in charts)}")


if __name__ == "__main__":
    main()

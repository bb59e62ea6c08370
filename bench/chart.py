"""
The benchmark's figures as a PNG, from its JSON: served requests per second by server
and concurrency, and no-change rerun wall time by number of hosts.

    .venv/bin/python -m bench.chart [.benchmarks/results.json]   (writes results-<suite>.png beside it)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a server
import matplotlib.pyplot as plt  # noqa: E402


def serving_panel(axes, runs: list[dict]) -> None:
    servers = list(dict.fromkeys(run["server"] for run in runs))
    concurrencies = sorted({run["concurrency"] for run in runs})
    width = 0.8 / len(servers)
    for index, server in enumerate(servers):
        by_concurrency = {run["concurrency"]: run["requests_per_second"] for run in runs if run["server"] == server}
        positions = [position + index * width for position in range(len(concurrencies))]
        axes.bar(positions, [by_concurrency.get(c, 0) for c in concurrencies], width, label=server)
    axes.set_xticks([position + width * (len(servers) - 1) / 2 for position in range(len(concurrencies))])
    axes.set_xticklabels([f"{c} connection{'s' * (c > 1)}" for c in concurrencies])
    axes.set_ylabel("requests/s (median)")
    axes.set_title("Serving the sample app")
    axes.legend(fontsize="small")


def deploy_panel(axes, deploy: dict) -> None:
    for key, label in (
        ("fleet_rerun_s", "one pyinfra per host (./run.sh deploy)"),
        ("fleet_rerun_single_process_s", "one pyinfra process"),
    ):
        hosts = sorted(deploy[key], key=int)
        axes.plot([int(count) for count in hosts], [deploy[key][count] for count in hosts], marker="o", label=label)
    axes.set_xlabel("hosts")
    axes.set_ylabel("seconds (median)")
    axes.set_ylim(bottom=0)
    axes.set_title("No-change rerun")
    axes.legend(fontsize="small")


def write_chart(results: dict, path: Path, system: str) -> Path:
    """One suite's figures (results: its "deploy" and "serving"), on `system`."""
    panels = [key for key in ("serving", "deploy") if key in results]
    figure, axes_list = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    for axes, panel in zip(axes_list[0], panels, strict=False):
        if panel == "serving":
            serving_panel(axes, results["serving"])
        else:
            deploy_panel(axes, results["deploy"])
    figure.suptitle(f"apache-wsgi-deploy benchmark, {system}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def write_charts(results: dict, path: Path) -> list[Path]:
    """A chart per suite of the benchmark's JSON with serving or deploy figures, named
    <path's stem>-<suite>.png."""
    return [
        write_chart(figures, path.with_name(f"{path.stem}-{suite}.png"), f"{suite}, {results['cpu_count']} cores")
        for suite, figures in results["suites"].items()
        if "serving" in figures or "deploy" in figures
    ]


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else ".benchmarks/results.json")
    print(*write_charts(json.loads(source.read_text()), source), sep="\n")

"""
What routine events cost the requests in flight, for each way a site's app runs
(apache_instance "shared": mod_wsgi daemon processes of the host's Apache; "own": an
Apache instance of its own, docs/own-instance.md): each event `count` times, one after
the other a second apart, under 4 keep-alive HTTPS clients (wrk on the test host, Debian's),
then serving at 1, 16 and 64 connections with each, as interleaved pairs.

  log rotation          Debian's nightly logrotate job, forced (logrotate -f /etc/logrotate.conf:
                        every rule rotates, as if each were due)
  certificate renewal   the deploy's certbot deploy hook: the host's Apache reloads,
                        checked and watched
  settings change       what a deploy that changes wsgi_threads runs: shared, the same
                        reload of the host's Apache; own, a graceful restart of the instance
  code update           what a deploy of new code runs as the release goes live: shared,
                        the .wsgi file touched (mod_wsgi restarts the daemon processes);
                        own, a graceful restart of the instance
"""

from __future__ import annotations

import shlex
import statistics
from dataclasses import dataclass

from apache_wsgi_deploy.deploys.acme import RENEWAL_HOOK_SCRIPT
from apache_wsgi_deploy.operations.instance import reload_command
from bench.hosts import deploy, sudo, write_inventory
from bench.serving import wrk_failures, wrk_requests

DESIGNS = ("shared", "own")
CLIENTS = 4
# The hook's command, as certbot runs it after a renewal.
RENEWAL = RENEWAL_HOOK_SCRIPT.split("exec ", 1)[1].replace("\\\n", " ")
LOGROTATE = "logrotate -f /etc/logrotate.conf"
WRK_OUTPUT = "/tmp/awd-bench-events.txt"
APT_INSTALL = "DEBIAN_FRONTEND=noninteractive apt-get install -qqy"


def event_commands(site) -> dict[str, dict[str, str]]:
    """Each event's command on the host, for each design."""
    instance = shlex.join(reload_command(site.app_name, site.paths.instance_error_log))
    return {
        "log rotation": {"shared": LOGROTATE, "own": LOGROTATE},
        "certificate renewal": {"shared": RENEWAL, "own": RENEWAL},
        "settings change": {"shared": RENEWAL, "own": instance},
        "code update": {"shared": f"touch {site.paths.wsgi_script}", "own": instance},
    }


@dataclass
class Loss:
    design: str
    event: str
    events: int
    requests: int
    # Answered anything but 2xx/3xx (mod_wsgi's 503s).
    non_2xx: int
    # Connections closed, reset or refused: wrk does not retry a keep-alive race.
    socket_errors: int


@dataclass
class Pair:
    concurrency: int
    shared: float
    own: float
    errors: int

    @property
    def ratio(self) -> float:
        return self.own / self.shared


def _deployed(hosts, folder, design: str) -> None:
    deploy(write_inventory(hosts[:1], folder / f"inventory-{design}.py", {"apache_instance": design}))


def _prepared(test_host) -> None:
    """wrk on the host, asking the site's name at 127.0.0.1 (netbase: the https port by its
    name), and Debian's nightly logrotate job, as a server with logrotate has it (after a
    deploy: apt's lists are fresh)."""
    name = test_host.server_name
    installed = "command -v wrk && command -v logrotate && test -f /etc/services"
    sudo(test_host, f"{installed} >/dev/null || {APT_INSTALL} wrk logrotate netbase >/dev/null")
    sudo(test_host, f"grep -q ' {name}$' /etc/hosts || echo '127.0.0.1 {name}' >> /etc/hosts")


def loss(test_host, url: str, design: str, event: str, command: str, count: int) -> Loss:
    """wrk runs until `count` events ran a second apart, then is stopped (SIGINT: it reports)."""
    output = sudo(
        test_host,
        f"wrk -t2 -c{CLIENTS} -d3600s --timeout 5s {url} > {WRK_OUTPUT} & load=$!\n"
        f"sleep 2; for i in $(seq {count}); do {command} >/dev/null 2>&1 || echo failed: {shlex.quote(command)};"
        f" sleep 1; done; sleep 1; kill -INT $load; wait $load; cat {WRK_OUTPUT}",
    )
    if "requests in" not in output or "failed: " in output:
        raise SystemExit(f"{event} ({design}) under wrk: {output[-2000:]}")
    socket_errors, non_2xx = wrk_failures(output)
    return Loss(design, event, count, wrk_requests(output), non_2xx=non_2xx, socket_errors=socket_errors)


def measure_loss(hosts, folder, site, count: int) -> list[Loss]:
    test_host, url = hosts[0], f"https://{hosts[0].server_name}/"
    losses = []
    commands = event_commands(site)
    for design in DESIGNS:
        _deployed(hosts, folder, design)
        _prepared(test_host)
        for event, by_design in commands.items():
            losses.append(loss(test_host, url, design, event, by_design[design], count))
    return losses


def _rate(test_host, url: str, concurrency: int, seconds: int) -> tuple[float, int]:
    output = sudo(test_host, f"wrk -t{min(2, concurrency)} -c{concurrency} -d{seconds}s --timeout 5s {url}")
    rate = float(output.split("Requests/sec:", 1)[1].split()[0])
    return rate, sum(wrk_failures(output))


def measure_serving(hosts, folder, concurrencies, seconds: int, repeats: int) -> list[Pair]:
    """Each repeat deploys each design in turn and measures every concurrency: a pair is the
    same repeat and concurrency, shared then own."""
    test_host, url = hosts[0], f"https://{hosts[0].server_name}/"
    rates: dict[tuple[str, int, int], tuple[float, int]] = {}
    for repeat in range(repeats):
        for design in DESIGNS:
            _deployed(hosts, folder, design)
            _prepared(test_host)
            sudo(test_host, f"wrk -t1 -c1 -d1s {url} >/dev/null")  # the app loaded in every process
            for concurrency in concurrencies:
                rates[design, concurrency, repeat] = _rate(test_host, url, concurrency, seconds)
    return [
        Pair(
            concurrency,
            rates["shared", concurrency, repeat][0],
            rates["own", concurrency, repeat][0],
            rates["shared", concurrency, repeat][1] + rates["own", concurrency, repeat][1],
        )
        for concurrency in concurrencies
        for repeat in range(repeats)
    ]


def loss_table(losses: list[Loss]) -> str:
    lines = ["| event | design | events | requests | non-2xx | socket errors |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {loss.event} | {loss.design} | {loss.events} | {loss.requests:,} | {loss.non_2xx} | {loss.socket_errors} |"
        for loss in losses
    ]
    return "\n".join(lines)


def serving_table(pairs: list[Pair]) -> str:
    lines = [
        "| connections | shared, median req/s | own, median req/s | own/shared per pair | errors |",
        "|---|---|---|---|---|",
    ]
    for concurrency in sorted({pair.concurrency for pair in pairs}):
        these = [pair for pair in pairs if pair.concurrency == concurrency]
        ratios = ", ".join(f"{pair.ratio:.2f}" for pair in these)
        lines.append(
            f"| {concurrency} | {statistics.median(pair.shared for pair in these):,.0f}"
            f" | {statistics.median(pair.own for pair in these):,.0f} | {ratios}"
            f" | {sum(pair.errors for pair in these)} |"
        )
    return "\n".join(lines)

"""
How fast the deployed server answers, against the alternatives, on one test host: wrk
(Debian's, keep-alive) runs on the host itself against each server in turn, at each
concurrency, so every server meets the same machine and the same load generator.

  apache-mod_wsgi   our deployment: Apache (event MPM) + mod_wsgi daemon mode
  apache-static     Apache serving a file of the app's response size: the ceiling
  nginx-gunicorn    what users pick instead: Debian's nginx terminating TLS (our TLS
                    settings), keep-alive to gunicorn gthread, the same processes and threads
  nginx-static      that nginx serving the same file: its ceiling
  gunicorn          the same app, gunicorn gthread terminating TLS itself
  flask-dev         the same app under Flask's development server (threaded)
  gunicorn-http     gunicorn again without TLS, for what TLS costs it (reference only)

All but the last over HTTPS with the host's certificate: a server on the internet
terminates TLS somewhere, and our deployment does it in Apache. Then HTTP/2, as browsers
speak it: h2load (Debian's nghttp2-client) against ours, nginx + gunicorn and both
ceilings.

Each run also counts what the server spent per request, split into its front (TLS and
HTTP: Apache without its daemons, nginx) and its app (the mod_wsgi daemons, gunicorn):
CPU time and context switches, read from /proc, so a gap between the servers shows where
it is.
"""

from __future__ import annotations

import re
import shlex
import statistics
from dataclasses import asdict, dataclass

from pyinfra.facts.hardware import Cpus

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.facts import answer
from bench import CHECKOUT
from bench.hosts import sudo

GUNICORN = "gunicorn==27.0.1"
BENCH_VENV = "/opt/awd-bench"
STATIC_DIR = "/var/lib/awd-bench"
STATIC_URL = "/awd-bench-static.txt"
# Only on a throwaway test host: a file served by Apache next to the app.
STATIC_CONF = f"""Alias {STATIC_URL} {STATIC_DIR}/static.txt
<Directory {STATIC_DIR}>
    Require all granted
</Directory>
"""
LATENCY_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
SERVICES = ("awd-bench-flask", "awd-bench-gunicorn", "awd-bench-gunicorn-http")
NGINX_PORT = 8443
# Debian's nginx in front of gunicorn-http, with the TLS of our vhost (templates/site.conf.j2)
# and keep-alive to the upstream, as its documentation advises for a proxy.
NGINX_SITE = """upstream awd_bench_gunicorn {{
    server 127.0.0.1:8003;
    keepalive 64;
}}
server {{
    # Debian 12's nginx 1.22 has no `http2 on;`; 13's 1.26 takes both.
    listen {port} ssl http2;
    server_name {name};
    ssl_certificate {tls}/fullchain.pem;
    ssl_certificate_key {tls}/privkey.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ecdh_curve {curves};
    ssl_ciphers {ciphers};
    ssl_prefer_server_ciphers off;
    ssl_session_tickets off;
    # As our keepalive_max_requests 0: a connection is never closed for its count.
    keepalive_requests 1000000;
    access_log off;
    location = {static_url} {{
        alias {static_dir}/static.txt;
    }}
    location / {{
        proxy_pass http://awd_bench_gunicorn;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
    }}
}}
"""


def our_tls() -> dict[str, str]:
    """Our vhost's cipher suites and curves, read from its template: one home."""
    template = (CHECKOUT / "templates" / "site.conf.j2").read_text()
    return {
        "ciphers": re.search(r"^\s*SSLCipherSuite (\S+)$", template, re.M).group(1),
        "curves": re.search(r"^\s*SSLOpenSSLConfCmd Curves (\S+)$", template, re.M).group(1),
    }


# Debian's nginx starts at install, on port 80, which Apache holds: kept from starting.
NO_START = "/usr/sbin/policy-rc.d"


# What the processes whose command line matches $1 have spent: CPU time in clock ticks,
# with what they reaped from exited children (Apache and gunicorn replace their workers;
# fields 14-17 of /proc/<pid>/stat), and context switches over their threads. Nothing for
# an empty pattern.
USAGE = r"""usage() {
    ticks=0 switches=0
    for proc in /proc/[0-9]*; do
        [ -n "$1" ] && tr '\0' ' ' < $proc/cmdline 2>/dev/null | grep -Eq "$1" || continue
        ticks=$((ticks + $(awk '{print $14 + $15 + $16 + $17}' $proc/stat 2>/dev/null || echo 0)))
        switched=$(cat $proc/task/*/status 2>/dev/null | awk '/ctxt_switches/ {n += $2} END {print n + 0}')
        switches=$((switches + switched))
    done
    echo "$ticks $switches"
}"""


@dataclass(frozen=True)
class Server:
    name: str
    url: str
    # Anchored regular expressions for the command lines of the server's processes: its
    # front (TLS and HTTP) and the app behind it, "" for a server that is both in one.
    front: str
    app: str = ""

    @property
    def processes(self) -> str:
        return "|".join(pattern for pattern in (self.front, self.app) if pattern)


@dataclass
class Cost:
    """What one part of a server spent per request."""

    cpu_us: float
    context_switches: float


@dataclass(kw_only=True)
class Measured:
    """What a run records besides its load generator's report."""

    # Per request, the load generator excluded; app is None for a server that is front
    # and app in one.
    front: Cost | None = None
    app: Cost | None = None
    # Every run's rate, the median's among them: how far apart the runs were.
    rates: list[float] | None = None


@dataclass
class Run(Measured):
    server: str
    concurrency: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def prepare(test_host, site) -> list[Server]:
    """Install wrk and gunicorn, start the alternatives; return the servers to measure."""
    name, app_dir, venv = test_host.server_name, site.paths.app_code_dir, site.paths.venv
    sudo(
        test_host,
        f"printf '#!/bin/sh\\nexit 101\\n' > {NO_START} && chmod +x {NO_START} && DEBIAN_FRONTEND=noninteractive"
        f" apt-get install -y -qq wrk curl netbase nginx nghttp2-client >/dev/null; status=$?; rm -f {NO_START};"
        " exit $status",
    )
    body = sudo(test_host, f"curl -sfk --resolve {name}:443:127.0.0.1 https://{name}/")
    tls = f"{STATIC_DIR}/tls"
    run_as_daemon_user = (
        f"systemd-run -q --uid {site.wsgi_user} --gid {site.wsgi_group} -p WorkingDirectory={app_dir} --unit "
    )
    nginx_site = dict(port=NGINX_PORT, name=name, tls=tls, static_url=STATIC_URL, static_dir=STATIC_DIR, **our_tls())
    processes = site.daemon_processes(answer(Cpus, lambda command: sudo(test_host, command)))
    gunicorn = (
        f"{BENCH_VENV}/bin/gunicorn --workers {processes} --threads {site.wsgi_threads} --worker-class gthread app:app"
    )
    commands = [
        f"[ -x {BENCH_VENV}/bin/gunicorn ] || {{ /usr/bin/python3 -m venv {BENCH_VENV} &&"
        f" {BENCH_VENV}/bin/pip install -q -r {app_dir}/requirements.txt {GUNICORN}; }}",
        f"mkdir -p {STATIC_DIR}/tls && printf %s {shlex.quote(body)} > {STATIC_DIR}/static.txt",
        # The alternatives run as the daemon user and read the certificate and key.
        f"install -o {site.wsgi_user} -m 600 {site.paths.certificate_path} {site.paths.key_path} {STATIC_DIR}/tls/",
        f"printf %s {shlex.quote(STATIC_CONF)} > {layout.conf_link('zz-awd-bench')}",
        "apache2ctl configtest 2>/dev/null && systemctl reload apache2",
        f"grep -q ' {name}$' /etc/hosts || echo '127.0.0.1 {name}' >> /etc/hosts",
        f"systemctl stop {' '.join(SERVICES)} 2>/dev/null || true",
        f"systemctl reset-failed {' '.join(SERVICES)} 2>/dev/null || true",
        f"{run_as_daemon_user}awd-bench-flask {venv}/bin/python -m flask --app app run --host 127.0.0.1"
        f" --port 8001 --cert {tls}/fullchain.pem --key {tls}/privkey.pem",
        f"{run_as_daemon_user}awd-bench-gunicorn {gunicorn} --bind 127.0.0.1:8002"
        f" --certfile {tls}/fullchain.pem --keyfile {tls}/privkey.pem",
        f"{run_as_daemon_user}awd-bench-gunicorn-http {gunicorn} --bind 127.0.0.1:8003",
        "rm -f /etc/nginx/sites-enabled/default",
        f"printf %s {shlex.quote(NGINX_SITE.format(**nginx_site))} > /etc/nginx/sites-enabled/awd-bench",
        "nginx -t -q && systemctl restart nginx",
    ]
    for command in commands:
        sudo(test_host, command)
    apache, daemons, nginx = "^/usr/sbin/apache2", r"^\(wsgi:", "^nginx: "
    gunicorn_processes = f"^{BENCH_VENV}/bin/python3? {BENCH_VENV}/bin/gunicorn .*127\\.0\\.0\\.1:"
    servers = [
        Server("apache-mod_wsgi", f"https://{name}/", apache, daemons),
        Server("apache-static", f"https://{name}{STATIC_URL}", apache),
        Server("nginx-gunicorn", f"https://{name}:{NGINX_PORT}/", nginx, gunicorn_processes + "8003"),
        Server("nginx-static", f"https://{name}:{NGINX_PORT}{STATIC_URL}", nginx),
        Server("gunicorn", f"https://{name}:8002/", gunicorn_processes + "8002"),
        Server("flask-dev", f"https://{name}:8001/", f"^{venv}/bin/python -m flask"),
        Server("gunicorn-http", "http://127.0.0.1:8003/", gunicorn_processes + "8003"),
    ]
    for server in servers:
        # Each answers the app's body before any load: a broken setup is no benchmark.
        served = sudo(test_host, f"for i in $(seq 50); do curl -sfk {server.url} && exit 0; sleep 0.2; done; exit 1")
        if served != body:
            raise SystemExit(f"{server.name} at {server.url} answers {served!r}, not the app's {body!r}")
        if not sudo(test_host, f"ps -eo args= | grep -E {shlex.quote(server.processes)} || true"):
            raise SystemExit(f"no process of {server.name} matches {server.processes!r}")
    return servers


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * LATENCY_UNITS[unit]


def wrk_requests(output: str) -> int:
    return int(re.search(r"(\d+) requests in", output).group(1))


def wrk_failures(output: str) -> tuple[int, int]:
    """wrk's socket errors (connect, read, write, timeout) and non-2xx/3xx answers."""
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return (sum(map(int, socket_errors.groups())) if socket_errors else 0), (int(non_2xx.group(1)) if non_2xx else 0)


def parse_wrk(server: str, concurrency: int, output: str) -> Run:
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    return Run(
        server=server,
        concurrency=concurrency,
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        p50_ms=_milliseconds(latency["50"]),
        p99_ms=_milliseconds(latency["99"]),
        requests=wrk_requests(output),
        errors=sum(wrk_failures(output)),
    )


def _measured(test_host, server: Server, load: str, parse):
    """Run a load command on the test host and parse its report into a run, with what
    the server's front and app spent per request meanwhile."""
    usage = 'echo "$(usage "$FRONT") $(usage "$APP")"'
    output = sudo(
        test_host,
        f"{USAGE}\nFRONT={shlex.quote(server.front)}\nAPP={shlex.quote(server.app)}\nbefore=$({usage})\n"
        f'{load}\necho "usage: $before $({usage}) $(getconf CLK_TCK)"',
    )
    *counts, ticks_per_second = map(int, re.search(r"^usage: ([\d ]+)$", output, re.M).group(1).split())
    front_ticks, front_switches, app_ticks, app_switches = (
        after - before for before, after in zip(counts[:4], counts[4:], strict=True)
    )
    run = parse(output)
    requests = max(run.requests, 1)

    def cost(ticks: int, switches: int) -> Cost:
        return Cost(ticks / ticks_per_second * 1e6 / requests, switches / requests)

    run.front = cost(front_ticks, front_switches)
    run.app = cost(app_ticks, app_switches) if server.app else None
    return run


def _wrk(test_host, server: Server, concurrency: int, seconds: int) -> Run:
    wrk = f"wrk -t{min(2, concurrency)} -c{concurrency} -d{seconds}s --timeout 5s --latency {server.url}"
    return _measured(test_host, server, wrk, lambda output: parse_wrk(server.name, concurrency, output))


def _median(tries: list, failures: str):
    """The try with the median rate, its failures summed over all and every rate kept."""
    median = statistics.median_low(run.requests_per_second for run in tries)
    chosen = next(run for run in tries if run.requests_per_second == median)
    setattr(chosen, failures, sum(getattr(run, failures) for run in tries))
    chosen.rates = sorted(run.requests_per_second for run in tries)
    return chosen


def measure(test_host, servers: list[Server], concurrencies, seconds: int, repeats: int) -> list[Run]:
    """Every server at every concurrency, `repeats` times; the run with the median rate."""
    runs = []
    for concurrency in concurrencies:
        for server in servers:
            sudo(test_host, f"wrk -t1 -c1 -d1s {server.url} >/dev/null")  # warm up caches and keep-alive paths
            runs.append(_median([_wrk(test_host, server, concurrency, seconds) for _ in range(repeats)], "errors"))
    return runs


# Served over HTTP/2: ours (http2 is on by default), nginx + gunicorn, and both fronts'
# ceilings, which tell what HTTP/2 itself costs each.
H2_SERVERS = ("apache-mod_wsgi", "nginx-gunicorn", "apache-static", "nginx-static")


@dataclass
class H2Run(Measured):
    server: str
    clients: int
    requests_per_second: float
    requests: int
    failed: int


def parse_h2load(server: str, clients: int, output: str) -> H2Run:
    """h2load's "finished in 5.00s, 4321.00 req/s, ..." and "requests: N total, ...
    M failed, E errored"; refused unless h2 was negotiated."""
    if "Application protocol: h2" not in output:
        raise SystemExit(f"h2load did not speak HTTP/2 to {server}:\n{output[-2000:]}")
    rate = float(re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", output).group(1))
    counts = re.search(
        r"requests: (\d+) total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed, (\d+) errored", output
    )
    total, done, failed, errored = map(int, counts.groups())
    return H2Run(server, clients, rate, done, failed + errored)


def _h2load(test_host, server: Server, clients: int, seconds: int) -> H2Run:
    # No --warm-up-time: its requests would be left out of the count, not of the CPU.
    h2load = f"h2load -c {clients} -t {min(2, clients)} -m 1 -D {seconds} {server.url}"
    return _measured(test_host, server, h2load, lambda output: parse_h2load(server.name, clients, output))


def measure_h2(test_host, servers: list[Server], concurrencies, seconds: int, repeats: int) -> list[H2Run]:
    """h2load, one stream per client (as wrk's one request per connection), a client per
    connection, `repeats` runs of `seconds` after a second's unmeasured warm-up; the run
    with the median rate."""
    runs = []
    for concurrency in concurrencies:
        for server in (server for server in servers if server.name in H2_SERVERS):
            sudo(test_host, f"h2load -c 1 -m 1 -D 1 {server.url} >/dev/null")
            tries = [_h2load(test_host, server, concurrency, seconds) for _ in range(repeats)]
            runs.append(_median(tries, "failed"))
    return runs


@dataclass
class ReloadLoss:
    reloads: int
    clients: int
    requests: int
    # Answered 503: mod_wsgi's daemon socket was absent for a moment (docs/known-limits.md).
    non_2xx: int
    # Connections closed or refused: the keep-alive race of a reload.
    socket_errors: int


def reload_loss(test_host, server: Server, reloads: int, clients: int = 4) -> ReloadLoss:
    """Requests that fail while Apache reloads gracefully `reloads` times, one a second,
    under `clients` keep-alive clients (wrk, bounded by its duration)."""
    output = sudo(
        test_host,
        f"wrk -t2 -c{clients} -d{reloads + 4}s --timeout 5s {server.url} > /tmp/awd-bench-reload.txt &\n"
        f"sleep 2; for i in $(seq {reloads}); do systemctl reload apache2; sleep 1; done; wait\n"
        "cat /tmp/awd-bench-reload.txt",
    )
    socket_errors, non_2xx = wrk_failures(output)
    return ReloadLoss(reloads, clients, wrk_requests(output), non_2xx=non_2xx, socket_errors=socket_errors)


def resident_memory_mib(test_host, servers: list[Server]) -> dict[str, float]:
    """Summed resident memory of each server's processes (Apache's split into the
    mod_wsgi daemons and the rest), from ps."""
    table = sudo(test_host, "ps -eo rss=,args=")
    groups = {"mod_wsgi daemons": r"^\(wsgi:", "apache (without daemons)": r"^/usr/sbin/apache2"}
    groups.update((server.name, server.processes) for server in servers if not server.name.startswith("apache"))
    totals = {}
    for group, pattern in groups.items():
        kib = sum(
            int(line.split(None, 1)[0])
            for line in table.splitlines()
            if line.strip() and re.search(pattern, line.split(None, 1)[1])
        )
        totals[group] = round(kib / 1024, 1)
    return totals


def _cost(run, field: str, digits: int) -> str:
    """A run's cost per request, "front + app" when the server has both."""
    parts = [getattr(part, field) for part in (run.front, run.app) if part]
    return " + ".join(f"{value:,.{digits}f}" for value in parts)


def _spread(run) -> str:
    return f"{run.rates[0]:,.0f}, {run.rates[-1]:,.0f}" if run.rates else ""


COST_COLUMNS = " CPU µs/request (front + app) | context switches/request (front + app) |"


def table(runs: list[Run]) -> str:
    ours = {run.concurrency: run for run in runs if run.server == "apache-mod_wsgi"}
    lines = [
        "| server | concurrency | requests/s (median) | min, max | ratio to ours | p50 ms | p99 ms | errors |"
        + COST_COLUMNS,
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        ratio = run.requests_per_second / ours[run.concurrency].requests_per_second
        lines.append(
            f"| {run.server} | {run.concurrency} | {run.requests_per_second:,.0f} | {_spread(run)} | {ratio:.2f} |"
            f" {run.p50_ms:.2f} | {run.p99_ms:.2f} | {run.errors} | {_cost(run, 'cpu_us', 0)} |"
            f" {_cost(run, 'context_switches', 1)} |"
        )
    return "\n".join(lines)


def h2_table(runs: list[H2Run]) -> str:
    ours = {run.clients: run for run in runs if run.server == "apache-mod_wsgi"}
    lines = [
        "| server | clients | requests/s (median) | min, max | ratio to ours | failed |" + COST_COLUMNS,
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {run.server} | {run.clients} | {run.requests_per_second:,.0f} | {_spread(run)} |"
        f" {run.requests_per_second / ours[run.clients].requests_per_second:.2f} | {run.failed} |"
        f" {_cost(run, 'cpu_us', 0)} | {_cost(run, 'context_switches', 1)} |"
        for run in runs
    ]
    return "\n".join(lines)


def as_json(runs: list) -> list[dict]:
    return [asdict(run) for run in runs]

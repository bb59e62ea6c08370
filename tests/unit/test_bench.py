"""The benchmark reads wrk's and h2load's reports right: rates, latency percentiles in
any unit, errors; what a server spent per request, front and app; and its relay delays
a link as it says."""

import socket
import socketserver
import subprocess
import threading
import time

import pytest

from apache_wsgi_deploy.polling import poll
from bench import relay
from bench.events import RENEWAL, Pair, event_commands, serving_table
from bench.serving import USAGE, Cost, Server, _wrk, parse_h2load, parse_wrk, table
from tests.unit.test_settings import validate

REPORT = """Running 5s test @ https://awd-bench-1.awd.test/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    13.46ms   20.76ms 246.75ms   97.03%
    Req/Sec     2.95k   685.92     3.95k    81.25%
  Latency Distribution
     50%  904.00us
     75%   13.45ms
     90%   18.76ms
     99%    1.43s
  28522 requests in 5.04s, 5.55MB read
  Socket errors: connect 0, read 518, write 2, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:   5661.84
Transfer/sec:      1.10MB
"""


def test_wrk_report_is_read_with_units_and_every_error_kind():
    run = parse_wrk("apache-mod_wsgi", 64, REPORT)
    assert (run.requests_per_second, run.requests) == (5661.84, 28522)
    assert (run.p50_ms, run.p99_ms) == (0.904, 1430.0)
    assert run.errors == 518 + 2 + 1 + 7


def test_a_clean_report_has_no_errors():
    clean = "\n".join(line for line in REPORT.splitlines() if "errors" not in line and "Non-2xx" not in line)
    assert parse_wrk("gunicorn", 1, clean).errors == 0


H2LOAD = """starting benchmark...
spawning thread #0: 2 total client(s). Timing-based test with 1s warm-up time and 2s main duration for each client.
TLS Protocol: TLSv1.3
Cipher: TLS_AES_256_GCM_SHA384
Server Temp Key: X25519 253 bits
Application protocol: h2
Main benchmark duration is over for thread #0. Stopping all clients.

finished in 3.00s, 2114.50 req/s, 77.87KB/s
requests: 4229 total, 4229 started, 4229 done, 4221 succeeded, 5 failed, 3 errored, 0 timeout
status codes: 4221 2xx, 0 3xx, 0 4xx, 8 5xx
"""


def test_h2load_report_is_read_and_must_have_spoken_http2():
    run = parse_h2load("nginx-gunicorn", 2, H2LOAD)
    assert (run.requests_per_second, run.requests, run.failed) == (2114.50, 4229, 5 + 3)
    with pytest.raises(SystemExit, match="did not speak HTTP/2"):
        parse_h2load("apache-mod_wsgi", 2, H2LOAD.replace("Application protocol: h2", "Application protocol: http/1.1"))


class CannedHost:
    """A test host whose every command prints the same output."""

    def __init__(self, stdout: str):
        self.stdout, self.commands = stdout, []

    def run_as_root(self, command: str, check: bool):
        self.commands.append(command)
        return subprocess.CompletedProcess(command, 0, stdout=self.stdout, stderr="")


def test_a_runs_cost_is_split_into_front_and_app_per_request():
    # before: front 100 ticks, 50 switches; app 0, 0. After: 200, 150; 300, 28522. 100 ticks a second.
    host = CannedHost(REPORT + "usage: 100 50 0 0 200 150 300 28522 100\n")
    ours = Server("apache-mod_wsgi", "https://x/", "^/usr/sbin/apache2", r"^\(wsgi:")
    run = _wrk(host, ours, 64, 5)
    assert run.front == Cost(cpu_us=1e6 / 28522, context_switches=100 / 28522)
    assert run.app == Cost(cpu_us=3e6 / 28522, context_switches=1.0)
    assert "FRONT='^/usr/sbin/apache2'\nAPP='^\\(wsgi:'" in host.commands[0]
    assert "| 35 + 105 | 0.0 + 1.0 |" in table([run])

    alone = _wrk(host, Server("apache-static", "https://x/static", "^/usr/sbin/apache2"), 64, 5)
    assert alone.app is None
    assert table([run, alone]).endswith("| 35 | 0.0 |")


def test_usage_counts_what_matching_processes_spent_and_nothing_for_no_pattern():
    busy = subprocess.Popen(["sleep", "30"])
    try:
        script = f'{USAGE}\nusage "^sleep 30 "\nusage ""'
        matched, nothing = subprocess.run(["bash", "-c", script], capture_output=True, text=True).stdout.splitlines()
    finally:
        busy.kill()
    ticks, switches = map(int, matched.split())
    assert ticks >= 0 and switches >= 1  # a sleeping process has been switched out at least once
    assert nothing == "0 0"


def test_each_event_runs_what_a_deploy_or_certbot_runs_for_each_design():
    commands = event_commands(validate().sites[0])
    assert commands["certificate renewal"] == {"shared": RENEWAL, "own": RENEWAL}
    assert RENEWAL.startswith("/usr/bin/python3 /var/lib/apache-wsgi-deploy/tools/reload.py ")
    assert commands["code update"]["shared"] == "touch /srv/flaskapp/flaskapp.wsgi"
    # The instance's own reload, with what it watches: its error log and pid file.
    assert (
        commands["code update"]["own"]
        == commands["settings change"]["own"]
        == (
            "/usr/bin/python3 /var/lib/apache-wsgi-deploy/tools/instance_reload.py apache2@flaskapp.service"
            " /etc/apache2-flaskapp/apache2.conf /var/log/apache2/flaskapp-app-error.log"
            " /run/apache2-flaskapp/apache2.pid"
        )
    )


def test_the_serving_pairs_are_told_as_ratios_per_pair():
    table = serving_table([Pair(16, 2000.0, 1500.0, 0), Pair(16, 1000.0, 1100.0, 2)])
    assert "| 16 | 1,500 | 1,300 | 0.75, 1.10 | 2 |" in table


@pytest.fixture
def echo_port():
    """A TCP echo server on loopback: its port."""
    server = EchoServer(("127.0.0.1", 0), EchoHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


class EchoServer(socketserver.ThreadingTCPServer):
    # A connection left open never holds the test's end.
    daemon_threads, block_on_close = True, False


class EchoHandler(socketserver.BaseRequestHandler):
    open_connections = 0

    def handle(self) -> None:
        EchoHandler.open_connections += 1
        try:
            while chunk := self.request.recv(65536):
                self.request.sendall(chunk)
        finally:
            EchoHandler.open_connections -= 1


def echoed(port: int, payload: bytes) -> tuple[bytes, float]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        started = time.monotonic()
        connection.sendall(payload)
        received = b""
        while len(received) < len(payload):
            received += connection.recv(65536)
        return received, time.monotonic() - started


def test_the_relay_delays_each_way_and_passes_everything_in_order(echo_port):
    assert echoed(echo_port, b"ping")[1] < 0.05
    with relay.DelayingRelay(echo_port, delay=0.1) as delaying:
        received, seconds = echoed(delaying.port, b"ping")
        assert received == b"ping"
        assert seconds >= 0.2
        payload = bytes(range(256)) * 4096
        assert echoed(delaying.port, payload)[0] == payload
    # The relay closed both ends of every connection as it stopped.
    poll(lambda: EchoHandler.open_connections == 0, 10, "the relay's connections to the server closed")


def test_the_relay_counts_the_times_the_client_waited_for_the_server(echo_port):
    with relay.DelayingRelay(echo_port, delay=0.05) as delaying:
        with socket.create_connection(("127.0.0.1", delaying.port), timeout=10) as connection:
            # As the deploy's SSH connection: Nagle would hold the second send back for an answer.
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for _ in range(3):
                # Two sends before the answer: one turn of the client's.
                connection.sendall(b"a")
                connection.sendall(b"b")
                received = b""
                while len(received) < 2:
                    received += connection.recv(65536)
        assert delaying.round_trips == 3

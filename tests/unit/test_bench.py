"""The benchmark reads wrk's and h2load's reports right: rates, latency percentiles in
any unit, errors."""

import pytest

from bench.serving import parse_h2load, parse_wrk

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

"""The benchmark reads wrk's report right: rates, latency percentiles in any unit, errors."""

from bench.serving import parse_wrk

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

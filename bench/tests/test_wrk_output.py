"""Reading wrk's report: the figures `make bench` publishes come from this parser."""

from __future__ import annotations

import pytest

from bench.wrk_output import WrkOutputError, metric, parse, time_ms

CLOSED_LOOP = """\
Running 8s test @ http://127.0.0.1:18123/webhook/whatsapp
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.28ms    1.10ms  20.00ms   80.00%
    Req/Sec     3.76k   300.00     4.50k    70.00%
  Latency Distribution
     50%    4.11ms
     75%  912.00us
     90%    5.20ms
     99%    1.02s
  30012 requests in 8.00s, 4.20MB read
Requests/sec:   3751.49
Transfer/sec:    537.00KB
gk-bench: {"handed_out": 30044, "repeats": 0, "rate": 0.000, "late": 0, "lag_max_ms": 0.0, "lag_total_ms": 0.0}
"""

SATURATED = """\
Running 10s test @ http://127.0.0.1:18123/webhook/whatsapp
  2 threads and 200 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.50s     1.00s    9.99s    60.00%
    Req/Sec    60.12     20.00   100.00     70.00%
  Latency Distribution
     50%    2.40s
     75%    3.00s
     90%    4.00s
     99%    1.50m
  1200 requests in 10.01s, 300.00KB read
  Socket errors: connect 0, read 2, write 0, timeout 41
  Non-2xx or 3xx responses: 7
Requests/sec:    119.88
Transfer/sec:     29.97KB
gk-bench: {"handed_out": 1400, "repeats": 3, "rate": 200.000, "late": 512, "lag_max_ms": 3050.5, "lag_total_ms": 90000.0}
"""


def test_units_are_read_as_wrk_prints_them():
    assert time_ms("912.00us") == pytest.approx(0.912)
    assert time_ms("4.11ms") == pytest.approx(4.11)
    assert time_ms("1.02s") == pytest.approx(1020)
    assert time_ms("1.50m") == pytest.approx(90_000)
    assert metric("3.76k") == pytest.approx(3760)
    assert metric("300.00") == pytest.approx(300)
    assert metric("1.20M") == pytest.approx(1_200_000)


def test_closed_loop_report_gives_rate_percentiles_and_no_errors():
    figures = parse(CLOSED_LOOP)

    assert figures["requests_per_s"] == pytest.approx(3751.49)
    assert figures["requests"] == 30012
    assert figures["seconds"] == pytest.approx(8.0)
    assert (figures["threads"], figures["connections"]) == (2, 32)
    assert figures["percentiles_ms"] == pytest.approx({"50": 4.11, "75": 0.912, "90": 5.2, "99": 1020})
    assert figures["latency_avg_ms"] == pytest.approx(4.28)
    assert figures["latency_max_ms"] == pytest.approx(20.0)
    assert figures["errors"] == 0
    assert figures["script"]["handed_out"] == 30044
    assert figures["script"]["repeats"] == 0


def test_socket_errors_and_bad_statuses_are_counted():
    figures = parse(SATURATED)

    assert figures["socket_errors"] == {"connect": 0, "read": 2, "write": 0, "timeout": 41}
    assert figures["non_2xx_3xx"] == 7
    assert figures["errors"] == 50
    assert figures["percentiles_ms"]["99"] == pytest.approx(90_000)
    assert figures["script"]["late"] == 512
    assert figures["script"]["lag_max_ms"] == pytest.approx(3050.5)


def test_a_report_without_its_totals_is_refused():
    truncated = CLOSED_LOOP.split("  30012 requests")[0]

    with pytest.raises(WrkOutputError, match="requests"):
        parse(truncated)


def test_unknown_units_are_refused_not_guessed():
    with pytest.raises(WrkOutputError):
        time_ms("4.11 fortnights")
    with pytest.raises(WrkOutputError):
        metric("3.76x")

"""Reading wrk's report: requests/s, latency percentiles (`--latency`), errors, and our summary line.

The figures come from wrk's own text, as a person reading it would take them (wrk 4.1's format):

    Running 8s test @ http://127.0.0.1:18000/webhook/whatsapp
      2 threads and 32 connections
      Thread Stats   Avg      Stdev     Max   +/- Stdev
        Latency     4.28ms    1.10ms  20.00ms   80.00%
        Req/Sec     3.76k   300.00     4.50k    70.00%
      Latency Distribution
         50%    4.11ms
         ...
      30000 requests in 8.00s, 4.20MB read
      Socket errors: connect 0, read 0, write 0, timeout 3
      Non-2xx or 3xx responses: 12
    Requests/sec:   3749.51
    Transfer/sec:    537.00KB
    gk-bench: {"handed_out": 30032, ...}
"""

from __future__ import annotations

import json
import re

from bench.wrk_lua import SUMMARY_PREFIX

_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_METRIC = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}

_PERCENTILE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+(\d+(?:\.\d+)?)(us|ms|s|m|h)\s*$")
_LATENCY = re.compile(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)\s+\S+%\s*$")
_TOTAL = re.compile(r"^\s*(\d+) requests in (\d+(?:\.\d+)?)(us|ms|s|m|h), .* read\s*$")
_SOCKET = re.compile(r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$")
_STATUS = re.compile(r"^\s*Non-2xx or 3xx responses: (\d+)\s*$")
_RATE = re.compile(r"^Requests/sec:\s+(\d+(?:\.\d+)?)\s*$")
_SETUP = re.compile(r"^\s*(\d+) threads and (\d+) connections\s*$")


class WrkOutputError(ValueError):
    """wrk's output lacks a figure the harness needs (it failed, or its format changed)."""


def time_ms(text: str) -> float:
    """wrk's formatted time ("912.00us", "4.11ms", "1.02s", "1.50m") in milliseconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", text.strip())
    if not match:
        raise WrkOutputError(f"not a wrk time: {text!r}")
    return float(match[1]) * _TIME_UNITS_MS[match[2]]


def metric(text: str) -> float:
    """wrk's formatted count ("300.00", "3.76k", "1.20M")."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kMGT]?)", text.strip())
    if not match:
        raise WrkOutputError(f"not a wrk number: {text!r}")
    return float(match[1]) * _METRIC[match[2]]


def parse(text: str) -> dict:
    """The figures in one wrk report; raises WrkOutputError when the essentials are missing."""
    figures: dict = {
        "percentiles_ms": {},
        "socket_errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0},
        "non_2xx_3xx": 0,
        "script": {},
    }
    for line in text.splitlines():
        if match := _PERCENTILE.match(line):
            figures["percentiles_ms"][match[1].removesuffix(".0")] = time_ms(match[2] + match[3])
        elif match := _LATENCY.match(line):
            figures["latency_avg_ms"] = time_ms(match[1])
            figures["latency_max_ms"] = time_ms(match[3])
        elif match := _TOTAL.match(line):
            figures["requests"] = int(match[1])
            figures["seconds"] = time_ms(match[2] + match[3]) / 1000
        elif match := _SOCKET.match(line):
            figures["socket_errors"] = dict(
                zip(("connect", "read", "write", "timeout"), map(int, match.groups()), strict=True)
            )
        elif match := _STATUS.match(line):
            figures["non_2xx_3xx"] = int(match[1])
        elif match := _RATE.match(line):
            figures["requests_per_s"] = float(match[1])
        elif match := _SETUP.match(line):
            figures["threads"], figures["connections"] = int(match[1]), int(match[2])
        elif line.startswith(SUMMARY_PREFIX):
            figures["script"] = json.loads(line.removeprefix(SUMMARY_PREFIX))
    missing = [key for key in ("requests", "seconds", "requests_per_s") if key not in figures]
    if missing:
        raise WrkOutputError(f"wrk's output has no {', '.join(missing)}:\n{text[-2000:]}")
    figures["errors"] = sum(figures["socket_errors"].values()) + figures["non_2xx_3xx"]
    return figures

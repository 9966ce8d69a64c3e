"""BENCHMARKS.md's sections for how the load is made, the burst, and the calls phase.

Each function takes the figures of a run (bench/results/latest.json) and returns Markdown lines,
or summary rows (figure, measured, target, verdict); a phase that did not run gives none.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

#: A caller waits on the line: the engine's deadline (CALL_ENGINE_TIMEOUT's default).
CALL_DEADLINE_MS = 4000


def _n(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def stored(name: str, figures: dict) -> dict:
    """A phase's figures from this run, else from bench/results/NAME.json (its own command's output)."""
    if figures.get(name):
        return figures[name]
    path = RESULTS / f"{name}.json"
    if path.exists():
        return json.loads(path.read_text()).get(name, {})
    return {}


def mode_line(figures: dict) -> str:
    """Which mode produced the page: a quick run only checks the harness."""
    if figures.get("failed"):
        return f"**This run failed** and is incomplete: {figures['failed']}"
    if figures.get("mode") == "quick":
        return (
            "**Mode: quick** (`BENCH_QUICK=1`: small sizes, a few seconds per phase). These figures check "
            "that the harness works; they are not the product's capacity. Run `make bench` for those."
        )
    machine = figures.get("machine", {})
    load, cores = machine.get("load_average", "?"), machine.get("cores") or 2
    try:
        busy = max(float(value) for value in load.split("/")) > cores
    except ValueError:
        busy = False
    shared = (
        "; above the core count: the machine was shared with other work, and the figures are low and noisy "
        "by that much"
        if busy
        else ""
    )
    return f"**Mode: full** (`make bench`). Load average (1/5/15 min) at the end: {load} on {cores} cores{shared}."


def method_section(figures: dict) -> list[str]:
    """How requests/s and ack latency are measured: wrk, closed and open loop, and what that implies."""
    points = [point for points in figures.get("sweep", {}).values() for point in points]
    late = sum(point.get("late") or 0 for point in points)
    kept_up = sum(
        point.get("late") or 0 for point in points if point["rate_per_s"] >= 0.95 * point["offered_per_s"]
    )
    if late:
        verdict = (
            f"In this run {late:,} requests went out late, {kept_up:,} of them at offered rates the server "
            "kept up with (achieved at least 95 % of offered); the rest where it could not, and where latency "
            "only grows with the length of the run anyway."
        )
    else:
        verdict = (
            "No request went out late in this run: the percentiles are latencies from the intended send "
            "time, within the 1 ms timer resolution."
        )
    return [
        "Requests per second and ack latency come from `wrk` 4.1 (Debian's package; `make bench` installs "
        "it with apt-get when missing), 2 threads, on the same 2 cores as the server, PostgreSQL and Redis. "
        "wrk is C with one event loop per thread, so it leaves the server most of the CPU, where a Python "
        "load generator saturated first. Every signed body is prepared beforehand (`bench/payloads.py` "
        "signs it with the app secret, `bench/wrk_lua.py` writes the body file and the Lua script); each wrk "
        "thread replays its own share once, so every request carries message ids never seen before and "
        "nothing is deduplicated away. A run that used up its share would repeat ids; the ingest table "
        "flags it (*repeated*).",
        "",
        "- **Closed loop** (the ingest table): N connections, each sending its next request when the last is "
        "answered, for 8 s a case (2 s in a quick run). The figures are wrk's own: Requests/sec, and the percentiles of "
        "`--latency`; messages/s is (requests answered 2xx/3xx) / seconds x messages per request. wrk "
        "4.1 adds synthetic samples to its latency histogram for answers slower than twice the mean "
        "interval per connection (its own coordinated-omission correction), so its high percentiles "
        "include those.",
        "- **Open loop** (the latency plot and table): Debian has no wrk2, so the rate is held by wrk's Lua "
        "`delay()`: thread t of T sends its k-th request at start + t/R + k*T/R, on whichever of its "
        "connections is ready (one connection per 8 requests/s offered, 16 to 512). Few connections, because "
        "wrk opens them all at the start and each stays idle until its first slot, and gunicorn gives a new "
        "connection a thread until its first bytes arrive (gthread waits up to 5 s for them): with one "
        "connection per request/s, the server's 8 threads sat on idle connections while the first second's "
        "requests queued, and that start-up wait of up to ~0.9 s was the p99 of every rate, 25 req/s as "
        "200 (the access log put those requests' own time under 50 ms). At each slot a ready "
        "connection sends on time whatever the server is doing, so a slow server does not slow the load. "
        "When every connection is still waiting for an answer at a slot, that request goes out late, as "
        "soon as one returns, and wrk counts its latency from when it was sent, not from its slot: that "
        "wait is omitted (coordinated omission). The script counts the late sends and their lag (column "
        f"*sent late*). {verdict} Each rate runs 6 s (2 s in a quick run). wrk's own correction (above) "
        "applies here too, to answers slower than twice a connection's interval (8 connections per request/s: "
        "a quarter of a second at most); answers later than 10 s count as timeouts (errors), not latencies.",
        "",
    ]


def burst_rows(figures: dict) -> list[tuple[str, str, str, str]]:
    """Summary rows: one per burst case."""
    burst = figures.get("burst", {})
    rows = []
    for case in burst.get("cases", []):
        rows.append(
            (
                f"burst: {case['companies']:,} new companies in one delivery, {case['workers']} worker(s), "
                f"model {burst['model_seconds']:g} s a call",
                _burst_outcome(case),
                "",
                "",
            )
        )
    return rows


def _burst_outcome(case: dict) -> str:
    if case.get("skipped"):
        return f"not run: {case['skipped']} ({_projection(case)})"
    rss = case["worker_rss_mb"]
    if case["complete"]:
        done = (
            f"last reply after {_n(case['seconds_to_last'], 1)} s ({_n(case['replies_per_s'], 2)} replies/s)"
        )
    else:
        done = (
            f"> {_n(case['limit_s'])} s, {case['replied']:,} of {case['companies']:,} replied "
            f"({_n(case['replies_per_s'], 2)} replies/s)"
        )
    return f"{done}; worker RSS peak {_n(rss['peak'], 1)} MB"


def _projection(case: dict) -> str:
    if case.get("projected_s") is None:
        return "no reply in time to project from"
    return f"about {_n(case['projected_s'])} s at that pace"


def burst_section(figures: dict) -> list[str]:
    """How the burst was run, and every case in detail."""
    burst = figures.get("burst", {})
    if not burst:
        return []
    lines = [
        "",
        "## Burst: many new companies at once",
        "",
        "`bench/burst_phase.py`. One signed Meta delivery carries N messages from N senders never seen "
        "before (each mentions the bill, so the owner's keyword rule establishes the category and every "
        "reply may go out by itself), posted to the production stack: gunicorn gthread, RQ "
        "`SimpleWorker`s with their scheduler, the sweeper every 15 s, and a model stand-in that answers "
        f"every call after {burst['model_seconds']:g} s. Timed from the POST to the last reply the Graph "
        "stand-in accepted; replies/s is replies over that time (over the limit when cut). *In flight* "
        "is the most model calls the stand-in held at once: one per worker means drafting is serial. "
        f"Each case stops at {_n(burst['limit_s'])} s; once one did, a larger N on as many workers is not run "
        "(it could only be cut later) and its time at the pace measured is given instead. Worker RSS: VmRSS once the worker registered, "
        "VmHWM (the kernel's peak) and VmRSS at the end, largest of the workers. "
        f"ENGINE_CONCURRENCY in the environment: `{burst.get('engine_concurrency', 'unset')}`.",
        "",
        "| companies | workers | replied | seconds to the last reply | replies/s | ack ms | model calls "
        "| in flight at most | worker RSS registered / peak / end |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in burst.get("cases", []):
        if case.get("skipped"):
            lines.append(
                f"| {case['companies']:,} | {case['workers']} | not run: {case['skipped']} "
                f"| {_projection(case)} | - | - | - | - | - |"
            )
            continue
        rss = case["worker_rss_mb"]
        seconds = _n(case["seconds_to_last"], 1) if case["complete"] else f"> {_n(case['limit_s'])}"
        lines.append(
            f"| {case['companies']:,} | {case['workers']} | {case['replied']:,} of {case['companies']:,} "
            f"| {seconds} | {_n(case['replies_per_s'], 2)} | {_n(case['ack_ms'], 1)} | {case['model_calls']:,} "
            f"| {case['model_in_flight_max']} | {_n(rss['registered'], 1)} / {_n(rss['peak'], 1)} / "
            f"{_n(rss['end'], 1)} MB |"
        )
    return lines


def calls_rows(figures: dict) -> list[tuple[str, str, str, str]]:
    """The summary's row for a speech turn."""
    calls = stored("calls", figures)
    if not calls:
        return []
    return [
        (
            "phone call: speech turn, webhook to TwiML (instant engine)",
            f"p50 {_n(calls['p50_ms'], 1)} ms, p99 {_n(calls['p99_ms'], 1)} ms over {calls['turns']:,} turns; "
            f"{calls['answered_on_the_line']} answered on the line",
            f"p99 < {CALL_DEADLINE_MS:,} ms (the caller's deadline)",
            "met" if calls["p99_ms"] < CALL_DEADLINE_MS else "not met",
        )
    ]


def calls_section(figures: dict) -> list[str]:
    """How the calls phase measures a turn."""
    calls = stored("calls", figures)
    if not calls:
        return []
    return [
        "",
        "## Phone calls: a speech turn while the caller waits",
        "",
        "`bench/calls.py` (phase `calls`, also `python -m bench.calls`; bench/results/calls.json). Calls of "
        "three turns, each turn a signed POST to `/webhook/twilio/voice/gather` through Django's whole "
        "request handling in the bench process, on PostgreSQL, with the model stand-in answering at once: "
        "the signature, storing the turn, the owner's rules, the engine, the verdict and the TwiML. Every "
        f"turn is answered on the owner's behalf. Over {calls['turns']:,} turns: p50 {_n(calls['p50_ms'], 1)} ms, "
        f"p99 {_n(calls['p99_ms'], 1)} ms, max {_n(calls['max_ms'], 1)} ms, against the "
        f"{CALL_DEADLINE_MS // 1000} s the assistant may think while the caller waits.",
    ]


def followups_rows(figures: dict) -> list[tuple[str, str, str, str]]:
    """The summary's row for follow-ups due at once."""
    followups = stored("followups", figures)
    if not followups:
        return []
    return [
        (
            f"follow-ups: {followups['scheduled']:,} due in the same minute, {followups['sweepers']} sweeps",
            f"all decided in {_n(followups['seconds'], 1)} s ({_n(followups['per_second'], 1)}/s); "
            f"{followups['sent_twice']} sent twice",
            "each exactly once",
            "met"
            if followups["sent_twice"] == 0 and followups["messages_queued"] == followups["scheduled"]
            else "not met",
        )
    ]

"""Burst: N new companies in one delivery, a model that takes 1.5 s a call, 1 or 2 workers.

What an owner sees when a campaign or an outage makes many companies write at once: one signed
Meta delivery carrying N messages from N senders never seen before (each mentions the bill, so
the owner's keyword establishes the category and every reply may go out by itself), the
production stack (gunicorn gthread, RQ `SimpleWorker`s with their scheduler, the sweeper every
15 s) and a model stand-in that answers each call after `MODEL_SECONDS`. Measured: seconds from
the POST to the last reply accepted by the Graph stand-in, replies per second, the model calls
in flight at most (serial drafting shows one per worker; concurrent drafting more), and the
workers' memory (VmRSS once registered, VmHWM, the kernel's peak, at the end).

Whatever the drafting code does is what is measured: serial drafting takes about
`MODEL_SECONDS` per company per worker, so N = 1,000 would take 25 minutes on one worker. Each
case is cut at a time limit and reported as "> limit, k of N replied", and a larger N on as many
workers is then not run (it would only be cut later): its time at the pace measured is projected
instead. The workers are killed
and the database and queue settled before the next case. Before the delivery each worker drafts
one warm-up company in a delivery of its own (its first job imports the engine's SDK, which a
worker running for days did long ago); those are not counted.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx

from ai.testing import ScriptedResponse
from bench import payloads
from bench.stack import APP_SECRET, PHONE_NUMBER_ID, QUEUE, SENDABLE, BenchStack, InstantModel

MODEL_SECONDS = 1.5
SIZES = (40, 200, 1000)
WORKERS = (1, 2)
#: Seconds a case may run before it is cut (full run, quick run).
LIMIT_S = 75.0
QUICK_SIZES = (6, 20)
QUICK_LIMIT_S = 8.0


class SlowModel(InstantModel):
    """The sendable answer after `seconds`; the stand-in counts the calls in flight (`peak_in_flight`)."""

    def __init__(self, *, seconds: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seconds = seconds

    def _record(self, request, *, scripted: bool = True) -> ScriptedResponse:
        """Keep the request; answer the sendable reply, late."""
        super()._record(request, scripted=False)
        return ScriptedResponse(content=json.dumps(SENDABLE), delay=self.seconds)


def status_kb(pid: int, field: str) -> int:
    """A `Vm...` line of /proc/PID/status in KB (0 once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def wait_for_workers(redis, count: int, timeout: float = 60.0) -> None:
    """Until `count` RQ workers listen on the bench queue (Django and the app imported)."""
    from rq import Queue, Worker

    queue = Queue(QUEUE, connection=redis)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(Worker.all(queue=queue)) >= count:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{count} worker(s) did not register on {QUEUE} within {timeout:.0f} s")


def delivery(companies: int, *, offset: int, prefix: str) -> bytes:
    """One Meta delivery of `companies` messages from as many new senders."""
    payload = payloads.batch_payload(
        phone_number_id=PHONE_NUMBER_ID, prefix=prefix, first=0, size=companies, sender_offset=offset
    )
    return payloads.encode(payload)


def recipients(companies: int, *, offset: int) -> set[str]:
    """The numbers the replies to `delivery(companies, offset=offset)` go to."""
    return {f"+4{offset + n:011d}" for n in range(companies)}


def one_case(run, model: SlowModel, *, companies: int, workers: int, limit: float, number: int) -> dict:
    """One delivery of `companies` new senders to `workers` workers; figures, cut at `limit` seconds."""
    from bench.run import CHOSEN

    run.settle()  # replies earlier phases left due would be drafted first (the sweeper finds them)
    env = {**run.env, "OPENAI_BASE_URL": model.base_url}
    stack = BenchStack(env=env, logs=run.scratch)
    try:
        port = stack.start_server(CHOSEN)
        workers_named = [f"burst-worker-{n}" for n in range(1, workers + 1)]
        pids = [stack.start_worker(name).pid for name in workers_named]
        stack.spawn("burst-sweeper", ["manage.py", "sweep_stalled", "--every", "15"])
        wait_for_workers(run.redis(), workers)
        warm_up(run, port, workers=workers, number=number)
        rss_start = [status_kb(pid, "VmRSS") for pid in pids]
        run.graph.reset()
        model.reset_peak()
        calls_before = len(model.requests)
        offset = 70_000_000 + number * 100_000
        body = delivery(companies, offset=offset, prefix=f"BURST{number}")
        expected = recipients(companies, offset=offset)
        started = time.time()
        response = httpx.post(
            f"http://127.0.0.1:{port}/webhook/whatsapp",
            content=body,
            headers=payloads.headers(body, APP_SECRET),
            timeout=60,
        )
        ack_ms = (time.time() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"the burst delivery was answered {response.status_code}")
        replies: list[float] = []
        while time.time() - started < limit:
            replies = replied_at(run.graph, expected)
            if len(replies) >= companies:
                break
            time.sleep(0.25)
        replies = [at for at in replied_at(run.graph, expected) if at - started <= limit]
        calls = len(model.requests) - calls_before
        rss_peak = [status_kb(pid, "VmHWM") for pid in pids]
        rss_end = [status_kb(pid, "VmRSS") for pid in pids]
        for name in workers_named:  # at once: a warm shutdown would finish a job of ten drafts first
            stack.stop(name, sig=signal.SIGKILL)
    finally:
        stack.close()
    complete = len(replies) >= companies
    seconds = max(replies) - started if complete else None
    result = {
        "companies": companies,
        "workers": workers,
        "replied": len(replies),
        "complete": complete,
        "limit_s": limit,
        "seconds_to_last": round(seconds, 2) if seconds is not None else None,
        "replies_per_s": round(len(replies) / (seconds if complete else limit), 2),
        "ack_ms": round(ack_ms, 1),
        "model_calls": calls,
        "model_in_flight_max": model.peak_in_flight,
        "worker_rss_mb": {
            "registered": round(max(rss_start) / 1024, 1),
            "peak": round(max(rss_peak) / 1024, 1),
            "end": round(max(rss_end) / 1024, 1),
        },
    }
    print(f"  burst: {result}", flush=True)
    run.settle()
    return result


def warm_up(run, port: int, *, workers: int, number: int) -> None:
    """One company per worker, each in a delivery (a job) of its own, until all are answered."""
    offset = 90_000_000 + number * 100
    for n in range(workers):
        body = delivery(1, offset=offset + n, prefix=f"WARM{number}.{n}")
        httpx.post(
            f"http://127.0.0.1:{port}/webhook/whatsapp",
            content=body,
            headers=payloads.headers(body, APP_SECRET),
            timeout=60,
        )
    warmed = set().union(*(recipients(1, offset=offset + n) for n in range(workers)))
    deadline = time.monotonic() + 120
    while len(replied_at(run.graph, warmed)) < workers and time.monotonic() < deadline:
        time.sleep(0.1)


def replied_at(graph, recipients: set[str]) -> list[float]:
    """When the Graph stand-in accepted each reply to one of `recipients`."""
    return [
        request.received_at
        for request in graph.requests
        if request.accepted
        and not request.is_read_receipt
        and isinstance(request.json, dict)
        and request.json.get("to") in recipients
    ]


def skipped(companies: int, workers: int, cut: dict) -> dict:
    """A larger case not run because a smaller one on as many workers already ran into the limit:
    it would only be cut too, later; its time at the smaller case's pace is given instead."""
    rate = cut["replies_per_s"]
    return {
        "companies": companies,
        "workers": workers,
        "skipped": f"{cut['companies']:,} companies already ran past the limit on {workers} worker(s)",
        "projected_s": round(companies / rate) if rate else None,
    }


def measure(run, *, quick: bool = False) -> dict:
    """Every case, smallest first; `run` is bench.run.Run (its env, Graph stand-in, scratch, settle)."""
    import os

    sizes, limit = (QUICK_SIZES, QUICK_LIMIT_S) if quick else (SIZES, LIMIT_S)
    model = SlowModel(seconds=MODEL_SECONDS, api_key="bench-key").start()
    cases = []
    try:
        number = 0
        for workers in WORKERS:
            cut = None  # the first case on this many workers that ran into the limit
            for companies in sizes:
                number += 1
                if cut is not None:
                    cases.append(skipped(companies, workers, cut))
                    continue
                case = one_case(run, model, companies=companies, workers=workers, limit=limit, number=number)
                cases.append(case)
                if not case["complete"]:
                    cut = case
    finally:
        model.stop()
    return {
        "burst": {
            "model_seconds": MODEL_SECONDS,
            "limit_s": limit,
            "engine_concurrency": os.environ.get("ENGINE_CONCURRENCY", "unset"),
            "cases": cases,
        }
    }

"""A burst of new companies against a slow model: seconds until the last reply goes out (issue 16).

    .venv/bin/python -m bench.burst --companies 40 --workers 1 --model-seconds 1.5 \\
        [--database gk_bench] [--redis-db 5] [--concurrency 32]

`run_burst(n_companies, workers, model_seconds)` is what `make bench` calls. The stack is the
production one on loopback (bench.stack): gunicorn, RQ workers as the Procfile starts them, the
machine's PostgreSQL (a fresh database) and Redis, the Graph API stand-in collecting the replies
and an OpenAI-compatible stand-in answering every completion after `model_seconds`. Each company
writes once, in its own webhook, all posted at once; the owner's rule sends the answers itself.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg

from ai.testing import ScriptedResponse
from bench import payloads
from bench.stack import APP_SECRET, GRAPH_TOKEN, PHONE_NUMBER_ID, SENDABLE, BenchStack, InstantModel
from channels_app.testing.graph_api import GraphAPIStandIn
from channels_app.whatsapp_payloads import encode

#: The server recipe of the Procfile's `web`.
SERVER = "gunicorn gthread, 2 workers x 4 threads"


class SlowModel(InstantModel):
    """Answers every completion with a sendable reply after `seconds`, as a real model would take."""

    def __init__(self, seconds: float, **options) -> None:
        super().__init__(**options)
        self.seconds = seconds

    def _record(self, request, *, scripted: bool = True) -> ScriptedResponse:
        with self._lock:
            self._requests.append(request)
        return ScriptedResponse(content=json.dumps(SENDABLE), delay=self.seconds)


def rss_mb(pid: int) -> float:
    """A process's resident memory, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def prepare(env: dict[str, str], admin_dsn: str, database: str, database_url: str) -> None:
    """A fresh database with the owner, whose phone-company rule answers by itself."""
    from bench.run import fresh_database, manage

    fresh_database(admin_dsn, database)
    manage("migrate", "--noinput", env=env)
    manage("gatekeeper_setup", "--username", "owner", env=env)
    with psycopg.connect(database_url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        conn.execute(
            "UPDATE conversations_rule SET action = 'auto', match_keywords = '[\"bill\", \"mobile\"]' "
            "WHERE category = 'cellphone_provider'"
        )


def warm_up(port: int, graph: GraphAPIStandIn, workers: int) -> None:
    """A few messages through the pipeline first: a worker imports the engine's SDK on its first draft."""
    for number in range(2 * workers):
        body = payloads.encode_one(
            phone_number_id=PHONE_NUMBER_ID, sender=f"6{number:011d}", message_id=f"wamid.WARM.{number}"
        )
        httpx.post(
            f"http://127.0.0.1:{port}/webhook/whatsapp",
            content=body,
            headers=payloads.headers(body, APP_SECRET),
            timeout=60,
        )
    graph.wait_for_sent_texts(2 * workers, timeout=120)
    graph.reset()


def post_burst(port: int, n_companies: int, batch: int = 1) -> list[int]:
    """The new companies' messages, `batch` senders to a webhook, 16 webhooks at a time; their status codes."""
    bodies = [
        encode(
            payloads.batch_payload(
                phone_number_id=PHONE_NUMBER_ID,
                prefix="BURST",
                first=first,
                size=min(batch, n_companies - first),
                sender_offset=70_000_000,
            )
        )
        for first in range(0, n_companies, batch)
    ]
    with (
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
        ThreadPoolExecutor(16) as posting,
    ):
        return list(
            posting.map(
                lambda body: (
                    client.post(
                        "/webhook/whatsapp", content=body, headers=payloads.headers(body, APP_SECRET)
                    ).status_code
                ),
                bodies,
            )
        )


def run_burst(
    n_companies: int,
    workers: int,
    model_seconds: float,
    *,
    database: str | None = None,
    pg_host: str | None = None,
    redis_url: str | None = None,
    concurrency: int | None = None,
    batch: int = 1,
    timeout: float = 900,
) -> dict:
    """Post the burst and wait for every reply; the seconds to the last one and the workers' memory.

    Database and Redis default to BENCH_DATABASE (gk_bench) and BENCH_REDIS_DB (5) on the
    machine's servers; `concurrency` sets ENGINE_CONCURRENCY (default: the setting's default);
    `batch` companies share a webhook (1: each company's message comes in its own).
    """
    from bench.run import bench_env

    database = database or os.environ.get("BENCH_DATABASE", "gk_bench")
    pg_host = pg_host or os.environ.get("BENCH_PG", "127.0.0.1:5432")
    redis_url = redis_url or f"redis://127.0.0.1:6379/{os.environ.get('BENCH_REDIS_DB', '5')}"
    database_url = f"postgres://postgres@{pg_host}/{database}"
    scratch = Path(tempfile.mkdtemp(prefix="gk-burst-"))
    with GraphAPIStandIn(token=GRAPH_TOKEN) as graph, SlowModel(model_seconds, api_key="bench-key") as model:
        env = bench_env(
            database_url=database_url,
            redis_url=redis_url,
            graph_url=graph.url,
            model_url=model.base_url,
            var_dir=str(scratch),
        )
        if concurrency is not None:
            env["ENGINE_CONCURRENCY"] = str(concurrency)
        prepare(env, f"postgresql://postgres@{pg_host}/postgres", database, database_url)
        import redis

        redis.Redis.from_url(redis_url).flushdb()
        stack = BenchStack(env=env, logs=scratch)
        try:
            port = stack.start_server(SERVER)
            pids = [stack.start_worker(f"worker-{n + 1}").pid for n in range(workers)]
            warm_up(port, graph, workers)
            started = time.time()
            statuses = post_burst(port, n_companies, batch)
            posted = time.time() - started
            memory = watch(graph, model, pids, n_companies, started + timeout)
            replies = [r for r in graph.requests if r.accepted and not r.is_read_receipt]
            last = max((r.received_at for r in replies), default=float("nan"))
        finally:
            stack.close()
    return {
        "companies": n_companies,
        "workers": workers,
        "model_seconds": model_seconds,
        "engine_concurrency": concurrency or "default (32)",
        "replies": len(replies),
        "companies_per_webhook": batch,
        "webhooks_ok": f"{statuses.count(200)}/{len(statuses)}",
        "seconds_to_post": round(posted, 2),
        "seconds_to_last_reply": round(last - started, 2),
        "seconds_from_last_webhook_to_last_reply": round(last - started - posted, 2),
        "model_calls": len(model.requests),
        "peak_model_calls_in_flight": model.peak_in_flight,
        **memory,
        "load_average": " / ".join(f"{value:.1f}" for value in os.getloadavg()),
    }


def watch(graph, model, pids: list[int], n_companies: int, deadline: float) -> dict:
    """Wait for every reply; the workers' RSS when idle and at the most calls in flight."""
    idle = [rss_mb(pid) for pid in pids]
    busiest, at_peak = 0, idle
    while time.time() < deadline:
        in_flight = model.in_flight
        if in_flight > busiest:
            busiest, at_peak = in_flight, [rss_mb(pid) for pid in pids]
        if len(graph.sent_texts()) >= n_companies:
            break
        time.sleep(0.05)
    return {
        "worker_rss_mb_before": idle,
        "worker_rss_mb_at_peak": at_peak,
        "calls_in_flight_at_rss_sample": busiest,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--companies", type=int, default=40)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--model-seconds", type=float, default=1.5)
    parser.add_argument("--database", default=None)
    parser.add_argument("--redis-db", type=int, default=None)
    parser.add_argument("--batch", type=int, default=1, help="companies per webhook")
    parser.add_argument("--concurrency", type=int, default=None, help="ENGINE_CONCURRENCY for the workers")
    args = parser.parse_args(argv)
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}" if args.redis_db is not None else None
    result = run_burst(
        args.companies,
        args.workers,
        args.model_seconds,
        database=args.database,
        redis_url=redis_url,
        concurrency=args.concurrency,
        batch=args.batch,
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

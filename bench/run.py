"""`make bench`: start the production stack on loopback, measure it, write BENCHMARKS.md and the plot.

    .venv/bin/python -m bench.run [--quick] [--only PHASE,...] [--webchat-sockets N]

Uses the machine's PostgreSQL (database `gk_bench`, dropped and created afresh) and Redis
(database 5), loopback stand-ins of the Graph API and of an OpenAI-compatible model, and
drives load from separate processes: `wrk` for requests per second and ack latency (closed
loop, and an open loop paced by its Lua `delay()`, bench/wrk_lua.py), bench.webchat_load for
the sockets. Every phase is bounded in time. `--quick` (or BENCH_QUICK=1) runs every phase
small and short, to check the harness. `--only` re-runs some phases and keeps the other
figures from bench/results/latest.json, e.g. `--only webchat --database gk_bench_webchat --redis-db 6`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench import payloads, wrk, wrk_lua
from bench.stack import (
    APP_SECRET,
    CREATE_TABLE,
    GRAPH_TOKEN,
    PHONE_NUMBER_ID,
    QUEUE,
    ROOT,
    SENDABLE,
    SERVERS,
    BenchStack,
    InstantModel,
)
from bench.webchat_load import FD_MARGIN, raise_fd_limit
from channels_app.testing.graph_api import GraphAPIStandIn

RECIPES = list(SERVERS)
CHOSEN = "gunicorn gthread, 2 workers x 4 threads"
OFFERED_RATES = [25, 50, 100, 200, 400, 800]
PHASES = (
    "ingest",
    "sweep",
    "turnaround",
    "workers",
    "kill",
    "inprocess",
    "burst",
    "webchat",
    "calls",
    "followups",
)
#: Closed-loop cases: name -> (path, messages per request, connections, most requests/s a body file must feed).
#: wrk replays each body once; the ceiling sizes the file above what this machine can serve (a run that
#: still used them all up repeats ids, and the report says so). None: plain GETs, no bodies.
INGEST_CASES = {
    "bare view": ("/bench/bare", 1, 32, None),
    "minimal ingest": ("/bench/minimal", 1, 32, 3000),
    "webhook, 1 message": ("/webhook/whatsapp", 1, 32, 2000),
    "webhook, 1 message, first contact": ("/webhook/whatsapp", 1, 32, 2000),
    "webhook, batch of 10": ("/webhook/whatsapp", 10, 8, 1000),
    "webhook, batch of 100": ("/webhook/whatsapp", 100, 4, 500),
}


def open_loop_connections(rate: float) -> int:
    """Connections for an open loop at `rate`: one per 8 requests a second (16 to 512), so a request
    waits for a free connection, late, only once answers take 1/8 s. Not more: each connection wrk
    opens holds a gunicorn thread until its first request (report_sections, "How the load is made")."""
    return int(max(16, min(512, rate / 8)) // wrk.THREADS * wrk.THREADS)


#: The ASGI recipe that serves /ws/ in production (Procfile `ws`).
WEBCHAT_SERVER = "daphne, 1 process"


def bench_env(
    *, database_url: str, redis_url: str, graph_url: str, model_url: str, var_dir: str
) -> dict[str, str]:
    """The production settings (plus the comparison views) pointed at loopback services."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        SECRET_KEY="bench-secret-key",
        DEBUG="false",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        GATEKEEPER_QUEUE=QUEUE,
        GATEKEEPER_VAR_DIR=var_dir,
        WHATSAPP_APP_SECRET=APP_SECRET,
        WHATSAPP_VERIFY_TOKEN="bench-verify-token",
        WHATSAPP_API_TOKEN=GRAPH_TOKEN,
        WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        WHATSAPP_GRAPH_API_URL=graph_url,
        AI_PROVIDER="openai",
        OPENAI_BASE_URL=model_url,
        OPENAI_API_KEY="bench-key",
        REPLY_BURST_SECONDS="0",
        GATEKEEPER_PASSWORD="bench-password",
        EMAIL_URL="dummymail://",
        PYTHONUNBUFFERED="1",
        # The web-chat load comes from one address, at many times a visitor's pace.
        WEBCHAT_VISITOR_RATE="100000/m",
        WEBCHAT_ADDRESS_RATE="1000000/m",
        WEBCHAT_NEW_VISITOR_RATE="1000000/m",
    )
    return env


def manage(*args: str, env: dict[str, str]) -> str:
    """Run a management command; its output, or an error with it."""
    done = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)}: {done.stderr[-3000:]}")
    return done.stdout


def fresh_database(admin_dsn: str, name: str) -> None:
    """Drop and create the benchmark's own database on the shared server."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


class Run:
    """One benchmark run: its stack, stand-ins, scratch files and collected figures."""

    def __init__(
        self,
        *,
        quick: bool,
        database: str,
        redis_db: int,
        pg_host: str,
        redis_host: str,
        webchat_sockets: int = 0,
    ) -> None:
        self.quick = quick
        self.webchat_sockets = webchat_sockets or (300 if quick else 2000)
        self.duration = 2.0 if quick else 8.0
        self.scratch = Path(tempfile.mkdtemp(prefix="gk-bench-"))
        self.graph = GraphAPIStandIn(token=GRAPH_TOKEN).start()
        self.model = InstantModel(api_key="bench-key").start()
        self.database_url = f"postgres://postgres@{pg_host}/{database}"
        self.admin_dsn = f"postgresql://postgres@{pg_host}/postgres"
        self.database = database
        self.redis_url = f"redis://{redis_host}/{redis_db}"
        self.env = bench_env(
            database_url=self.database_url,
            redis_url=self.redis_url,
            graph_url=self.graph.url,
            model_url=self.model.base_url,
            var_dir=str(self.scratch),
        )
        self.stack = BenchStack(env=self.env, logs=self.scratch)
        self.figures: dict = {"ingest": {}, "sweep": {}, "turnaround": {}, "workers": {}}
        self._files = 0

    # -- set-up ---------------------------------------------------------------------------------

    def prepare(self) -> None:
        """A fresh database with the owner (phone company rule on `auto`), empty queues, Django loaded."""
        fresh_database(self.admin_dsn, self.database)
        manage("migrate", "--noinput", env=self.env)
        manage("gatekeeper_setup", "--username", "owner", env=self.env)
        with self.connect() as conn:
            conn.execute(
                "UPDATE conversations_rule SET action = 'auto', match_keywords = '[\"bill\", \"mobile\"]' "
                "WHERE category = 'cellphone_provider'"
            )
            conn.execute(CREATE_TABLE)
        os.environ.update(self.env)
        import django

        django.setup()
        self.redis().flushdb()

    def redis(self):
        """The benchmark's Redis database."""
        import redis

        return redis.Redis.from_url(self.redis_url)

    def connect(self) -> psycopg.Connection:
        """An autocommit connection to the bench database, for the harness's own reads and resets."""
        return psycopg.connect(self.database_url.replace("postgres://", "postgresql://"), autocommit=True)

    def settle(self) -> None:
        """Forget pending work between phases: the ingest phases leave thousands of due replies."""
        with self.connect() as conn:
            conn.execute("UPDATE conversations_conversation SET reply_due_at = NULL")
            conn.execute("DELETE FROM conversations_delivery")
            conn.execute(
                "UPDATE conversations_message SET status = 'failed' WHERE status IN ('queued', 'sending')"
            )
        self.redis().flushdb()

    # -- load -----------------------------------------------------------------------------------

    def requests_file(
        self,
        kind: str,
        *,
        count: int,
        batch: int = 1,
        target: str = "/webhook/whatsapp",
        first_contact: bool = False,
    ) -> str:
        """A fresh file of prepared requests with ids never used before in this run.

        Senders are the pool of KNOWN_SENDERS (bench.payloads) that wrote before, unless `first_contact`.
        """
        self._files += 1
        path = self.scratch / f"requests-{self._files}.txt"
        if kind == "get":
            return str(payloads.write_gets(path, target=target, count=count))
        return str(
            payloads.write_webhooks(
                path,
                target=target,
                count=count,
                batch=batch,
                prefix=f"B{self._files}",
                sender_offset=self._files * 10_000_000 if first_contact else 0,
                senders=0 if first_contact else payloads.KNOWN_SENDERS,
                phone_number_id=PHONE_NUMBER_ID,
                secret=APP_SECRET,
            )
        )

    def load(
        self, port: int, requests: str, *, duration: float, rate: float = 0, connections: int = 32
    ) -> dict:
        """Run bench.loadgen in its own process; its JSON summary."""
        command = [sys.executable, "-m", "bench.loadgen", "--port", str(port), "--requests", requests]
        command += ["--duration", str(duration), "--connections", str(connections)]
        if rate:
            command += ["--rate", str(rate)]
        done = subprocess.run(  # noqa: S603
            command, cwd=ROOT, capture_output=True, text=True, timeout=duration + 120
        )
        if done.returncode:
            raise RuntimeError(f"loadgen failed: {done.stderr[-2000:]}")
        return json.loads(done.stdout)

    # -- phases ---------------------------------------------------------------------------------

    def bodies(self, *, count: int, batch: int = 1, first_contact: bool = False) -> Path:
        """A fresh body file for wrk: `count` signed deliveries of `batch` messages, ids never used before.

        Senders are the pool of KNOWN_SENDERS (bench.payloads) that wrote before, unless `first_contact`.
        """
        self._files += 1
        path = self.scratch / f"bodies-{self._files}"
        records = payloads.signed_webhooks(
            count=count,
            batch=batch,
            prefix=f"B{self._files}",
            phone_number_id=PHONE_NUMBER_ID,
            secret=APP_SECRET,
            sender_offset=self._files * 10_000_000 if first_contact else 0,
            senders=0 if first_contact else payloads.KNOWN_SENDERS,
        )
        wrk_lua.write_bodies(path, records)
        return path

    def wrk(
        self,
        port: int,
        target: str,
        *,
        duration: float,
        connections: int,
        bodies: Path | None = None,
        rate=0.0,
    ) -> dict:
        """One wrk run on the server at `port`; its figures (bench.wrk)."""
        load = wrk.Load(
            url=f"http://127.0.0.1:{port}{target}",
            duration=duration,
            connections=connections,
            bodies=bodies,
            rate=rate,
        )
        return wrk.run(load, scratch=self.scratch)

    def ingest(self, recipe: str) -> None:
        """Closed loop with wrk: bare view, the minimal ingest and the product's webhook."""
        port = self.stack.start_server(recipe)
        d = self.duration
        self.wrk(port, "/bench/bare", duration=2, connections=32)  # warm-up
        self.meet_the_senders(port)
        results = {}
        for name, (target, batch, connections, ceiling) in INGEST_CASES.items():
            bodies = None
            if ceiling:
                count = int(ceiling * (d + 2)) + connections
                bodies = self.bodies(count=count, batch=batch, first_contact=name.endswith("first contact"))
            result = closed_loop_figures(
                self.wrk(port, target, duration=d, connections=connections, bodies=bodies), batch
            )
            if target == "/webhook/whatsapp" and recipe == CHOSEN:
                result["drain"] = self.drain()
            elif target == "/webhook/whatsapp":
                self.settle()  # the other recipes' deliveries are not ingested: the web server differs, not the job
            results[name] = result
            print(
                f"  {recipe:28} {name:33} {result['rate_per_s']:8.1f} req/s  {result['messages_per_s']:8.1f} msgs/s  "
                f"p50 {result['p50_ms']:7.1f} ms  p99 {result['p99_ms']:8.1f} ms  errors {result['errors']}"
                + (f"  REPEATED {result['repeats']}" if result["repeats"] else "")
                + (
                    f"  ingested by 1 worker at {result['drain']['messages_per_s']:.0f} msgs/s"
                    if "drain" in result
                    else ""
                ),
                flush=True,
            )
        if recipe == CHOSEN:
            results["ratio rounds"] = self.ratio_rounds(port, results)
        self.stack.stop("web")
        self.figures["ingest"][recipe] = results
        self.settle()

    def ratio_rounds(self, port: int, results: dict, rounds: int = 3) -> list[float]:
        """Webhook / minimal ingest, 1 message per POST, in alternating pairs on the same server: one 8-second
        pair swings by ±15 % with whatever else the 2 cores do (autovacuum, a checkpoint), a median of
        pairs much less. The first pair is the table's; the others run right after it."""
        minimal, webhook = "minimal ingest", "webhook, 1 message"
        ratios = [results[webhook]["rate_per_s"] / results[minimal]["rate_per_s"]]
        for _ in range(rounds - 1):
            pair = {}
            for name in (minimal, webhook):
                target, _, connections, ceiling = INGEST_CASES[name]
                bodies = self.bodies(count=int(ceiling * (self.duration + 2)) + connections)
                pair[name] = self.wrk(
                    port, target, duration=self.duration, connections=connections, bodies=bodies
                )
            ratios.append(pair[webhook]["requests_per_s"] / pair[minimal]["requests_per_s"])
            self.settle()
        print(f"  webhook / minimal ingest in alternating pairs: {[round(r, 2) for r in ratios]}", flush=True)
        return [round(r, 3) for r in ratios]

    def drain(self, timeout: float = 300) -> dict:
        """One RQ worker ingests what the load left stored: messages/s from its first ingest to its last.

        The webhooks are measured with no worker running, as the minimal ingest's jobs are not run
        either; this is the other half of the pipeline, timed on its own (the worker's start excluded).
        """
        with self.connect() as conn:

            def waiting() -> int:
                return conn.execute("SELECT count(*) FROM conversations_delivery").fetchone()[0]

            def stored() -> int:
                return conn.execute(
                    "SELECT count(*) FROM conversations_message WHERE direction = 'in'"
                ).fetchone()[0]

            count = waiting()
            self.stack.start_worker("drain")
            deadline = time.monotonic() + timeout
            first = None
            while time.monotonic() < deadline:
                left = waiting()
                if first is None and left < count:
                    first = (time.monotonic(), stored())
                if left == 0:
                    break
                time.sleep(0.02)
            ended, after = time.monotonic(), stored()
            self.stack.stop("drain")
            left = waiting()
        self.redis().flushdb()  # the draft jobs the ingest scheduled are not this phase's work
        seconds = ended - first[0] if first else 0.0
        rate = (after - first[1]) / seconds if first and seconds > 0 else 0.0
        return {
            "deliveries": count,
            "left": left,
            "seconds": round(seconds, 2),
            "messages_per_s": round(rate, 1),
        }

    def meet_the_senders(self, port: int) -> None:
        """One message from each of the KNOWN_SENDERS, unmeasured: the companies that wrote before.

        Then ANALYZE, as autovacuum has done on any database that has been running a while:
        a fresh one's planner statistics still describe empty tables.
        """
        batches = payloads.KNOWN_SENDERS // 100
        requests = self.requests_file("post", count=batches, batch=100)
        self.load(port, requests, duration=600, connections=1)
        self.drain()
        with self.connect() as conn:
            conn.execute("ANALYZE")

    def sweep(self, recipe: str) -> None:
        """Open loop with wrk paced by its Lua delay(): latency against offered load, until saturated."""
        port = self.stack.start_server(recipe)
        d = max(2.0, self.duration * 0.75)
        self.wrk(port, "/bench/bare", duration=2, connections=32)
        self.meet_the_senders(port)
        # Every server thread answers webhooks before the measured rates start, as on a server that has been
        # up a while: a thread's first one opens its database connection and imports the webhook's modules.
        self.wrk(port, "/webhook/whatsapp", duration=2, connections=32, bodies=self.bodies(count=3000))
        points = []
        for rate in OFFERED_RATES:
            connections = open_loop_connections(rate)
            bodies = self.bodies(count=int(rate * (d + 2)) + connections)
            figures = self.wrk(
                port, "/webhook/whatsapp", duration=d, connections=connections, bodies=bodies, rate=rate
            )
            point = {**closed_loop_figures(figures, 1), "offered_per_s": rate}
            point["late"] = figures["script"].get("late", 0)
            point["lag_max_ms"] = figures["script"].get("lag_max_ms", 0.0)
            points.append(point)
            print(
                f"  {recipe:28} offered {rate:5}/s  got {point['rate_per_s']:7.1f}/s  p50 {point['p50_ms']:8.1f} ms  "
                f"p99 {point['p99_ms']:8.1f} ms  errors {point['errors']}  late {point['late']} "
                f"(lag max {point['lag_max_ms']:.0f} ms)",
                flush=True,
            )
            if point["p99_ms"] > 2000 or point["errors"] or point["rate_per_s"] < 0.8 * rate:
                break  # saturated: more offered load only grows the queue
        self.stack.stop("web")
        self.figures["sweep"][recipe] = points
        self.settle()

    def turnaround(self) -> None:
        """Webhook in -> reply accepted by the Graph stand-in: latency at a steady pace, then throughput."""
        import httpx

        port = self.stack.start_server(CHOSEN)
        self.stack.start_worker("worker-1")
        self.stack.spawn("sweeper", ["manage.py", "sweep_stalled", "--every", "15"])
        self._warm_up(port)
        count, pace = (20, 2.0) if self.quick else (60, 3.0)  # below capacity: overhead, not queueing
        sent_at: dict[str, float] = {}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            start = time.monotonic()
            for number in range(count):
                sender = f"5{number + 1:011d}"
                body = payloads.encode_one(
                    phone_number_id=PHONE_NUMBER_ID, sender=sender, message_id=f"wamid.T.{number}"
                )
                time.sleep(max(0.0, start + number / pace - time.monotonic()))
                sent_at[f"+{sender}"] = time.time()
                client.post("/webhook/whatsapp", content=body, headers=payloads.headers(body, APP_SECRET))
        replies = self.graph.wait_for_sent_texts(count, timeout=120)
        latencies = sorted(
            (request.received_at - sent_at[request.json["to"]]) * 1000
            for request in self.graph.requests
            if request.accepted and not request.is_read_receipt and request.json.get("to") in sent_at
        )
        self.figures["turnaround"]["latency"] = {
            "messages": len(replies),
            "pace_per_s": pace,
            "p50_ms": round(_pct(latencies, 0.5), 1),
            "p99_ms": round(_pct(latencies, 0.99), 1),
            "max_ms": round(latencies[-1], 1),
        }
        print(f"  turnaround at {pace}/s: {self.figures['turnaround']['latency']}", flush=True)
        for workers in (1, 2):
            if workers == 2:
                self.stack.start_worker("worker-2")
                time.sleep(2)
            self.figures["turnaround"][f"{workers} worker(s)"] = self.sustained(port, workers)
        self.stack.close()
        self.settle()

    def _warm_up(self, port: int) -> None:
        """One message through the whole pipeline first: the worker imports the engine's SDK on its first job."""
        import httpx

        self.graph.reset()
        body = payloads.encode_one(
            phone_number_id=PHONE_NUMBER_ID, sender="599999999999", message_id="wamid.WARM"
        )
        httpx.post(
            f"http://127.0.0.1:{port}/webhook/whatsapp",
            content=body,
            headers=payloads.headers(body, APP_SECRET),
        )
        self.graph.wait_for_sent_texts(1, timeout=120)
        self.graph.reset()

    def sustained(self, port: int, workers: int) -> dict:
        """Post a burst of messages from distinct contacts; replies per second until all are out."""
        total = 100 if self.quick else 240
        self.graph.reset()
        # New senders: a company that wrote the same words before, to an automatic reply, would be held
        # by the loop breaker (a repeated message) and never answered.
        requests = self.requests_file("post", count=total, first_contact=True)
        started = time.time()
        ingest = self.load(port, requests, duration=60, connections=8)
        self.graph.wait_for_sent_texts(total, timeout=300)
        last = max(r.received_at for r in self.graph.requests if r.accepted and not r.is_read_receipt)
        result = {
            "messages": total,
            "workers": workers,
            "seconds": round(last - started, 2),
            "messages_per_s": round(total / (last - started), 1),
            "per_worker_per_s": round(total / (last - started) / workers, 1),
            "ingest_statuses": ingest["statuses"],
        }
        print(f"  sustained with {workers} worker(s): {result}", flush=True)
        return result

    def worker_classes(self) -> None:
        """No-op jobs per second for RQ's forking Worker and for SimpleWorker."""
        import django_rq
        from django.conf import settings
        from rq.job import Job

        count = 150 if self.quick else 400
        for worker_class in ("rq.worker.Worker", "rq.worker.SimpleWorker"):
            queue = django_rq.get_queue(settings.BENCH_NOOP_QUEUE)
            ids = [queue.enqueue("bench.views.noop", n, result_ttl=600).id for n in range(count)]
            manage(
                "rqworker", "--burst", "--worker-class", worker_class, settings.BENCH_NOOP_QUEUE, env=self.env
            )
            jobs = [job for job in Job.fetch_many(ids, connection=queue.connection) if job is not None]
            first = min(job.started_at for job in jobs if job.started_at)
            last = max(job.ended_at for job in jobs if job.ended_at)
            seconds = (last - first).total_seconds()
            self.figures["workers"][worker_class] = {
                "jobs": len(jobs),
                "seconds": round(seconds, 2),
                "jobs_per_s": round(len(jobs) / seconds, 1),
            }
            print(f"  {worker_class}: {self.figures['workers'][worker_class]}", flush=True)
        self.settle()

    def killed_job(self) -> None:
        """SIGKILL a worker mid-draft under the production defaults; seconds until the reply goes out."""
        from ai.testing import ScriptedResponse

        port = self.stack.start_server(CHOSEN)
        self.stack.start_worker("doomed")
        self.stack.spawn("sweeper", ["manage.py", "sweep_stalled", "--every", "15"])
        time.sleep(2)
        self.graph.reset()
        self.model.enqueue(ScriptedResponse(content=json.dumps(SENDABLE), delay=300))
        asked = len(self.model.requests)
        body = payloads.encode_one(
            phone_number_id=PHONE_NUMBER_ID, sender="600000000001", message_id="wamid.KILL"
        )
        import httpx

        httpx.post(
            f"http://127.0.0.1:{port}/webhook/whatsapp",
            content=body,
            headers=payloads.headers(body, APP_SECRET),
        )
        deadline = time.monotonic() + 60
        while (
            len(self.model.requests) <= asked and time.monotonic() < deadline
        ):  # mid-draft: the engine was asked
            time.sleep(0.05)
        self.stack.stop("doomed", sig=signal.SIGKILL)
        killed = time.time()
        self.stack.start_worker("survivor")  # the supervisor restarts it at once
        recipient = "+600000000001"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not self._replies_to(recipient):
            time.sleep(0.1)
        time.sleep(5)  # time enough for a duplicate to show up, if there were one
        replies = self._replies_to(recipient)
        sent = replies[0].received_at if replies else float("nan")
        self.figures["killed_job"] = {
            "seconds_to_redo": round(sent - killed, 1),
            "replies": len(replies),
            "stalled_work_seconds": 30,
            "sweep_every": 15,
        }
        print(f"  killed job: {self.figures['killed_job']}", flush=True)
        self.stack.close()
        self.settle()

    def webchat(self) -> None:
        """Sockets one daphne process holds, round trips at that load, and its RSS before / during / after.

        The production shape of the web chat (Procfile `ws`, `worker`, `sweeper`): daphne serving
        the /ws/ routes, the Redis channel layer and cache, one SimpleWorker drafting with the
        model stand-in. The load comes from bench.webchat_load in its own process.
        """
        limit = raise_fd_limit()  # daphne and the load process inherit it
        sockets = self.webchat_sockets
        if limit < sockets + FD_MARGIN:
            sockets = limit - FD_MARGIN
            print(f"  webchat: descriptor limit {limit}: {sockets} sockets, not {self.webchat_sockets}")
        rest, messages = (10, 30) if self.quick else (30, 100)
        log = self.scratch / "web.log"
        logged = log.stat().st_size if log.exists() else 0  # earlier phases' servers wrote there too
        port = self.stack.start_server(WEBCHAT_SERVER)
        server = self.stack.processes["web"]
        self.stack.start_worker("worker-1")
        self.stack.spawn("sweeper", ["manage.py", "sweep_stalled", "--every", "15"])
        command = [sys.executable, "-m", "bench.webchat_load", "--base", f"http://127.0.0.1:{port}"]
        command += ["--server-pid", str(server.pid), "--sockets", str(sockets)]
        command += ["--messages", str(messages), "--rest-messages", str(rest)]
        try:
            done = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
                command, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, text=True, timeout=900
            )  # its progress (stderr) shows as it goes
        finally:
            self.stack.close()
        if done.returncode:
            raise RuntimeError(f"webchat_load failed ({done.returncode}); see its output above")
        result = json.loads(done.stdout)
        with log.open("rb") as lines:
            lines.seek(logged)
            errors = sum(b" ERROR " in line for line in lines)
        result.update(server=WEBCHAT_SERVER, workers=1, fd_limit=limit, server_errors=errors)
        self.figures["webchat"] = result
        print(
            f"  webchat: {result['sockets_held']} sockets held; reply at load p50 "
            f"{result['at_load']['reply']['p50_ms']} ms, p99 {result['at_load']['reply']['p99_ms']} ms; "
            f"RSS {result['memory']['before']['rss_mb']} / {result['memory']['during']['rss_mb']} / "
            f"{result['memory']['after']['rss_mb']} MB; {errors} errors in the server's log",
            flush=True,
        )
        self.settle()

    def _replies_to(self, recipient: str) -> list:
        """The sends the Graph stand-in accepted for one contact."""
        return [
            r
            for r in self.graph.requests
            if r.accepted
            and not r.is_read_receipt
            and isinstance(r.json, dict)
            and r.json.get("to") == recipient
        ]

    def close(self) -> None:
        """Stop processes and stand-ins."""
        self.stack.close()
        self.graph.stop()
        self.model.stop()


def closed_loop_figures(figures: dict, batch: int) -> dict:
    """What the report reads from one wrk run; messages/s counts only answered 2xx/3xx requests."""
    answered = figures["requests"] - figures["non_2xx_3xx"]
    percentiles = figures["percentiles_ms"]
    return {
        "rate_per_s": figures["requests_per_s"],
        "messages_per_s": round(answered / figures["seconds"] * batch, 1) if figures["seconds"] else 0.0,
        "p50_ms": percentiles.get("50"),
        "p90_ms": percentiles.get("90"),
        "p99_ms": percentiles.get("99"),
        "max_ms": figures.get("latency_max_ms"),
        "requests": figures["requests"],
        "seconds": figures["seconds"],
        "errors": figures["errors"],
        "non_2xx_3xx": figures["non_2xx_3xx"],
        "socket_errors": figures["socket_errors"],
        "connections": figures.get("connections"),
        "repeats": figures["script"].get("repeats", 0),
    }


def _pct(values: list[float], fraction: float) -> float:
    from bench.loadgen import percentile

    return percentile(values, fraction)


def machine() -> dict:
    """What the figures were measured on."""
    cpu = "unknown"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres") as conn:
        postgres = conn.execute("SHOW server_version").fetchone()[0]
    return {
        "load_average": " / ".join(f"{value:.1f}" for value in os.getloadavg()),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "os": platform.platform(),
        "postgres": postgres,
    }


def write_result(name: str, figures: dict, *, quick: bool) -> None:
    """bench/results/NAME.json, as the phase's own command (python -m bench.NAME) writes it."""
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    result = {name: {**figures[name], "mode": "quick" if quick else "full"}, "machine": machine()}
    (out / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))


def main(argv: list[str] | None = None) -> None:
    """Run every phase, then write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("BENCH_QUICK", "") not in ("", "0"),
        help="small sizes and a few seconds per phase, to check the harness (also BENCH_QUICK=1)",
    )
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE", "gk_bench"))
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG", "127.0.0.1:5432"))
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS", "127.0.0.1:6379"))
    parser.add_argument("--redis-db", type=int, default=int(os.environ.get("BENCH_REDIS_DB", "5")))
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated phases ({','.join(PHASES)}); "
        "the other figures are kept from bench/results/latest.json",
    )
    parser.add_argument(
        "--webchat-sockets",
        type=int,
        default=int(os.environ.get("BENCH_WEBCHAT_SOCKETS", "0")),
        help="sockets the webchat phase opens (default 2000, 1000 with --quick)",
    )
    args = parser.parse_args(argv)
    phases = set(filter(None, args.only.split(","))) or set(PHASES)
    if unknown := phases - set(PHASES):
        parser.error(f"unknown phase(s) {', '.join(sorted(unknown))}; choose from {', '.join(PHASES)}")
    started = time.monotonic()
    out = ROOT / "bench" / "results"
    previous = out / "latest.json"
    keep = json.loads(previous.read_text()) if args.only and previous.exists() else {}
    run = Run(
        quick=args.quick,
        database=args.database,
        redis_db=args.redis_db,
        pg_host=args.pg,
        redis_host=args.redis,
        webchat_sockets=args.webchat_sockets,
    )
    failure: BaseException | None = None
    try:
        print(f"benchmark scratch files in {run.scratch}", flush=True)
        run.prepare()
        if "ingest" in phases:
            for recipe in RECIPES:
                run.ingest(recipe)
        if "sweep" in phases:
            for recipe in RECIPES:
                run.sweep(recipe)
        if "turnaround" in phases:
            run.turnaround()
        if "workers" in phases:
            run.worker_classes()
        if "kill" in phases:
            run.killed_job()
        if "inprocess" in phases:
            from bench import inprocess

            run.figures.update(inprocess.measure())
        if "burst" in phases:
            from bench import burst_phase

            run.figures.update(burst_phase.measure(run, quick=args.quick))
        if "webchat" in phases:
            run.webchat()
        if "calls" in phases:
            from bench import calls

            run.figures.update(calls.measure(turns=50 if args.quick else 500))
            write_result("calls", run.figures, quick=args.quick)
        if "followups" in phases:
            from bench import followups

            run.figures.update(followups.measure(count=1_000 if args.quick else 10_000))
            write_result("followups", run.figures, quick=args.quick)
    except Exception as exc:  # keep what was measured: the report says which phase failed
        failure = exc
        run.figures["failed"] = f"{type(exc).__name__}: {exc}"
    finally:
        run.close()
    run.figures = {**keep, **{key: value for key, value in run.figures.items() if value}}
    if failure is None:
        run.figures.pop("failed", None)
    run.figures["machine"] = machine()
    minutes = round((time.monotonic() - started) / 60, 1)
    if args.only:
        run.figures["rerun"] = sorted(
            {
                *keep.get("rerun", []),
                *(f"{p} ({minutes} min{', quick' if args.quick else ''})" for p in phases),
            }
        )
        if args.quick:  # one quick phase makes the page a harness check
            run.figures["mode"] = "quick"
    else:
        run.figures.pop("rerun", None)
        run.figures["command"] = "BENCH_QUICK=1 make bench" if args.quick else "make bench"
        run.figures["mode"] = "quick" if args.quick else "full"
        run.figures["minutes"] = minutes
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(run.figures, indent=2, default=str))
    from bench import report

    report.write(run.figures, markdown=ROOT / "BENCHMARKS.md", plot_path=out / "latency.png", chosen=CHOSEN)
    print(f"wrote BENCHMARKS.md and bench/results/latency.png in {minutes} minutes")
    if failure is not None:
        raise failure


if __name__ == "__main__":
    main()

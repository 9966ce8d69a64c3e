"""Web chat on loopback: how many sockets one daphne process holds, and how long a message takes.

    .venv/bin/python -m bench.webchat_sockets [--mode embedded|redis] [--max-sockets 8000] [--step 1000]

`embedded` is what `make run` serves: SQLite, jobs in a thread of the server process, the in-memory
channel layer. `redis` is the production shape: PostgreSQL (database `gk_webchat_bench`, made afresh),
the Redis channel layer and cache (Redis database 3, prefixes of its own) and one RQ worker. Both
use the rules engine, with `cellphone_provider` delegated (`auto`) so every message gets a reply.

It measures, from a separate client process (this one):
- round trip at rest: a new visitor sends a message; time to its echo, and to the assistant's reply;
- sockets held: opens sockets in steps, each a new visitor that gets its history frame, and after
  each step checks the server still answers (echo time on sampled sockets) and its memory;
- round trip again with every socket still open.
The reply burst window is set to 0 to time the machinery (the default, 3 s, waits on purpose for a
company's follow-up messages). Every phase is bounded in time; the process tree is stopped at the end.

`make bench` measures the production shape on its own (phase `webchat` of bench.run, with the load
from bench/webchat_load.py): `.venv/bin/python -m bench.run --only webchat`. This script is for
comparing with the embedded mode and for finding the ceiling step by step.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parents[1]
SLUG = "chat"
BILL = "Hello, your mobile data plan renews next week and roaming charges apply."
BENCH_DB = "gk_webchat_bench"
REDIS_URL = "redis://127.0.0.1:6379/3"
#: Sockets opening at once: enough to keep the server busy, few enough that a connect never queues long.
CONNECT_CONCURRENCY = 25
STEP_TIMEOUT = 600.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_fd_limit() -> int:
    """Allow this process and its children (daphne) as many descriptors as the system lets us."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Stack:
    base: str
    daphne: subprocess.Popen
    children: list[subprocess.Popen] = field(default_factory=list)


def _env(mode: str, var: Path, port: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    unique = uuid.uuid4().hex[:8]
    env.update(
        DJANGO_SETTINGS_MODULE="gatekeeper_site.settings",
        GATEKEEPER_VAR_DIR=str(var),
        SECRET_KEY="webchat-bench-secret",
        GATEKEEPER_PASSWORD="bench-password",
        PORT=str(port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        REPLY_BURST_SECONDS="0",
        WEBCHAT_VISITOR_RATE="100000/m",
        WEBCHAT_ADDRESS_RATE="1000000/m",
        WEBCHAT_NEW_VISITOR_RATE="1000000/m",
        LOG_LEVEL="WARNING",
    )
    if mode == "redis":
        env.update(
            DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}",
            REDIS_URL=REDIS_URL,
            GATEKEEPER_QUEUE=f"webchat-bench-{unique}",
            CHANNEL_LAYER_PREFIX=f"webchat-bench-{unique}",
            CACHE_KEY_PREFIX=f"webchat-bench-{unique}",
        )
    return env


def _fresh_database() -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def _manage(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


@contextlib.contextmanager
def stack(mode: str) -> Iterator[Stack]:
    """daphne (one process), plus one RQ worker in redis mode; always stopped."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="webchat-bench-") as var:
        env = _env(mode, Path(var), port)
        if mode == "redis":
            _fresh_database()
        _manage("migrate", "--noinput", env=env)
        token = _manage("gatekeeper_setup", env=env).strip().splitlines()[-1].removeprefix("token: ")
        _manage("collectstatic", "--noinput", env=env)
        log = open(Path(var) / "server.log", "w")  # noqa: SIM115
        spawn = {"cwd": ROOT, "env": env, "stdout": log, "stderr": subprocess.STDOUT}
        daphne = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "gatekeeper_site.asgi:application",
            ],
            **spawn,
        )
        running = Stack(base=f"http://127.0.0.1:{port}", daphne=daphne)
        if mode == "redis":
            worker = [
                sys.executable, "manage.py", "rqworker", "--with-scheduler",
                "--worker-class", "rq.worker.SimpleWorker", env["GATEKEEPER_QUEUE"],
            ]  # fmt: skip
            running.children.append(subprocess.Popen(worker, **spawn))  # noqa: S603
        try:
            _wait_until_up(running.base)
            _delegate(running.base, token)
            yield running
        finally:
            for child in [*running.children, daphne]:
                child.send_signal(signal.SIGTERM)
            for child in [*running.children, daphne]:
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.kill()
            log.close()
            lines = (Path(var) / "server.log").read_text().splitlines()
            errors = [number for number, line in enumerate(lines) if "ERROR" in line]
            for line in lines[errors[0] : errors[0] + 40] if errors else []:
                print("server:", line)  # the first error with its traceback
            if len(errors) > 1:
                print(f"server: ... {len(errors)} errors in all")


def _wait_until_up(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit("the server did not come up")


def _delegate(base: str, token: str) -> None:
    """Let the assistant answer phone-company messages on its own, so every message gets a reply."""
    api = httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"}, timeout=10)
    rules = api.get("/user-settings/rules/").json()
    rules = rules["results"] if isinstance(rules, dict) else rules
    rule = next(r for r in rules if r["category"] == "cellphone_provider")
    api.patch(
        f"/user-settings/rules/{rule['id']}/", json={"action": "auto", "match_keywords": ["mobile"]}
    ).raise_for_status()


# -- the client ------------------------------------------------------------------------------------


class Socket:
    """A visitor's socket, read all the time (as a browser does) so the server's pings are answered."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: asyncio.Queue[dict] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:  # aiohttp answers pings while iterating
            if message.type == aiohttp.WSMsgType.TEXT:
                self.frames.put_nowait(json.loads(message.data))

    @property
    def closed(self) -> bool:
        return self.ws.closed or self.reader.done()

    async def send(self, frame: dict) -> None:
        await self.ws.send_json(frame)

    async def until(self, wanted, timeout: float = 30.0) -> dict:
        """The first frame, from now on, that `wanted` accepts."""
        deadline = time.monotonic() + timeout
        while True:
            frame = await asyncio.wait_for(self.frames.get(), max(0.01, deadline - time.monotonic()))
            if wanted(frame):
                return frame

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


async def open_socket(session: aiohttp.ClientSession, base: str) -> Socket:
    """A new visitor's socket, once its history frame has arrived."""
    url = f"{base.replace('http', 'ws', 1)}/ws/chat/{SLUG}/"
    chat = Socket(await asyncio.wait_for(session.ws_connect(url, origin=base), 30))
    await chat.until(lambda frame: frame["type"] == "history")
    return chat


async def round_trip(session: aiohttp.ClientSession, base: str) -> tuple[float, float]:
    """Seconds from sending to the echo, and to the assistant's reply, for a new visitor."""
    chat = await open_socket(session, base)
    try:
        client_id = uuid.uuid4().hex
        start = time.perf_counter()
        await chat.send({"type": "message", "text": BILL, "client_id": client_id})
        await chat.until(lambda f: f["type"] == "message" and f.get("client_id") == client_id)
        echo = time.perf_counter() - start
        await chat.until(lambda f: f["type"] == "message" and f["author"] == "assistant")
        return echo, time.perf_counter() - start
    finally:
        await chat.close()


async def echo_time(chat: Socket) -> float | None:
    """Seconds until a held socket echoes a message; None when it no longer answers."""
    client_id = uuid.uuid4().hex
    start = time.perf_counter()
    try:
        await chat.send({"type": "message", "text": "still there?", "client_id": client_id})
        await chat.until(lambda f: f["type"] == "message" and f.get("client_id") == client_id, timeout=10)
    except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:
        print(f"  echo failed after {time.perf_counter() - start:.1f}s: {exc!r}", flush=True)
        return None
    return time.perf_counter() - start


def ms(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.0f}"


async def measure_round_trips(session, base: str, count: int) -> list[tuple[float, float]]:
    return [await round_trip(session, base) for _ in range(count)]


async def hold(session, stack: Stack, max_sockets: int, step: int, sample: int) -> tuple[list, list]:
    """Open sockets step by step; stop at the first step that fails or slows down badly."""
    held: list[Socket] = []
    rows = []
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> float | None:
        async with gate:
            start = time.perf_counter()
            try:
                held.append(await open_socket(session, stack.base))
            except Exception:
                return None
            return time.perf_counter() - start

    while len(held) < max_sockets:
        want = min(step, max_sockets - len(held))
        start = time.perf_counter()
        try:
            results = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(want))), STEP_TIMEOUT)
        except TimeoutError:
            rows.append({"open": len(held), "failed": "step timed out"})
            break
        took = time.perf_counter() - start
        connects = [r for r in results if r is not None]
        failed = want - len(connects)
        alive = [ws for ws in held if not ws.closed]
        sampled = [await echo_time(ws) for ws in random.sample(alive, min(sample, len(alive)))]
        echoes = [echo for echo in sampled if echo is not None]
        failed += len(sampled) - len(echoes)
        rows.append(
            {
                "open": len(alive),
                "failed": failed,
                "rate": want / took,
                "connect_p50": ms(connects, 0.5),
                "connect_p95": ms(connects, 0.95),
                "echo_p50": ms(echoes, 0.5),
                "echo_p95": ms(echoes, 0.95),
                "rss": rss_mb(stack.daphne.pid),
            }
        )
        print(_row(rows[-1]), flush=True)
        if failed:
            print(f"  ({len(held) - len(alive)} held sockets closed, {len(sampled) - len(echoes)} silent)")
        if failed > want * 0.01 or (echoes and sorted(echoes)[int(0.95 * len(echoes))] > 2.0):
            break  # refusing sockets, or too slow to answer the ones it holds
    return held, rows


def _row(row: dict) -> str:
    if isinstance(row.get("failed"), str):
        return f"| {row['open']} | {row['failed']} | | | | | |"
    return (
        f"| {row['open']} | {row['failed']} | {row['rate']:.0f}/s | {row['connect_p50']} / {row['connect_p95']} ms"
        f" | {row['echo_p50']} / {row['echo_p95']} ms | {row['rss']:.0f} MB |"
    )


async def run(args: argparse.Namespace, stack: Stack) -> None:
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        idle_rss = rss_mb(stack.daphne.pid)
        await measure_round_trips(session, stack.base, 3)  # warm up
        rest = await measure_round_trips(session, stack.base, args.messages)
        print(f"\nmode: {args.mode}; daphne RSS at rest {idle_rss:.0f} MB")
        _print_trips("round trip at rest", rest)
        print(
            "\n| sockets open | failed in step | connect rate | connect p50 / p95 | echo p50 / p95 | daphne RSS |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        held, _ = await hold(session, stack, args.max_sockets, args.step, args.sample)
        loaded = await measure_round_trips(session, stack.base, args.messages)
        _print_trips(f"round trip with {sum(not ws.closed for ws in held)} sockets open", loaded)
        await asyncio.gather(*(ws.close() for ws in held), return_exceptions=True)


def _print_trips(title: str, trips: list[tuple[float, float]]) -> None:
    echoes = [echo for echo, _ in trips]
    replies = [reply for _, reply in trips]
    print(
        f"{title} ({len(trips)} messages): echo p50 {ms(echoes, 0.5)} ms, p95 {ms(echoes, 0.95)} ms; "
        f"assistant's reply p50 {ms(replies, 0.5)} ms, p95 {ms(replies, 0.95)} ms, "
        f"max {max(replies) * 1000:.0f} ms, mean {statistics.mean(replies) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["embedded", "redis"], default="embedded")
    parser.add_argument("--max-sockets", type=int, default=8000)
    parser.add_argument("--step", type=int, default=1000)
    parser.add_argument(
        "--messages", type=int, default=30, help="round trips measured at rest and under load"
    )
    parser.add_argument("--sample", type=int, default=20, help="held sockets that echo after each step")
    args = parser.parse_args()
    limit = raise_fd_limit()
    if limit < args.max_sockets + 500:  # the client and daphne each hold one end of every socket
        raise SystemExit(f"file descriptor limit {limit} is too low for {args.max_sockets} sockets")
    with stack(args.mode) as running:
        asyncio.run(run(args, running))


if __name__ == "__main__":
    main()

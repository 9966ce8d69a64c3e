"""The web-chat load, in its own process: sockets one ASGI process holds, round trips, and its memory.

    .venv/bin/python -m bench.webchat_load --base http://127.0.0.1:PORT --server-pid PID [--sockets 2000]

`bench.run` (phase `webchat`) starts the production shape (daphne serving /ws/, the Redis channel
layer, an RQ worker, the sweeper, the model stand-in) and runs this against it. Steps, each bounded:

1. warm-up: 5 visitors each send a message and wait for the assistant's reply;
2. at rest: `--rest-messages` new visitors, one after another, each timing one message to its
   echo (stored and shown back) and to the assistant's reply (worker, model, channel layer, socket);
3. before: the server's RSS, descriptors and TCP connections, no visitor connected;
4. hold: `--sockets` sockets opened, 25 at a time, each a new visitor counted once its history
   frame arrived; every socket is read all the time, as a browser does, so pings are answered;
5. at load: `--messages` of the held sockets, picked at random, time one message each, in turn;
6. close: the sockets closed, `--close-concurrency` at a time; once the server holds none of
   them, its RSS is sampled for `--settle` seconds and the last sample is "after";
7. second round: `--reopen` new sockets opened and closed the same way. Memory freed by the
   first round but kept by the allocator is reused and the RSS barely moves; memory leaked per
   socket would grow it again, by about its share of the first round's growth.

The server's RSS, descriptors and connections are read from /proc (same machine). Prints one
JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from bench.loadgen import percentile
from bench.webchat_sockets import BILL, CONNECT_CONCURRENCY, Socket, open_socket

#: Seconds a message may take to be echoed and answered before it counts as lost.
TRIP_TIMEOUT = 30.0
#: Descriptors a process needs besides its sockets.
FD_MARGIN = 200
#: The TCP state LISTEN in /proc/net/tcp.
LISTEN = "0A"


def say(text: str) -> None:
    """Progress, on stderr (stdout carries the JSON)."""
    print(f"  webchat: {text}", file=sys.stderr, flush=True)


def raise_fd_limit() -> int:
    """Raise this process's soft descriptor limit to its hard one (children inherit it); the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = hard
    if hard == resource.RLIM_INFINITY:  # the kernel still caps descriptors at fs.nr_open
        ceiling = int(Path("/proc/sys/fs/nr_open").read_text())
    if soft != resource.RLIM_INFINITY and soft < ceiling:
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
    return ceiling


class Server:
    """The ASGI process under test, read through /proc."""

    def __init__(self, pid: int, port: int) -> None:
        self.pid = pid
        self.port = port

    def _status(self, field: str) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no {field} for process {self.pid}")

    def rss_mb(self) -> float:
        """Resident memory now, MB."""
        return round(self._status("VmRSS"), 1)

    def peak_mb(self) -> float:
        """The highest resident memory the process has had, MB."""
        return round(self._status("VmHWM"), 1)

    def descriptors(self) -> tuple[int, set[str]]:
        """How many descriptors it has open, and the inodes of its sockets among them."""
        count, inodes = 0, set()
        for fd in Path(f"/proc/{self.pid}/fd").iterdir():
            count += 1
            with contextlib.suppress(OSError):  # closed since the listing
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
        return count, inodes

    def tcp(self) -> dict[str, int]:
        """Its TCP connections: `visitors` (accepted on its port) and the others by remote port."""
        _, inodes = self.descriptors()
        kinds: dict[str, int] = {}
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] not in inodes or fields[3] == LISTEN:
                    continue
                local, remote = (int(end.rsplit(":", 1)[1], 16) for end in fields[1:3])
                kind = "visitors" if local == self.port else f"to port {remote}"
                kinds[kind] = kinds.get(kind, 0) + 1
        return kinds

    def snapshot(self) -> dict:
        """RSS, descriptors and TCP connections now."""
        return {"rss_mb": self.rss_mb(), "fds": self.descriptors()[0], "tcp": self.tcp()}


def stats(seconds: list[float]) -> dict:
    """p50 / p99 / max in ms of a list of durations in seconds."""
    ordered = sorted(seconds)
    if not ordered:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "p50_ms": round(percentile(ordered, 0.5) * 1000, 1),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


async def one_message(chat: Socket) -> tuple[float, float] | None:
    """Seconds from sending a message to its echo and to the assistant's reply; None when lost."""
    client_id = uuid.uuid4().hex
    start = time.perf_counter()
    try:
        await chat.send({"type": "message", "text": BILL, "client_id": client_id})
        await chat.until(
            lambda f: f["type"] == "message" and f.get("client_id") == client_id, timeout=TRIP_TIMEOUT
        )
        echo = time.perf_counter() - start
        await chat.until(
            lambda f: f["type"] == "message" and f.get("author") == "assistant",
            timeout=max(0.01, TRIP_TIMEOUT - echo),
        )
    except (aiohttp.ClientError, TimeoutError, RuntimeError, ConnectionError) as exc:
        say(f"message lost after {time.perf_counter() - start:.1f} s: {exc!r}")
        return None
    return echo, time.perf_counter() - start


def trips_summary(trips: list[tuple[float, float] | None], sockets_open: int) -> dict:
    answered = [trip for trip in trips if trip is not None]
    return {
        "sockets_open": sockets_open,
        "messages": len(trips),
        "lost": len(trips) - len(answered),
        "echo": stats([echo for echo, _ in answered]),
        "reply": stats([reply for _, reply in answered]),
    }


async def fresh_visitors(session: aiohttp.ClientSession, base: str, count: int) -> list:
    """`count` new visitors in turn, each opening a socket, timing one message and closing."""
    trips = []
    for _ in range(count):
        chat = await open_socket(session, base)
        try:
            trips.append(await one_message(chat))
        finally:
            await chat.close()
    return trips


async def hold(session: aiohttp.ClientSession, base: str, count: int, deadline: float) -> tuple[list, dict]:
    """Open `count` sockets, CONNECT_CONCURRENCY at a time; the open ones and the connect figures."""
    held: list[Socket] = []
    connects: list[float] = []
    failures: dict[str, int] = {}
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> None:
        async with gate:
            if time.monotonic() > deadline:
                failures["not tried (out of time)"] = failures.get("not tried (out of time)", 0) + 1
                return
            start = time.perf_counter()
            try:
                held.append(await open_socket(session, base))
            except Exception as exc:
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                return
            connects.append(time.perf_counter() - start)
            if len(held) % 500 == 0:
                say(f"{len(held)} sockets open")

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    took = time.perf_counter() - start
    return held, {
        "asked": count,
        "opened": len(held),
        "failed": failures,
        "seconds": round(took, 1),
        "per_s": round(len(held) / took, 1) if took else None,
        "connect": stats(connects),
    }


async def close_all(held: list[Socket], concurrency: int) -> float:
    """Close every socket, `concurrency` at a time (0: all at once); the seconds it took."""
    start = time.monotonic()
    gate = asyncio.Semaphore(concurrency or len(held) or 1)

    async def one(chat: Socket) -> None:
        async with gate:
            with contextlib.suppress(Exception):
                await chat.close()

    await asyncio.gather(*(one(chat) for chat in held))
    return round(time.monotonic() - start, 1)


async def wait_for_release(server: Server, timeout: float) -> float:
    """Seconds until the server holds no visitor's connection any more (or `timeout`)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout and server.tcp().get("visitors", 0):
        await asyncio.sleep(0.5)
    return round(time.monotonic() - start, 1)


async def close_and_settle(server: Server, held: list[Socket], args: argparse.Namespace) -> dict:
    """Close the sockets, wait until the server holds none, then sample its RSS for a while."""
    client_s = await close_all(held, args.close_concurrency)
    released_s = await wait_for_release(server, args.open_timeout)
    samples = []
    for _ in range(max(1, round(args.settle))):
        await asyncio.sleep(1)
        samples.append(server.rss_mb())
    after = {**server.snapshot(), "rss_mb": samples[-1], "rss_min_mb": min(samples)}
    say(f"closed in {client_s} s, released by the server {released_s} s later; after: {after}")
    return {"after": after, "close_s": client_s, "released_s": released_s}


async def measure(args: argparse.Namespace) -> dict:
    """The steps of the module's docstring; the figures."""
    server = Server(args.server_pid, urlsplit(args.base).port or 80)
    steps: dict[str, float] = {}
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        steps[name] = round(time.monotonic() - clock, 1)
        clock = time.monotonic()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        start = server.snapshot()
        await fresh_visitors(session, args.base, 5)
        lap("warm_up_s")
        rest = trips_summary(await fresh_visitors(session, args.base, args.rest_messages), 0)
        say(f"at rest: {rest}")
        await asyncio.sleep(2)
        lap("at_rest_s")
        before = server.snapshot()
        say(f"before: {before}; opening {args.sockets} sockets")
        held, opening = await hold(session, args.base, args.sockets, time.monotonic() + args.open_timeout)
        opened = server.snapshot()
        lap("open_s")
        say(f"{opening['opened']} open in {opening['seconds']} s: {opened}")
        alive = [chat for chat in held if not chat.closed]
        picked = random.sample(alive, min(args.messages, len(alive)))
        trips = [await one_message(chat) for chat in picked]
        held_at_end = sum(not chat.closed for chat in held)
        loaded = trips_summary(trips, held_at_end)
        during = server.snapshot()
        lap("at_load_s")
        say(f"at load: {loaded}; during: {during}")
        closing = await close_and_settle(server, held, args)
        lap("close_s")
        second = None
        if args.reopen:
            again, reopening = await hold(
                session, args.base, args.reopen, time.monotonic() + args.open_timeout
            )
            second = {"opening": reopening, "during": server.snapshot()}
            second.update(await close_and_settle(server, again, args))
            lap("second_round_s")
    return {
        "sockets_asked": args.sockets,
        "sockets_held": held_at_end,
        "opening": opening,
        "at_rest": rest,
        "at_load": loaded,
        "memory": {
            "start": start,
            "before": before,
            "opened": opened,
            "during": during,
            "after": closing.pop("after"),
            "peak_rss_mb": server.peak_mb(),
        },
        "closing": {
            **closing,
            "concurrency": args.close_concurrency or "all at once",
            "settle_s": args.settle,
        },
        "second_round": second,
        "steps": steps,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the ASGI server, http://127.0.0.1:PORT")
    parser.add_argument("--server-pid", type=int, required=True, help="its process id, for RSS")
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=100, help="round trips with the sockets open")
    parser.add_argument("--rest-messages", type=int, default=30, help="round trips before")
    parser.add_argument(
        "--close-concurrency",
        type=int,
        default=CONNECT_CONCURRENCY,
        help="sockets closing at once, 0 for all (default: as many as open at once)",
    )
    parser.add_argument("--settle", type=float, default=5.0, help="seconds of RSS samples after close")
    parser.add_argument(
        "--reopen", type=int, default=-1, help="sockets of the second round (default a quarter)"
    )
    parser.add_argument("--open-timeout", type=float, default=300.0, help="bound on opening and on closing")
    args = parser.parse_args(argv)
    if args.reopen < 0:
        args.reopen = args.sockets // 4
    limit = raise_fd_limit()
    if limit < args.sockets + FD_MARGIN:
        raise SystemExit(f"file descriptor limit {limit} is too low for {args.sockets} sockets")
    result = asyncio.run(measure(args))
    result["fd_limit"] = limit
    print(json.dumps(result))


if __name__ == "__main__":
    main()

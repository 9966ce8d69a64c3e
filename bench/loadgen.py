"""A small HTTP/1.1 load generator, run in its own process so it never shares a GIL with the server.

Closed loop (`--connections N`: each connection sends its next request when the last is
answered, like wrk) or open loop (`--rate R`: requests start on a fixed schedule, and latency
is counted from the scheduled start, so a server that falls behind is charged for the wait).
Requests come from a file written by `bench.payloads`, one per line: `METHOD PATH SIGNATURE
BODY-BASE64`. Every loop is bounded by `--duration` and by the number of requests in the file.
Prints one JSON object: counts, statuses, achieved rate and latency percentiles in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    """One prepared request: the exact bytes to write."""

    raw: bytes


@dataclass
class Results:
    """What happened, collected by every connection."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    sent: int = 0


def load_requests(path: str, host: str) -> list[Request]:
    """Read the prepared requests and render them as HTTP/1.1 with keep-alive."""
    requests = []
    with open(path) as handle:
        for line in handle:
            method, target, signature, encoded = line.rstrip("\n").split(" ")
            body = base64.b64decode(encoded) if encoded != "-" else b""
            head = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
            if body or method == "POST":
                head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
            if signature != "-":
                head.append(f"X-Hub-Signature-256: {signature}")
            requests.append(Request(("\r\n".join(head) + "\r\n\r\n").encode() + body))
    return requests


class Connection:
    """One keep-alive connection that reconnects when the server closes it (gunicorn's sync workers do)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self, request: Request) -> int:
        """Send one request and read its whole response; returns the status code."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(request.raw)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed before answering")
        status = int(status_line.split()[1])
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        if length:
            await self.reader.readexactly(length)
        if close:
            self.close()
        return status

    def close(self) -> None:
        """Drop the socket; the next exchange opens a new one."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _one(connection: Connection, request: Request, started: float, results: Results) -> None:
    results.sent += 1
    try:
        status = await connection.exchange(request)
    except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
        connection.close()
        results.errors += 1
        return
    results.latencies.append(time.perf_counter() - started)
    results.statuses[status] = results.statuses.get(status, 0) + 1


async def closed_loop(
    requests: list[Request], host: str, port: int, connections: int, duration: float
) -> Results:
    """`connections` clients, each sending as soon as its previous request is answered."""
    results = Results()
    cursor = iter(range(len(requests)))
    deadline = time.perf_counter() + duration

    async def client() -> None:
        connection = Connection(host, port)
        while time.perf_counter() < deadline:
            index = next(cursor, None)
            if index is None:
                break
            await _one(connection, requests[index], time.perf_counter(), results)
        connection.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    return results


async def open_loop(
    requests: list[Request], host: str, port: int, rate: float, duration: float, max_connections: int
) -> Results:
    """Start request i at i/rate seconds, on an idle connection or a new one (at most `max_connections`)."""
    results = Results()
    idle: list[Connection] = []
    busy = 0
    count = min(len(requests), int(rate * duration))
    start = time.perf_counter()
    tasks = []

    async def run(request: Request, scheduled: float) -> None:
        nonlocal busy
        connection = idle.pop() if idle else Connection(host, port)
        busy += 1
        try:
            await _one(connection, request, scheduled, results)
        finally:
            busy -= 1
            idle.append(connection)

    for index in range(count):
        scheduled = start + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        while busy >= max_connections:  # the server is this far behind: wait, and be charged for it
            await asyncio.sleep(0.001)
        tasks.append(asyncio.create_task(run(requests[index], scheduled)))
    _, late = await asyncio.wait(tasks, timeout=max(5.0, duration)) if tasks else (set(), set())
    for task in late:  # still unanswered long after the schedule ended: counted as errors
        task.cancel()
        results.errors += 1
    for connection in idle:
        connection.close()
    return results


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The value below which `fraction` of the samples fall (nearest rank)."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def summary(results: Results, elapsed: float) -> dict:
    """The JSON the orchestrator reads."""
    ordered = sorted(results.latencies)
    return {
        "sent": results.sent,
        "answered": len(ordered),
        "errors": results.errors,
        "statuses": {str(k): v for k, v in sorted(results.statuses.items())},
        "elapsed_s": round(elapsed, 3),
        "rate_per_s": round(len(ordered) / elapsed, 1) if elapsed else 0,
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 2),
        "p90_ms": round(percentile(ordered, 0.90) * 1000, 2),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2) if ordered else None,
    }


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run one load, print its summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--requests", required=True, help="file written by bench.payloads")
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=float, default=0, help="open loop at this many requests/s")
    parser.add_argument("--max-connections", type=int, default=256)
    args = parser.parse_args(argv)
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        sys.exit("refusing to load anything but a loopback address")
    requests = load_requests(args.requests, f"{args.host}:{args.port}")
    started = time.perf_counter()
    if args.rate:
        coroutine = open_loop(requests, args.host, args.port, args.rate, args.duration, args.max_connections)
    else:
        coroutine = closed_loop(requests, args.host, args.port, args.connections, args.duration)
    results = asyncio.run(coroutine)
    print(json.dumps(summary(results, time.perf_counter() - started)))


if __name__ == "__main__":
    main()

"""The production stack on loopback for the benchmark: servers, RQ workers, sweeper and the stand-ins.

PostgreSQL and Redis are the machine's own (database `gk_bench`, Redis database 5 by
default); the Graph API and the model are loopback stand-ins living in this process.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ai.testing import OpenAIStandIn, ScriptedResponse

ROOT = Path(__file__).resolve().parents[1]
PHONE_NUMBER_ID = "106540352242922"
APP_SECRET = "bench-app-secret"
GRAPH_TOKEN = "bench-graph-token"
QUEUE = "bench"
#: The minimal ingest's table (bench/views.py), created in the benchmark database only.
CREATE_TABLE = "CREATE TABLE IF NOT EXISTS bench_minimal (id text PRIMARY KEY, body jsonb NOT NULL)"
#: What the instant model answers: confident, in a delegated category, so every reply is sent.
SENDABLE = {
    "reply": "Thanks, noted.",
    "category": "cellphone_provider",
    "confidence": 0.95,
    "reason": "A bill notice; nothing to decide.",
}


#: The ports the benchmark's servers may listen on (this machine's convention for the bench).
PORTS = range(18000, 19000)


def free_port(ports: range = PORTS) -> int:
    """A loopback port in `ports` that nobody listens on now (tried from a random start)."""
    start = random.randrange(len(ports))
    for offset in range(len(ports)):
        port = ports[(start + offset) % len(ports)]
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port in {ports.start}-{ports.stop - 1}")


class InstantModel(OpenAIStandIn):
    """The OpenAI stand-in answering every completion at once with a sendable reply, unless scripted."""

    def _record(self, request, *, scripted: bool = True) -> ScriptedResponse:
        """Keep the request; the scripted answer if one is queued, else the sendable one."""
        with self._lock:
            self._requests.append(request)
            if scripted and self._queue:
                return self._queue.popleft()
        return ScriptedResponse(content=json.dumps(SENDABLE))


#: Server recipes compared: name -> command line (PORT filled in).
SERVERS = {
    "gunicorn sync, 2 workers": [
        "-m",
        "gunicorn",
        "--workers",
        "2",
        "--bind",
        "127.0.0.1:{port}",
        "--timeout",
        "60",
        "gatekeeper_site.wsgi:application",
    ],
    "gunicorn gthread, 2 workers x 4 threads": [
        "-m",
        "gunicorn",
        "--workers",
        "2",
        "--threads",
        "4",
        "--bind",
        "127.0.0.1:{port}",
        "--timeout",
        "60",
        "gatekeeper_site.wsgi:application",
    ],
    "uvicorn, 2 workers": [
        "-m",
        "uvicorn",
        "--workers",
        "2",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--no-access-log",
        "gatekeeper_site.asgi:application",
    ],
    "daphne, 1 process": [
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        "{port}",
        "gatekeeper_site.asgi:application",
    ],
}


class BenchStack:
    """Starts and stops the processes; every one is killed at `close()`."""

    def __init__(self, *, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.processes: dict[str, subprocess.Popen] = {}

    def spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        """Start `python <args>` in its own process group, output to logs/<name>.log."""
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(  # noqa: S603
                [sys.executable, *args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def start_server(self, recipe: str) -> int:
        """Start one server recipe on a free port; returns the port once /healthz answers."""
        port = free_port()
        self.spawn("web", [part.format(port=port) for part in SERVERS[recipe]])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    return port
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"{recipe} did not answer on {port}; see {self.logs / 'web.log'}")

    def start_worker(self, name: str, *, worker_class: str = "rq.worker.SimpleWorker", queue: str = QUEUE):
        """A production RQ worker (with its scheduler)."""
        return self.spawn(
            name, ["manage.py", "rqworker", "--with-scheduler", "--worker-class", worker_class, queue]
        )

    def stop(self, name: str, *, sig: int = signal.SIGTERM) -> None:
        """Stop one process (and its children) and wait for it."""
        process = self.processes.pop(name, None)
        if process is None:
            return
        if process.poll() is None:
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def close(self) -> None:
        """Stop everything still running."""
        for name in list(self.processes):
            self.stop(name)

"""The production stack as separate processes on loopback, for fault-injection tests to break.

A `Stack` owns one fresh database (cloned from a migrated template), a Redis server, a
Graph API stand-in, a scripted engine whose script the test may rewrite while the workers
run, and the processes it starts: the web server (gunicorn, as the Procfile runs it), RQ
workers and the sweeper. Tests read what is stored with plain SQL, never through Django's
connection, so they see exactly what the processes committed.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from channels_app.testing.graph_api import GraphAPIStandIn
from channels_app.whatsapp.signature import sign
from channels_app.whatsapp_payloads import encode, text_message_payload
from conversations.tests.faults.services import ThrowawayPostgres, ThrowawayRedis, free_port

ROOT = Path(__file__).resolve().parents[3]
PHONE_NUMBER_ID = "106540352242922"
APP_SECRET = "faults-app-secret"
GRAPH_TOKEN = "faults-graph-token"
QUEUE = "faults"
#: What the scripted engine answers unless a test says otherwise: a confident, sendable reply.
SENDABLE = {"reply": "Thanks, noted.", "category": "cellphone_provider", "confidence": 0.95}

_numbers = itertools.count(1)


def wait_for(predicate, *, timeout: float, what: str, every: float = 0.1):
    """Poll until `predicate()` is truthy and return it; a deadlock guard, never a speed check."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def base_env(*, database_url: str, redis_url: str, graph_url: str, workdir: Path) -> dict[str, str]:
    """The environment of every process: production settings pointed at the throwaway services."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTEST"))}
    env.update(
        DJANGO_SETTINGS_MODULE="gatekeeper_site.settings",
        SECRET_KEY="faults-secret-key",
        DEBUG="false",
        DATABASE_URL=database_url,
        DATABASE_POOL_SIZE="4",
        REDIS_URL=redis_url,
        GATEKEEPER_QUEUE=QUEUE,
        GATEKEEPER_VAR_DIR=str(workdir),
        WHATSAPP_APP_SECRET=APP_SECRET,
        WHATSAPP_VERIFY_TOKEN="faults-verify-token",
        WHATSAPP_API_TOKEN=GRAPH_TOKEN,
        WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        WHATSAPP_GRAPH_API_URL=graph_url,
        OUTBOUND_HTTP_TIMEOUT="2",
        AI_ENGINE="scripted",
        AI_SCRIPT_PATH=str(workdir / "script.json"),
        REPLY_BURST_SECONDS="0",
        STALLED_WORK_SECONDS="2",
        EMAIL_URL=f"filemail:///{workdir / 'mail'}",
        GATEKEEPER_PASSWORD="faults-password",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a management command to completion; raises with its output when it fails."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


def prepare_template(postgres: ThrowawayPostgres, workdir: Path) -> str:
    """Migrate a template database once and set the owner up, with the phone company's rule on `auto`."""
    name = "gk_faults_template"
    postgres.execute(f"CREATE DATABASE {name}")
    env = base_env(
        database_url=postgres.dsn(name),
        redis_url="redis://127.0.0.1:1/0",
        graph_url="http://127.0.0.1:1",
        workdir=workdir,
    )
    manage("migrate", "--noinput", env=env)
    manage("gatekeeper_setup", "--username", "owner", "--password", "faults-password", env=env)
    with psycopg.connect(postgres.dsn(name), autocommit=True) as conn:
        # Delegated, and a keyword (the owner's own data) says what these companies write about.
        conn.execute(
            "UPDATE conversations_rule SET action = 'auto', match_keywords = '[\"bill\"]' "
            "WHERE category = 'cellphone_provider'"
        )
    return name


class Stack:
    """One test's production stack; every process it starts is stopped at `close()`."""

    def __init__(
        self, *, postgres: ThrowawayPostgres, redis: ThrowawayRedis, template: str, workdir: Path
    ) -> None:
        self.postgres = postgres
        self.redis = redis
        self.workdir = workdir
        self.database = f"gk_faults_{os.getpid()}_{next(_numbers)}"
        postgres.execute(f"CREATE DATABASE {self.database} TEMPLATE {template}")
        redis.flush()
        self.graph = GraphAPIStandIn(token=GRAPH_TOKEN).start()
        self.env = base_env(
            database_url=postgres.dsn(self.database),
            redis_url=redis.url,
            graph_url=self.graph.url,
            workdir=workdir,
        )
        self.processes: dict[str, subprocess.Popen] = {}
        self.web_url = ""
        self._http = httpx.Client(timeout=60)
        self.script(SENDABLE)

    # -- the engine ----------------------------------------------------------------------------

    def script(self, *entries: dict[str, Any]) -> None:
        """Replace what the scripted engine answers; running workers read it on their next call."""
        path = Path(self.env["AI_SCRIPT_PATH"])
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(list(entries)))
        temporary.replace(path)

    def use_openai(self, base_url: str, *, timeout: float) -> None:
        """Speak to an OpenAI-compatible server instead (processes started afterwards)."""
        self.env.update(
            AI_ENGINE="openai",
            OPENAI_BASE_URL=base_url,
            OPENAI_API_KEY="faults-key",
            OPENAI_TIMEOUT=str(timeout),
        )

    # -- processes -----------------------------------------------------------------------------

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env or self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so kill() reaches its children too
        )
        log.close()
        self.processes[name] = process
        return process

    def start_web(self, *, workers: int = 2) -> str:
        """gunicorn (threaded workers, as the Procfile runs it) on a free port; waits until it answers."""
        port = free_port()
        self.web_url = f"http://127.0.0.1:{port}"
        self._spawn(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--threads",
                "4",
                "--timeout",
                "60",
                "gatekeeper_site.wsgi:application",
            ],
        )
        wait_for(self._web_answers, timeout=60, what="the web server to answer")
        return self.web_url

    def _web_answers(self) -> bool:
        self.alive("web")
        try:
            return self._http.get(f"{self.web_url}/healthz", timeout=5).status_code in (200, 503)
        except httpx.HTTPError:
            return False

    def start_worker(self, name: str = "worker") -> subprocess.Popen:
        """A real `rqworker --with-scheduler` (SimpleWorker, as the Procfile runs it)."""
        return self._spawn(
            name,
            [
                sys.executable,
                "manage.py",
                "rqworker",
                "--with-scheduler",
                "--worker-class",
                "rq.worker.SimpleWorker",
                QUEUE,
            ],
        )

    def start_sweeper(self, every: float = 1) -> subprocess.Popen:
        """`sweep_stalled --every N`: re-schedules work whose job vanished."""
        return self._spawn("sweeper", [sys.executable, "manage.py", "sweep_stalled", "--every", str(every)])

    def kill(self, name: str) -> None:
        """SIGKILL a process and its children (`kill -9`): no cleanup runs."""
        process = self.processes.pop(name)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def alive(self, name: str) -> None:
        """Fail with the process's log when it exited on its own."""
        process = self.processes[name]
        if process.poll() is not None:
            raise AssertionError(f"{name} exited with {process.returncode}:\n{self.log(name)[-4000:]}")

    def log(self, name: str) -> str:
        """Everything a process printed so far."""
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- the provider's side -------------------------------------------------------------------

    def message(
        self, text: str = "Your bill is ready", *, sender: str = "15550001111", message_id: str = ""
    ) -> bytes:
        """A Meta webhook body carrying one text message."""
        payload = text_message_payload(
            phone_number_id=PHONE_NUMBER_ID,
            sender=sender,
            name="Acme Mobile",
            text=text,
            message_id=message_id or None,
        )
        return encode(payload)

    def post(self, body: bytes, *, timeout: float = 60) -> httpx.Response:
        """Deliver a body signed as Meta signs it."""
        return self._http.post(
            f"{self.web_url}/webhook/whatsapp",
            content=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, APP_SECRET)},
            timeout=timeout,
        )

    # -- what is stored ------------------------------------------------------------------------

    def rows(self, sql: str, *params: object) -> list[tuple]:
        """Run a query against this stack's database, on a connection of its own."""
        with psycopg.connect(self.postgres.dsn(self.database), connect_timeout=5) as conn:
            return conn.execute(sql, params).fetchall()

    def value(self, sql: str, *params: object) -> Any:
        """The single value a query returns."""
        return self.rows(sql, *params)[0][0]

    def mails(self) -> list[str]:
        """The escalation emails written so far (the file email backend).

        The backend creates its file before writing the message into it: an empty file is a
        message still being written, not one to read yet.
        """
        folder = self.workdir / "mail"
        texts = (
            [path.read_text(errors="replace") for path in sorted(folder.glob("*"))] if folder.exists() else []
        )
        return [text for text in texts if text.strip()]

    # -- teardown ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL), the stand-in, and drop the database."""
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.processes.clear()
        self._http.close()
        self.graph.stop()
        if self.postgres.accepting():
            self.postgres.execute(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")

"""Throwaway PostgreSQL and Redis servers on free loopback ports, so a test may stop, kill and restart them.

The shared servers on 5432/6379 are never touched. PostgreSQL refuses to run as root, so
when the suite runs as root (CI does) `initdb` and `pg_ctl` run as the `postgres` system
user through `runuser`, in a temporary directory that user owns.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries on this machine (Debian keeps them off PATH)."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


def missing_binaries() -> str:
    """Why the throwaway servers cannot start here, or "" when they can."""
    if postgres_bin_dir() is None:
        return "PostgreSQL server binaries (pg_ctl, initdb) not found"
    if shutil.which("redis-server") is None:
        return "redis-server not found"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: initdb cannot run"
    return ""


def _wait_until(predicate, *, timeout: float, what: str) -> None:
    """Poll `predicate` until true; a deadlock guard, never a speed assertion."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


class ThrowawayPostgres:
    """A private PostgreSQL cluster (fsync off: it is thrown away) that tests may stop and kill."""

    def __init__(self) -> None:
        self.bin = postgres_bin_dir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="gk-faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.as_root = os.geteuid() == 0

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        return subprocess.run(
            [*prefix, *command], capture_output=True, text=True, timeout=120, check=check, cwd=self.root
        )

    def setup(self) -> ThrowawayPostgres:
        """Create the cluster (trust auth on loopback only) and start it."""
        if self.as_root:
            shutil.chown(self.root, user="postgres", group="postgres")
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        settings = (
            "listen_addresses = '127.0.0.1'\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = '{self.root}'\n"
            # fsync off survives a server crash (the OS keeps the pages); synchronous_commit stays on,
            # or an immediate stop would lose commits the clients were told about.
            "fsync = off\nfull_page_writes = off\n"
            "max_connections = 200\n"
        )
        conf = self.data / "postgresql.conf"
        self._run("sh", "-c", f"cat >> {conf} <<'EOF'\n{settings}EOF")
        self.start()
        return self

    def start(self) -> None:
        """Start (or restart after `stop`/`kill`) and wait until it accepts connections."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "start")
        _wait_until(self.accepting, timeout=30, what="PostgreSQL to accept connections")

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, like a crash seen from the clients."""
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False
        )

    def accepting(self) -> bool:
        """Whether a connection can be opened now."""
        try:
            with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                return True
        except psycopg.Error:
            return False

    def dsn(self, database: str) -> str:
        """A libpq URL for one database of this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        with psycopg.connect(self.dsn(database), autocommit=True) as conn:
            conn.execute(sql)

    def teardown(self) -> None:
        """Stop the cluster and delete its files."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class ThrowawayRedis:
    """A private redis-server without persistence: a restart loses every queued job, as in a crash."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="gk-faults-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The REDIS_URL of database 0 of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> ThrowawayRedis:
        """Start on the same port as before; wait until it answers PING."""
        log = open(self.root / "redis.log", "a")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        _wait_until(self.answering, timeout=20, what="Redis to answer PING")
        return self

    def answering(self) -> bool:
        """Whether PING gets PONG now."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def flush(self) -> None:
        """Forget every key, between tests."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(16)

    def kill(self) -> None:
        """SIGKILL: queued and scheduled jobs are gone, as after a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def teardown(self) -> None:
        """Kill the server and delete its files."""
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

"""Real processes for end-to-end tests: `manage.py serve` as `make run` starts it, and any other child.

`serve()` is the product as a newcomer runs it (SQLite in a folder of the test's, jobs in process),
migrated, with an owner set up and an API client holding the owner's token. The other helpers are
the parts it is made of, for tests that start something else (daphne, a worker).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

#: Debian's Chromium, driven by playwright (never `playwright install`), with the flags a
#: headless run in a container needs.
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: Settings a child process must be given by the test, never inherit from the test run.
_NOT_INHERITED = {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "GATEKEEPER_TEST_JOBS_BACKEND"}


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], T], *, timeout: float = 20.0, what: str = "condition") -> T:
    """Poll `predicate` until it returns something truthy, and return that; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without the settings a test must choose itself, plus `overrides`."""
    env = {key: value for key, value in os.environ.items() if key not in _NOT_INHERITED}
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run `manage.py` with `args` to completion, capturing its output."""
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@contextlib.contextmanager
def process(command: list[str], *, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A child process that is always stopped (SIGTERM, then SIGKILL) and whose output goes to `log`."""
    with open(log, "w") as output:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield child
        finally:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=10)


@dataclass(frozen=True)
class Served:
    """A running `manage.py serve`: its base URL, the owner's API client, its environment and log."""

    base: str
    api: httpx.Client
    env: dict[str, str]
    log: Path


@contextlib.contextmanager
def serve(folder: Path, *, port: int | None = None, **settings: str) -> Iterator[Served]:
    """`manage.py serve` on `port` (a free one by default) with its data in `folder`, until the block ends.

    `settings` are environment variables on top of the embedded defaults (at least SECRET_KEY and
    GATEKEEPER_PASSWORD). The database is migrated and `gatekeeper_setup` creates the owner first.
    """
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    defaults = {
        "DJANGO_SETTINGS_MODULE": "gatekeeper_site.settings",
        "GATEKEEPER_VAR_DIR": str(folder),
        "REPLY_BURST_SECONDS": "0.2",
        "PORT": str(port),
        "PUBLIC_BASE_URL": base,
    }
    env = clean_env(**(defaults | settings))
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    setup = manage("gatekeeper_setup", env=env)
    assert setup.returncode == 0, setup.stderr
    token = setup.stdout.strip().splitlines()[-1].removeprefix("token: ")
    log = folder / "serve.log"
    with (
        process([sys.executable, "manage.py", "serve"], env=env, log=log),
        httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"}, timeout=10) as api,
    ):
        wait_for(lambda: _healthy(api), timeout=30, what="the server to answer /healthz")
        yield Served(base=base, api=api, env=env, log=log)


def _healthy(api: httpx.Client) -> bool:
    try:
        return api.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False

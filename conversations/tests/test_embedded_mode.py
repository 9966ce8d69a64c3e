"""The newcomer's path in the embedded default: SQLite, jobs in process, the rules engine.

`manage.py serve` (what `make run` runs) in its own process, `simulate_inbound` in another,
the API to approve, and a loopback Graph API to see what would reach WhatsApp.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from channels_app.testing.graph_api import GraphAPIStandIn

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def wait_for(predicate, *, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def embedded_server(tmp_path):
    with GraphAPIStandIn(token="embedded-token") as graph:
        port = free_port()
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
        }
        env.update(
            DJANGO_SETTINGS_MODULE="gatekeeper_site.settings",
            GATEKEEPER_VAR_DIR=str(tmp_path),
            SECRET_KEY="embedded-mode-test-secret",
            WHATSAPP_APP_SECRET="embedded-app-secret",
            WHATSAPP_API_TOKEN="embedded-token",
            WHATSAPP_GRAPH_API_URL=graph.url,
            GATEKEEPER_PASSWORD="embedded-password",
            REPLY_BURST_SECONDS="0.2",
            PORT=str(port),
            PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        )
        assert manage("migrate", "--noinput", env=env).returncode == 0
        setup = manage("gatekeeper_setup", env=env)
        assert setup.returncode == 0, setup.stderr
        token = setup.stdout.strip().splitlines()[-1].removeprefix("token: ")
        log = open(tmp_path / "serve.log", "w")  # noqa: SIM115
        server = subprocess.Popen(
            [sys.executable, "manage.py", "serve"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Token {token}"}, timeout=10
        )
        try:
            wait_for(lambda: _healthy(api), what="the server to answer /healthz")
            yield api, graph, env
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=20)
            log.close()
            api.close()


def _healthy(api: httpx.Client) -> bool:
    try:
        return api.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def test_a_newcomer_sees_a_draft_approves_it_and_then_delegates(embedded_server):
    api, graph, env = embedded_server
    assert api.get("/healthz").json() == {"database": "ok", "queue": "in-process"}

    simulated = manage("simulate_inbound", "Your bill is ready", env=env)
    assert simulated.returncode == 0, simulated.stderr
    drafts = wait_for(
        lambda: api.get("/api/drafts/", params={"status": "pending"}).json()["results"],
        what="a pending draft",
    )
    assert drafts[0]["category"] == "cellphone_provider"
    assert graph.sent_texts() == [], "nothing goes out before the owner approves"

    assert api.post(f"/api/drafts/{drafts[0]['id']}/approve").status_code == 200
    (sent,) = graph.wait_for_sent_texts(1)
    assert sent.text == drafts[0]["text"]

    rules = api.get("/user-settings/rules/").json()
    rules = rules["results"] if isinstance(rules, dict) else rules
    rule = next(r for r in rules if r["category"] == "cellphone_provider")
    assert api.patch(f"/user-settings/rules/{rule['id']}/", json={"action": "auto"}).status_code == 200
    assert manage("simulate_inbound", "Your new bill is ready", env=env).returncode == 0
    graph.wait_for_sent_texts(2)

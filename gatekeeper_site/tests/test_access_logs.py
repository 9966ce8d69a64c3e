"""The servers' access logs never hold a credential: real gunicorn and daphne, started as the Procfile says.

Meta's webhook verification puts our verify token in the query, and older web-chat clients send
`?visitor_token=`. Both requests are logged, with the values written as `***`; the chat page's
transports (the `X-Visitor-Token` header, the token subprotocol) never put the token in a URL.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from pathlib import Path

import aiohttp
import httpx
import pytest

from channels_app.webchat.visitors import SUBPROTOCOL, token_subprotocol
from conversations.tests.servers import ROOT, clean_env, free_port, manage, process, serve, wait_for

pytestmark = pytest.mark.slow

SLUG = "chat"
CHALLENGE = "1158201444"


def procfile_command(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.partition(":")[2].strip()
    raise AssertionError(f"no {name!r} process in the Procfile")


def production_like(folder: Path, verify_token: str, **ports: str) -> dict[str, str]:
    """A migrated install in `folder`, with an owner and the chat page `chat`; its environment."""
    env = clean_env(
        DJANGO_SETTINGS_MODULE="gatekeeper_site.settings",
        PATH=f"{Path(sys.executable).parent}:{clean_env()['PATH']}",  # the virtualenv's gunicorn and python
        GATEKEEPER_VAR_DIR=str(folder),
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        GATEKEEPER_PASSWORD=secrets.token_urlsafe(12),
        WHATSAPP_VERIFY_TOKEN=verify_token,
        WHATSAPP_APP_SECRET=secrets.token_hex(16),
        WHATSAPP_API_TOKEN=secrets.token_urlsafe(24),
        TWILIO_ACCOUNT_SID="AC" + secrets.token_hex(16),
        TWILIO_AUTH_TOKEN=secrets.token_hex(16),
        WEB_CONCURRENCY="1",
        XDG_RUNTIME_DIR=str(folder),  # gunicorn's control socket, here rather than in ~/.gunicorn
        **ports,
    )
    for command in (["migrate", "--noinput"], ["gatekeeper_setup"]):
        done = manage(*command, env=env)
        assert done.returncode == 0, done.stderr
    return env


def exercise_http(base: str, verify_token: str) -> str:
    """Every way a credential can reach /webhook/whatsapp and /webchat over HTTP; the visitor token."""
    with httpx.Client(base_url=base, timeout=10) as http:
        verified = http.get(
            "/webhook/whatsapp",
            params={"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": CHALLENGE},
        )
        assert (verified.status_code, verified.text) == (200, CHALLENGE)
        posted = http.post("/webchat", json={"account": SLUG, "text": "hello from the log test"})
        assert posted.status_code == 202, posted.text
        token = posted.json()["visitor_token"]
        old_form = http.get("/webchat", params={"account": SLUG, "visitor_token": token})
        header_form = http.get("/webchat", params={"account": SLUG}, headers={"X-Visitor-Token": token})
        again = http.post(
            "/webchat", json={"account": SLUG, "text": "again"}, headers={"X-Visitor-Token": token}
        )
    for response in (old_form, header_form):
        assert response.status_code == 200
        assert [m["text"] for m in response.json()["messages"]] == ["hello from the log test"]
    assert again.json()["conversation"] == posted.json()["conversation"]
    return token


def assert_logged_without_secrets(log: Path, *values: str) -> str:
    text = log.read_text()
    for value in values:
        assert value not in text, f"a credential is in the access log:\n{text}"
    assert "hub.verify_token=***" in text and "visitor_token=***" in text, text
    assert f"hub.challenge={CHALLENGE}" in text, "other parameters are logged as they were"
    return text


def test_gunicorns_access_log_redacts_the_verify_token_and_visitor_tokens(tmp_path):
    verify_token = secrets.token_urlsafe(16)
    port = str(free_port())
    env = production_like(tmp_path, verify_token, PORT=port)
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "web.log"

    with process(["bash", "-c", f"exec {procfile_command('web')}"], env=env, log=log):
        wait_for(lambda: _answers(f"{base}/healthz"), timeout=30, what="gunicorn to answer")
        token = exercise_http(base, verify_token)

    text = assert_logged_without_secrets(log, verify_token, token)
    assert '"GET /webchat?account=chat&visitor_token=*** HTTP/1.1" 200' in text
    assert '"GET /webchat?account=chat HTTP/1.1" 200' in text, "the header form leaves nothing to redact"


def test_daphnes_access_log_redacts_tokens_of_http_and_of_sockets(tmp_path):
    verify_token = secrets.token_urlsafe(16)
    port = str(free_port())
    env = production_like(tmp_path, verify_token, WS_PORT=port, PORT=port)
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "ws.log"

    async def sockets(token: str) -> list[tuple[str | None, list[str]]]:
        seen = []
        async with aiohttp.ClientSession() as session:
            for url, protocols in (
                (f"ws://127.0.0.1:{port}/ws/chat/{SLUG}/?visitor_token={token}", ()),
                (f"ws://127.0.0.1:{port}/ws/chat/{SLUG}/", (SUBPROTOCOL, token_subprotocol(token))),
            ):
                async with session.ws_connect(url, origin=base, protocols=protocols) as socket:
                    history = json.loads((await socket.receive(timeout=10)).data)
                    seen.append((socket.protocol, [m["text"] for m in history["messages"]]))
        return seen

    with process(["bash", "-c", f"exec {procfile_command('ws')}"], env=env, log=log):
        wait_for(lambda: _answers(f"{base}/healthz"), timeout=30, what="daphne to answer")
        token = exercise_http(base, verify_token)
        seen = asyncio.run(sockets(token))

    conversation = ["hello from the log test", "again"]
    assert seen == [(None, conversation), (SUBPROTOCOL, conversation)], "both socket forms resume the visitor"
    text = assert_logged_without_secrets(log, verify_token, token, token_subprotocol(token))
    assert f'"WSCONNECT /ws/chat/{SLUG}/"' in text
    assert '"GET /webchat?account=chat&visitor_token=***" 200' in text


def test_make_runs_server_logs_no_credential_either(tmp_path):
    verify_token = secrets.token_urlsafe(16)

    with serve(
        tmp_path,
        SECRET_KEY=secrets.token_urlsafe(50),
        GATEKEEPER_PASSWORD=secrets.token_urlsafe(12),
        WHATSAPP_VERIFY_TOKEN=verify_token,
    ) as served:
        token = exercise_http(served.base, verify_token)

    assert_logged_without_secrets(served.log, verify_token, token)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False

"""Production shape: real daphne, the Redis channel layer, and a separate RQ worker process that drafts
and sends the reply. The worker rings the doorbell through Redis; daphne's consumer hears it."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid

import aiohttp
import pytest
from django.conf import settings as django_settings
from django.db import connection

from channels_app.webchat.tests.conftest import SLUG
from channels_app.webchat.tests.servers import answers
from conversations.tests.servers import ROOT, clean_env, free_port, process, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="needs PostgreSQL (DATABASE_URL): the server and the worker share the test database",
    ),
]

BILL = "My mobile data plan and the roaming charges on my phone"


@pytest.fixture
def services_env(redis_url: str) -> dict[str, str]:
    """What daphne and the worker share: the test database, Redis, a queue and a layer prefix of their own."""
    db = connection.settings_dict
    unique = uuid.uuid4().hex[:10]
    return clean_env(
        DJANGO_SETTINGS_MODULE="gatekeeper_site.test_settings",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        REDIS_URL=redis_url,
        GATEKEEPER_QUEUE=f"webchat-test-{unique}",
        GATEKEEPER_TEST_JOBS_BACKEND="conversations.jobs.RQBackend",
        CHANNEL_LAYER_PREFIX=f"webchat-test-{unique}",
        CACHE_KEY_PREFIX=f"webchat-test-{unique}",
    )


@pytest.mark.django_db(transaction=True)
def test_a_reply_from_a_separate_rq_worker_reaches_the_socket_on_real_daphne(
    chat_account, delegate, services_env, tmp_path
):
    delegate("cellphone_provider")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    daphne = [
        sys.executable,
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "gatekeeper_site.asgi:application",
    ]
    worker = [
        sys.executable,
        "manage.py",
        "rqworker",
        "--burst",
        "--worker-class",
        "rq.worker.SimpleWorker",
        services_env["GATEKEEPER_QUEUE"],
    ]

    async def visit() -> list[dict]:
        frames = []
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"ws://127.0.0.1:{port}/ws/chat/{SLUG}/", origin=base) as socket,
        ):
            frames.append(await socket.receive_json(timeout=10))
            await socket.send_json({"type": "message", "text": BILL, "client_id": "real-1"})
            frames.append(await socket.receive_json(timeout=10))
            # Only now does a worker exist: the reply can only come from that other process.
            run = await asyncio.create_subprocess_exec(*worker, cwd=ROOT, env=services_env)
            try:
                while not (frames[-1]["type"] == "message" and frames[-1]["author"] == "assistant"):
                    frames.append(await socket.receive_json(timeout=60))
            finally:
                await asyncio.wait_for(run.wait(), timeout=60)
        return frames

    with process(daphne, env=services_env, log=tmp_path / "daphne.log"):
        wait_for(lambda: answers(f"{base}/chat/{SLUG}/"), timeout=30, what="daphne to serve the chat page")
        frames = asyncio.run(visit())

    history, echo, *live = frames
    assert history["type"] == "history" and history["messages"] == []
    assert (echo["type"], echo["author"], echo["client_id"]) == ("message", "visitor", "real-1")
    assert [frame["type"] for frame in live] == ["typing", "message"], json.dumps(frames, indent=1)
    assert "mobile service" in live[-1]["text"]

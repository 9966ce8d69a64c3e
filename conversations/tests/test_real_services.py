"""Invariants that need real processes, connections and concurrency: PostgreSQL, Redis, an RQ worker."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from channels_app.whatsapp.tests import helpers as meta
from channels_app.whatsapp_payloads import encode, text_message_payload
from conftest import PHONE_NUMBER_ID
from conversations import jobs
from conversations.models import Direction, Draft, Message, Rule, RuleAction

ROOT = Path(__file__).resolve().parents[2]
on_postgres = pytest.mark.skipif(
    not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="needs PostgreSQL (DATABASE_URL): other processes share the test database",
)


def bill(message_id: str | None = None) -> bytes:
    """The webhook body of Acme Mobile writing "Your bill is ready"."""
    return encode(
        text_message_payload(
            phone_number_id=PHONE_NUMBER_ID,
            sender="15550001111",
            name="Acme Mobile",
            text="Your bill is ready",
            message_id=message_id,
        )
    )


def signed_post(client: Client, body: bytes):
    return meta.post_signed(client, body)


@pytest.mark.django_db(transaction=True)
def test_five_concurrent_deliveries_of_one_message_store_one_message_and_one_draft(
    owner, graph_api, run_jobs
):
    body = bill(message_id="wamid.CONCURRENT")
    barrier = threading.Barrier(5)
    statuses = []

    def deliver_once():
        barrier.wait()
        try:
            statuses.append(signed_post(Client(), body).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver_once) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run_jobs()

    assert statuses == [200] * 5
    assert Message.objects.filter(provider_message_id="wamid.CONCURRENT").count() == 1
    assert Draft.objects.count() == 1


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_the_webhook_answers_503_when_the_database_is_down(owner, client):
    body = encode(text_message_payload(phone_number_id=PHONE_NUMBER_ID, sender="1555", text="hi"))
    real = copy.deepcopy(connection.settings_dict)

    def reconnect(**changes):
        connection.close()
        if hasattr(connection, "close_pool"):
            connection.close_pool()
        connection.settings_dict.update(copy.deepcopy(real), **changes)

    down = {"PORT": "1"}  # nothing listens there: the database is "down"
    if isinstance(real.get("OPTIONS", {}).get("pool"), dict):
        down["OPTIONS"] = {**real["OPTIONS"], "pool": {**real["OPTIONS"]["pool"], "timeout": 1}}
    reconnect(**down)
    try:
        response = signed_post(client, body)
    finally:
        reconnect()

    assert response.status_code == 503
    assert not Message.objects.exists(), "nothing half-written"
    assert signed_post(client, body).status_code == 200, "the provider's retry is processed once it is back"
    assert Message.objects.count() == 1


@on_postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_rq_worker_drafts_and_sends_the_reply(owner, graph_api, settings, client, redis_url):
    """webhook -> Redis -> a separate `rqworker` process -> the Graph API stand-in receives the reply."""
    Rule.objects.filter(owner=owner, category="cellphone_provider").update(
        action=RuleAction.AUTO, match_senders=["+15550001111"]
    )
    queue = f"test-{uuid.uuid4().hex[:8]}"
    settings.RQ_QUEUES = {queue: {"URL": redis_url, "DEFAULT_TIMEOUT": 60}}
    settings.GATEKEEPER_JOBS = {"BACKEND": "conversations.jobs.RQBackend", "OPTIONS": {"queue": queue}}
    settings.REPLY_BURST_SECONDS = 0

    body = bill()
    assert signed_post(client, body).status_code == 200
    assert jobs.recorded == [], "the job went to Redis, not to the test's record"

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gatekeeper_site.test_settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": redis_url,
        "GATEKEEPER_QUEUE": queue,
        "GATEKEEPER_TEST_JOBS_BACKEND": "conversations.jobs.RQBackend",
        "REPLY_BURST_SECONDS": "0",
        "WHATSAPP_GRAPH_API_URL": graph_api.url,
    }
    worker = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "rqworker",
            "--burst",
            "--worker-class",
            "rq.worker.SimpleWorker",
            queue,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert worker.returncode == 0, worker.stderr[-2000:]
    (send,) = graph_api.sent_texts()
    assert send.to == "+15550001111"
    reply = Message.objects.get(direction=Direction.OUT)
    assert reply.status == "sent" and reply.provider_message_id == send.message_id

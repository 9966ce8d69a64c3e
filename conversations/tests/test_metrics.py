"""`GET /metrics`: who may scrape it, and figures read from the database and the queue at each scrape."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rq.registry import ScheduledJobRegistry

from conversations.models import (
    Direction,
    Draft,
    DraftStatus,
    Escalation,
    EscalationReason,
    Message,
    MessageStatus,
    User,
)
from conversations.tests.review_support import logged_in, staff_owner

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-0123456789abcdef"
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(autouse=True)
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client: Client | None = None, token: str | None = TOKEN) -> dict[tuple[str, frozenset], float]:
    """Every sample of one scrape by name and labels; fails unless the scrape succeeds."""
    client = client or Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


# --- who may read it ------------------------------------------------------------------------


def test_a_scraper_with_the_token_gets_prometheus_text():
    samples = scrape()

    assert value(samples, "gatekeeper_messages_received_total", channel="whatsapp") == 0
    assert value(samples, "gatekeeper_queue_up", queue="in-process") == 1


def test_an_operator_session_may_scrape(db):
    operator = User.objects.create_superuser("operator", "operator@example.com", "operator-password")

    assert scrape(logged_in(operator), token=None)
    granted = staff_owner("monitor")  # staff with every Gatekeeper permission, view_metrics included
    assert scrape(logged_in(granted), token=None)


def test_without_credentials_the_answer_is_401_with_a_bearer_challenge():
    response = Client().get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer ")
    assert b"gatekeeper_" not in response.content


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}x", "Bearer ", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}"])
def test_a_wrong_token_is_refused(header):
    response = Client().get("/metrics", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401


def test_without_a_configured_token_no_bearer_is_accepted(settings):
    settings.METRICS_TOKEN = ""

    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 401


def test_an_owner_is_refused_because_the_figures_cover_every_owner(owner):
    assert logged_in(owner).get("/metrics").status_code == 403
    without = staff_owner("bob", without=("view_metrics",))
    assert logged_in(without).get("/metrics").status_code == 403
    token, _ = Token.objects.get_or_create(user=owner)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/metrics").status_code == 401


def test_the_token_is_never_logged(caplog):
    with caplog.at_level(logging.DEBUG):
        Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-guess-of-the-token")

    assert TOKEN not in caplog.text
    assert "wrong-guess-of-the-token" not in caplog.text


# --- the figures ----------------------------------------------------------------------------


def test_the_figures_follow_a_delivered_webhook_and_a_decided_draft(
    owner, deliver, run_jobs, graph_api, django_capture_on_commit_callbacks
):
    before = scrape()
    assert value(before, "gatekeeper_messages_received_total", channel="whatsapp") == 0

    assert deliver("Your bill is ready").status_code == 200
    queued = scrape()
    assert value(queued, "gatekeeper_messages_received_total", channel="whatsapp") == 1
    assert value(queued, "gatekeeper_pending_work", kind="draft") == 1
    assert value(queued, "gatekeeper_queue_jobs", queue="in-process", state="queued") == 1

    run_jobs()
    held = scrape()
    assert value(held, "gatekeeper_drafts", decision="held") == 1
    assert value(held, "gatekeeper_draft_latency_seconds_count") == 1
    assert value(held, "gatekeeper_draft_latency_seconds_bucket", le="+Inf") == 1
    assert value(held, "gatekeeper_pending_work", kind="draft") == 0

    draft = Draft.objects.get()
    token, _ = Token.objects.get_or_create(user=owner)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/drafts/{draft.pk}/approve").status_code == 200
    assert value(scrape(), "gatekeeper_outbound_messages", channel="whatsapp", status="queued") == 1
    run_jobs()

    after = scrape()
    assert value(after, "gatekeeper_drafts", decision="held") == 0
    assert value(after, "gatekeeper_drafts", decision="approved") == 1
    assert value(after, "gatekeeper_outbound_messages", channel="whatsapp", status="sent") == 1
    assert value(after, "gatekeeper_outbound_messages", channel="whatsapp", status="queued") == 0
    assert value(after, "gatekeeper_send_latency_seconds_count", channel="whatsapp") == 1
    assert value(after, "gatekeeper_send_latency_seconds_sum", channel="whatsapp") >= 0
    assert value(after, "gatekeeper_queue_jobs", queue="in-process", state="queued") == 0


def test_drafts_are_counted_by_decision_and_by_guard(owner_a, conversation_a):
    turns = iter(range(1000, 2000))

    def draft(**fields):
        return Draft.objects.create(
            conversation=conversation_a, text="Ok.", answers_through=next(turns), **fields
        )

    draft(status=DraftStatus.SENT, guards=[])  # the policy sent it by itself
    draft(status=DraftStatus.PRINTED, decided_by=owner_a)
    draft(status=DraftStatus.REJECTED, decided_by=owner_a, guards=[{"guard": "money"}])
    draft(guards=[{"guard": "identifier", "words": ["1234"]}, {"guard": "identifier"}, {"guard": "money"}])
    # Rows no code writes: the scrape skips what is not a guard's name instead of failing.
    draft(guards={"guard": "money"})
    draft(guards=["money", {"guard": 5}, {"guard": "Not A Name!"}, {"nothing": 1}])

    samples = scrape()

    assert value(samples, "gatekeeper_drafts", decision="automatic") == 1
    assert value(samples, "gatekeeper_drafts", decision="approved") == 1
    assert value(samples, "gatekeeper_drafts", decision="rejected") == 1
    assert value(samples, "gatekeeper_drafts", decision="held") == 3
    assert value(samples, "gatekeeper_draft_guards_total", guard="money") == 2
    assert value(samples, "gatekeeper_draft_guards_total", guard="identifier") == 1, "once per draft"
    assert value(samples, "gatekeeper_draft_guards_total", guard="loop") == 0
    guards = {dict(labels)["guard"] for name, labels in samples if name == "gatekeeper_draft_guards_total"}
    assert all(re.fullmatch(r"[a-z_]+", guard) for guard in guards)


def test_escalations_are_counted_by_reason_with_those_not_yet_notified(conversation_a):
    Escalation.objects.create(conversation=conversation_a, reason=EscalationReason.LOOP)
    Escalation.objects.create(
        conversation=conversation_a, reason=EscalationReason.LOOP, notified_at=timezone.now()
    )
    Escalation.objects.create(conversation=conversation_a, reason=EscalationReason.SEND_FAILED)

    samples = scrape()

    assert value(samples, "gatekeeper_escalations_total", reason="loop") == 2
    assert value(samples, "gatekeeper_escalations_unnotified", reason="loop") == 1
    assert value(samples, "gatekeeper_escalations_unnotified", reason="send_failed") == 1
    assert value(samples, "gatekeeper_escalations_total", reason="rule") == 0


def test_pending_work_reports_how_long_the_oldest_has_waited(conversation_a):
    conversation_a.reply_due_at = timezone.now() - timedelta(minutes=5)
    conversation_a.save(update_fields=["reply_due_at"])
    Message.objects.create(
        conversation=conversation_a,
        account=conversation_a.account,
        direction=Direction.OUT,
        author="owner",
        text="On my way.",
        status=MessageStatus.QUEUED,
        created_at=timezone.now() - timedelta(minutes=2),
    )

    samples = scrape()

    assert value(samples, "gatekeeper_pending_work", kind="draft") == 1
    assert value(samples, "gatekeeper_pending_work", kind="send") == 1
    assert 299 <= value(samples, "gatekeeper_pending_work_oldest_seconds", kind="draft") < 400
    assert 119 <= value(samples, "gatekeeper_pending_work_oldest_seconds", kind="send") < 200


def test_send_latency_is_measured_from_queued_to_accepted(conversation_a):
    now = timezone.now()
    for seconds in (0.2, 3, 45):
        Message.objects.create(
            conversation=conversation_a,
            account=conversation_a.account,
            direction=Direction.OUT,
            author="assistant",
            text="Thanks.",
            status=MessageStatus.SENT,
            created_at=now - timedelta(seconds=seconds),
            accepted_at=now,
        )

    samples = scrape()

    bucket = "gatekeeper_send_latency_seconds_bucket"
    assert value(samples, bucket, channel="whatsapp", le="0.25") == 1
    assert value(samples, bucket, channel="whatsapp", le="5.0") == 2
    assert value(samples, bucket, channel="whatsapp", le="60.0") == 3
    assert value(samples, "gatekeeper_send_latency_seconds_sum", channel="whatsapp") == pytest.approx(48.2)


@pytest.fixture
def rq_queue(settings, redis_url):
    """Jobs in RQ on Redis, in a queue of this test's own."""
    from conversations.jobs import get_backend

    name = f"metrics-{uuid.uuid4().hex[:8]}"
    settings.RQ_QUEUES = {name: {"URL": redis_url}}
    settings.GATEKEEPER_JOBS = {"BACKEND": "conversations.jobs.RQBackend", "OPTIONS": {"queue": name}}
    backend = get_backend()
    yield name, backend
    queue = backend._queue()
    queue.empty()
    ScheduledJobRegistry(queue=queue).cleanup(timestamp=float("inf"))


def test_with_rq_the_queue_depth_is_read_from_redis(rq_queue, django_capture_on_commit_callbacks):
    name, backend = rq_queue
    with django_capture_on_commit_callbacks(execute=True):  # django-rq enqueues on commit
        backend.enqueue("conversations.tasks.draft_reply", 1)
        backend.enqueue("conversations.tasks.draft_reply", 2)
        backend.enqueue("conversations.tasks.send_pending", 3, delay=600)

    samples = scrape()

    assert value(samples, "gatekeeper_queue_up", queue=name) == 1
    assert value(samples, "gatekeeper_queue_jobs", queue=name, state="queued") == 2
    assert value(samples, "gatekeeper_queue_jobs", queue=name, state="scheduled") == 1
    assert value(samples, "gatekeeper_queue_jobs", queue=name, state="failed") == 0


def test_a_queue_that_is_down_is_reported_and_the_scrape_still_answers(settings):
    settings.RQ_QUEUES = {"down": {"URL": "redis://127.0.0.1:1/0"}}
    settings.GATEKEEPER_JOBS = {"BACKEND": "conversations.jobs.RQBackend", "OPTIONS": {"queue": "down"}}

    samples = scrape()

    assert value(samples, "gatekeeper_queue_up", queue="down") == 0
    assert not [key for key in samples if key[0] == "gatekeeper_queue_jobs"]


def test_a_scrape_costs_the_same_few_queries_however_much_is_stored(owner_a, make_conversation, make_draft):
    def add(start: int, count: int) -> None:
        for index in range(start, start + count):
            conversation = make_conversation(owner_a, contact_address=f"55113000{index:05d}")
            draft = make_draft(conversation, guards=[{"guard": "money"}])
            Escalation.objects.create(conversation=conversation, reason=EscalationReason.GUARD)
            Message.objects.create(
                conversation=conversation,
                account=conversation.account,
                direction=Direction.OUT,
                author="assistant",
                text="Thanks.",
                draft=draft,
                status=MessageStatus.SENT,
                accepted_at=timezone.now(),
            )

    add(0, 1)
    with CaptureQueriesContext(connection) as few:
        scrape()
    add(1, 25)
    with CaptureQueriesContext(connection) as many:
        samples = scrape()

    assert value(samples, "gatekeeper_drafts", decision="held") == 26
    assert len(many) == len(few) <= 9, [query["sql"] for query in many]


def test_every_metric_is_documented_in_the_readme():
    documented = README.read_text()
    names = {re.sub(r"_(bucket|count|sum|total)$", "", name) for name, _ in scrape()}

    assert names
    assert sorted(name for name in names if name not in documented) == []

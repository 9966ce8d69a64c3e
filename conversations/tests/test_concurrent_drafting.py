"""Many engine calls in flight at once (conversations/draft_pool.py), the flow's invariants intact.

The model is the loopback OpenAI stand-in holding its answers until the test has seen the calls
it expects in flight together; a drafting that asked one call at a time would never get there,
and the stand-in's count says so. The queue worker is RQ's own SimpleWorker (as the Procfile runs
it) on Redis, its drafting threads on their own database connections: these tests commit.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid

import pytest
from rq import SimpleWorker

from channels_app.whatsapp_payloads import text_message_payload
from conftest import PHONE_NUMBER_ID
from conversations import draft_pool, jobs
from conversations.models import Conversation, Direction, Draft, Message, Rule, RuleAction
from conversations.services import conversation_take_over

pytestmark = pytest.mark.django_db(transaction=True)

#: What the model answers: confident, in the delegated category, so each reply goes out by itself.
SENDABLE = {
    "reply": "Thanks, noted.",
    "category": "cellphone_provider",
    "confidence": 0.95,
    "reason": "A bill notice; nothing to decide.",
}
#: How long a test waits for calls it expects, before failing (never a measure of speed).
PATIENCE = 30


@pytest.fixture
def delegated(owner):
    """Bills are the owner's phone company's, and its replies go out by themselves."""
    Rule.objects.filter(owner=owner, category="cellphone_provider").update(
        action=RuleAction.AUTO, match_keywords=["bill"]
    )
    return owner


@pytest.fixture
def sendable_model(model):
    """The stand-in answering SENDABLE to each completion, holding its answers until released."""
    model.hold()
    yield model
    model.release()


def companies_write(deliver, count: int, *, first: int = 0, per_delivery: int = 0) -> list[int]:
    """New companies write once each (in one delivery, or `per_delivery` to a delivery); their conversations."""
    per_delivery = per_delivery or count
    senders = [f"1555{number:07d}" for number in range(first, first + count)]
    for start in range(0, count, per_delivery):
        payload = text_message_payload(
            phone_number_id=PHONE_NUMBER_ID, sender="1", text="Your bill is ready", name="A phone company"
        )
        value = payload["entry"][0]["changes"][0]["value"]
        message, contact = value["messages"][0], value["contacts"][0]
        chunk = senders[start : start + per_delivery]
        value["messages"] = [{**message, "from": sender, "id": f"wamid.C{sender}"} for sender in chunk]
        value["contacts"] = [{**contact, "wa_id": sender} for sender in chunk]
        assert deliver(payload=payload).status_code == 200
    return [
        Conversation.objects.get(contact__phone=sender).pk
        for sender in senders  # in the order they wrote
    ]


def script(model, count: int) -> None:
    for _ in range(count):
        model.respond_json(SENDABLE)


def release_once_in_flight(model, count: int) -> threading.Event:
    """From another thread (the job may be blocked on the answers): release the model once `count`
    calls wait at once, or after PATIENCE seconds if they never do; the event tells which."""
    seen = threading.Event()

    def watch() -> None:
        if model.wait_in_flight(count, timeout=PATIENCE):
            seen.set()
        model.release()

    threading.Thread(target=watch, daemon=True).start()
    return seen


def replies_to(conversation_id: int) -> list[str]:
    return list(
        Message.objects.filter(conversation_id=conversation_id, direction=Direction.OUT).values_list(
            "text", flat=True
        )
    )


@pytest.fixture
def rq_worker(settings):
    """A queue of this test's own on Redis, and `work()`: run RQ's SimpleWorker over it until it is empty."""
    name = f"drafting-{uuid.uuid4().hex[:8]}"
    settings.RQ_QUEUES = {
        name: {"URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), "DEFAULT_TIMEOUT": 60}
    }
    settings.GATEKEEPER_JOBS = {"BACKEND": "conversations.jobs.RQBackend", "OPTIONS": {"queue": name}}
    queue = jobs.get_backend()._queue()

    def work() -> None:
        handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            SimpleWorker([queue], connection=queue.connection).work(burst=True)
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)

    yield work
    assert draft_pool.drafter().wait_idle(PATIENCE), "the drafting threads still hold conversations"
    queue.empty()
    queue.connection.delete(*queue.connection.keys(f"rq:*{name}*") or ["-"])


# --- in flight together ---------------------------------------------------------------------


def test_one_job_asks_the_engine_for_all_its_conversations_at_once(
    delegated, sendable_model, deliver, run_jobs
):
    conversations = companies_write(deliver, 5)
    script(sendable_model, 5)
    seen = release_once_in_flight(sendable_model, 5)

    run_jobs()

    assert seen.is_set(), f"at most {sendable_model.peak_in_flight} of 5 calls were in flight together"
    assert [replies_to(pk) for pk in conversations] == [["Thanks, noted."]] * 5


def test_a_worker_takes_its_next_jobs_while_the_model_thinks(
    delegated, sendable_model, deliver, graph_api, rq_worker
):
    conversations = companies_write(deliver, 6, per_delivery=1)  # six jobs of one conversation each
    script(sendable_model, 6)

    rq_worker()  # one worker takes every job; none waits for the model

    assert sendable_model.wait_in_flight(6, timeout=PATIENCE), f"peak {sendable_model.peak_in_flight} of 6"
    sendable_model.release()
    assert draft_pool.drafter().wait_idle(PATIENCE)
    assert [replies_to(pk) for pk in conversations] == [["Thanks, noted."]] * 6
    assert sorted(sent.to for sent in graph_api.sent_texts()) == sorted(
        f"+1555{number:07d}" for number in range(6)
    )


@pytest.mark.parametrize("jobs_per_company", [False, True], ids=["one job", "a job each"])
def test_no_more_calls_are_in_flight_than_engine_concurrency(
    delegated, sendable_model, deliver, run_jobs, settings, rq_worker, jobs_per_company
):
    settings.ENGINE_CONCURRENCY = 2
    if not jobs_per_company:
        settings.GATEKEEPER_JOBS = {"BACKEND": "conversations.jobs.LocmemBackend"}
    conversations = companies_write(deliver, 5, per_delivery=1 if jobs_per_company else 5)
    script(sendable_model, 5)
    seen = release_once_in_flight(sendable_model, 2)

    if jobs_per_company:
        rq_worker()
        assert draft_pool.drafter().wait_idle(PATIENCE)
    else:
        run_jobs()

    assert seen.is_set()
    assert sendable_model.peak_in_flight == 2
    assert [replies_to(pk) for pk in conversations] == [["Thanks, noted."]] * 5


# --- the invariants under concurrency -------------------------------------------------------


def test_a_takeover_while_the_model_thinks_wins(delegated, sendable_model, deliver, graph_api, rq_worker):
    """docs/architecture.md invariant 8, with the other conversation's call in flight beside it."""
    taken, other = companies_write(deliver, 2, per_delivery=1)
    script(sendable_model, 2)
    rq_worker()
    assert sendable_model.wait_in_flight(2, timeout=PATIENCE)

    conversation_take_over(conversation_id=taken, by=delegated)
    sendable_model.release()

    assert draft_pool.drafter().wait_idle(PATIENCE)
    assert replies_to(taken) == []
    assert not Draft.objects.filter(conversation_id=taken).exists()
    assert replies_to(other) == ["Thanks, noted."]
    assert [sent.to for sent in graph_api.sent_texts()] == ["+15550000001"]


def test_a_duplicated_job_in_the_same_worker_asks_the_engine_once(
    delegated, sendable_model, deliver, graph_api, rq_worker
):
    """Invariant 6: the sweeper (or a redelivered job) re-schedules a conversation still drafting."""
    (conversation,) = companies_write(deliver, 1)
    jobs.enqueue_now("conversations.tasks.draft_reply", conversation)
    script(sendable_model, 2)

    rq_worker()
    assert sendable_model.wait_in_flight(1, timeout=PATIENCE)
    sendable_model.release()

    assert draft_pool.drafter().wait_idle(PATIENCE)
    assert len([r for r in sendable_model.requests if r.method == "POST"]) == 1
    assert replies_to(conversation) == ["Thanks, noted."]
    assert len(graph_api.sent_texts()) == 1


def test_two_workers_drafting_the_same_turn_send_one_reply(delegated, sendable_model, deliver, graph_api):
    """Invariant 6 across processes: both ask the engine, the first outcome recorded is the only one."""
    (conversation,) = companies_write(deliver, 1)
    script(sendable_model, 2)
    first, second = draft_pool.Drafter(), draft_pool.Drafter()

    first.hand_off([conversation])
    second.hand_off([conversation])
    assert sendable_model.wait_in_flight(2, timeout=PATIENCE)
    sendable_model.release()

    assert first.wait_idle(PATIENCE) and second.wait_idle(PATIENCE)
    assert Draft.objects.filter(conversation_id=conversation).count() == 1
    assert replies_to(conversation) == ["Thanks, noted."]
    assert len(graph_api.sent_texts()) == 1


def test_one_failing_call_leaves_the_others_answered_and_is_retried(
    delegated, sendable_model, deliver, graph_api, run_jobs
):
    """Invariant 7: the failed turn keeps its place and gets a retry with backoff."""
    conversations = companies_write(deliver, 3)
    sendable_model.fail(500, "The model crashed.")
    script(sendable_model, 2)
    seen = release_once_in_flight(sendable_model, 3)

    run_jobs()

    assert seen.is_set()
    answered = [pk for pk in conversations if replies_to(pk) == ["Thanks, noted."]]
    (failed,) = set(conversations) - set(answered)
    assert len(answered) == 2
    retried = Conversation.objects.get(pk=failed)
    assert retried.draft_attempts == 1 and retried.reply_due_at is not None
    assert [job.args for job in jobs.recorded if job.path.endswith("draft_reply")] == [(failed,)]
    assert len(graph_api.sent_texts()) == 2

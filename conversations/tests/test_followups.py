"""Follow-ups and promises end to end: signed webhooks in, the Graph API stand-in out, the clock injected.

Time never passes by sleeping: the sweeper's functions take `now`, so a test moves the clock
past a due time and runs them. Runs on SQLite, and on PostgreSQL when DATABASE_URL names it
(where two sweeps also race for real, in two threads).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rq.registry import ScheduledJobRegistry

from ai.promises import add_business_days
from conftest import PROVIDER_NUMBER
from conversations import followups, jobs, promises, services
from conversations.models import (
    ChannelAccount,
    Conversation,
    Draft,
    DraftKind,
    DraftStatus,
    FollowUp,
    FollowUpSource,
    FollowUpStatus,
    Promise,
    PromiseStatus,
    Rule,
    RuleAction,
    User,
)
from conversations.setup import owner_setup
from conversations.sweeper import sweep_stalled_work
from conversations.tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db

CATEGORY = "cellphone_provider"


@pytest.fixture
def delegating(owner):
    """The owner's rule for the company's category says auto and names the company's number."""
    Rule.objects.filter(owner=owner, category=CATEGORY).update(
        action=RuleAction.AUTO, match_senders=[f"+{PROVIDER_NUMBER}"]
    )
    return owner


@pytest.fixture
def api(owner) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=owner)[0].key}")
    return client


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a sweep as a worker would: the jobs it schedules on commit are recorded for `run_jobs`."""

    def run(function, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(**kwargs)

    return run


def texts(graph) -> list[str]:
    return [sent.text for sent in graph.sent_texts()]


def company_writes(deliver, run_jobs, text: str) -> Conversation:
    assert deliver(text).status_code == 200
    run_jobs()
    return Conversation.objects.get()


# ---- promises ------------------------------------------------------------------------------------


def test_a_promise_from_the_company_is_open_and_due_when_its_words_say(
    delegating, graph_api, deliver, run_jobs
):
    before = timezone.now()
    conversation = company_writes(
        deliver, run_jobs, "Thanks for your patience. We will call you back within 2 days."
    )
    after = timezone.now()

    promise = Promise.objects.get(conversation=conversation)
    assert promise.status == PromiseStatus.OPEN
    assert before + timedelta(days=2) <= promise.due_at <= after + timedelta(days=2)
    assert "call you back" in promise.what
    assert promise.words == "2 days"


def test_business_days_skip_the_weekend(delegating, graph_api, deliver, run_jobs):
    before = timezone.now()
    company_writes(deliver, run_jobs, "We will call you back within 2 business days.")

    promise = Promise.objects.get()
    expected = add_business_days(before, 2)
    assert abs((promise.due_at - expected).total_seconds()) < 60
    assert promise.due_at.weekday() < 5


def test_a_broken_promise_is_chased_once_and_the_owners_rules_send_it(
    committed, delegating, graph_api, deliver, run_jobs
):
    conversation = company_writes(deliver, run_jobs, "We will call you back within 2 hours.")
    promise = Promise.objects.get()
    sent_before = len(texts(graph_api))

    assert committed(promises.chase_due, now=promise.due_at - timedelta(minutes=1)) == 0
    later = promise.due_at + timedelta(minutes=5)
    assert committed(promises.chase_due, now=later) == 1
    run_jobs()
    assert committed(promises.chase_due, now=later + timedelta(hours=1)) == 0  # a second sweep finds nothing
    assert committed(followups.fire_due, now=later + timedelta(hours=1)) == 0
    run_jobs()

    promise.refresh_from_db()
    assert promise.status == PromiseStatus.FOLLOWED_UP
    followup = FollowUp.objects.get(conversation=conversation)
    assert (followup.source, followup.status) == (FollowUpSource.PROMISE, FollowUpStatus.SENT), followup.why
    chased = texts(graph_api)[sent_before:]
    assert len(chased) == 1
    assert 'You wrote: "We will call you back within 2 hours."' in chased[0]
    assert "Please tell me when it will." in chased[0]
    assert Draft.objects.get(kind=DraftKind.FOLLOW_UP).status == DraftStatus.SENT


def test_a_broken_promise_is_held_when_the_owner_does_not_delegate(
    committed, owner, graph_api, deliver, run_jobs
):
    company_writes(deliver, run_jobs, "We will call you back within 2 hours.")
    promise = Promise.objects.get()
    sent_before = len(texts(graph_api))

    committed(promises.chase_due, now=promise.due_at + timedelta(minutes=1))
    run_jobs()

    draft = Draft.objects.get(kind=DraftKind.FOLLOW_UP)
    assert draft.status == DraftStatus.PENDING
    assert FollowUp.objects.get().status == FollowUpStatus.HELD
    assert len(texts(graph_api)) == sent_before


def test_a_promise_due_after_the_whatsapp_window_becomes_a_template_draft(
    committed, delegating, graph_api, deliver, run_jobs
):
    conversation = company_writes(deliver, run_jobs, "We will call you back within 2 days.")
    ChannelAccount.objects.filter(pk=conversation.account_id).update(reengagement_template="follow_up_hello")
    promise = Promise.objects.get()
    sent_before = len(texts(graph_api))

    committed(promises.chase_due, now=promise.due_at + timedelta(hours=1))
    run_jobs()

    followup = FollowUp.objects.get()
    assert followup.status == FollowUpStatus.HELD
    assert followup.draft.kind == DraftKind.TEMPLATE
    assert followup.draft.status == DraftStatus.PENDING
    assert len(texts(graph_api)) == sent_before


def test_a_promise_the_company_says_it_kept_is_not_chased(
    committed, delegating, graph_api, deliver, run_jobs
):
    company_writes(deliver, run_jobs, "Your refund will arrive in 3 hours.")
    company_writes(deliver, run_jobs, "Good news: your refund has been processed.")
    promise = Promise.objects.get()

    committed(promises.chase_due, now=promise.due_at + timedelta(minutes=1))

    promise.refresh_from_db()
    assert promise.status == PromiseStatus.KEPT
    assert not FollowUp.objects.exists()


def test_a_dismissed_promise_is_never_chased(committed, owner, api, graph_api, deliver, run_jobs):
    company_writes(deliver, run_jobs, "We will call you back within 2 hours.")
    promise = Promise.objects.get()

    listed = api.get("/api/promises/").json()["results"]
    assert [(p["id"], p["status"]) for p in listed] == [(promise.pk, "open")]
    assert api.post(f"/api/promises/{promise.pk}/dismiss").json()["status"] == "dismissed"
    assert api.post(f"/api/promises/{promise.pk}/dismiss").status_code == 409

    assert committed(promises.chase_due, now=promise.due_at + timedelta(hours=1)) == 0
    assert not FollowUp.objects.exists()


# ---- follow-ups through the API ------------------------------------------------------------------


def schedule(api, conversation, *, seconds: float = 5, **body):
    due = timezone.now() + timedelta(seconds=seconds)
    return api.post(
        "/api/followups/",
        {"conversation": conversation.pk, "due_at": due.isoformat(), **body},
        format="json",
    )


def test_a_follow_up_five_seconds_ahead_is_sent_once_as_the_owners_words(
    committed, owner, api, graph_api, deliver, run_jobs
):
    conversation = company_writes(deliver, run_jobs, "Hello, about your plan.")
    response = schedule(api, conversation, text="Any news on my plan change?", unless_reply=False)
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("conversation", "text", "unless_reply", "status", "source")} == {
        "conversation": conversation.pk,
        "text": "Any news on my plan change?",
        "unless_reply": False,
        "status": "scheduled",
        "source": "owner",
    }
    followup = FollowUp.objects.get(pk=body["id"])
    jobs.recorded.clear()  # the queue lost its job (a Redis flush): the database still has the work
    sent_before = len(texts(graph_api))

    assert committed(followups.fire_due, now=followup.due_at - timedelta(seconds=1)) == 0
    assert committed(followups.fire_due, now=followup.due_at) == 1
    assert committed(followups.fire_due, now=followup.due_at + timedelta(seconds=1)) == 0
    run_jobs()

    assert texts(graph_api)[sent_before:] == ["Any news on my plan change?"]
    assert api.get(f"/api/followups/{followup.pk}/").json()["status"] == "sent"
    message = conversation.messages.order_by("-id").first()
    assert message.author == "owner"


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_a_follow_up_once(owner, api, graph_api, deliver, run_jobs):
    if connection.vendor != "postgresql":
        pytest.skip("two real concurrent sweepers need a server database (DATABASE_URL=postgres://...)")
    conversation = company_writes(deliver, run_jobs, "Hello, about your plan.")
    followup = FollowUp.objects.get(pk=schedule(api, conversation, text="Any news?").json()["id"])
    fired = []

    def sweep():
        fired.append(followups.fire_due(now=followup.due_at + timedelta(seconds=1)))

    assert run_at_once((sweep,), (sweep,)) == []
    run_jobs()

    assert sorted(fired) == [0, 1]
    assert conversation.messages.filter(author="owner", text="Any news?").count() == 1
    assert texts(graph_api).count("Any news?") == 1


def test_unless_reply_skips_it_when_the_company_answers_first(
    committed, owner, api, graph_api, deliver, run_jobs
):
    conversation = company_writes(deliver, run_jobs, "Hello, about your plan.")
    followup = FollowUp.objects.get(pk=schedule(api, conversation, text="Any news?").json()["id"])
    company_writes(deliver, run_jobs, "Your new plan starts on Monday.")
    sent_before = len(texts(graph_api))

    assert committed(followups.fire_due, now=followup.due_at) == 1
    run_jobs()

    followup.refresh_from_db()
    assert followup.status == FollowUpStatus.SKIPPED
    assert "company wrote" in followup.why
    assert len(texts(graph_api)) == sent_before


def test_a_time_in_the_past_is_refused_with_the_reason_unless_now(
    committed, owner, api, graph_api, deliver, run_jobs
):
    conversation = company_writes(deliver, run_jobs, "Hello, about your plan.")

    refused = schedule(api, conversation, seconds=-60, text="Any news?")
    assert refused.status_code == 400
    assert "in the past" in refused.json()["due_at"][0]
    assert not FollowUp.objects.exists()

    accepted = schedule(api, conversation, seconds=-60, text="Any news?", now=True)
    assert accepted.status_code == 201
    assert committed(followups.fire_due) == 1
    run_jobs()
    assert "Any news?" in texts(graph_api)


def test_another_owners_conversation_is_not_found(owner, api, graph_api, deliver, run_jobs):
    conversation = company_writes(deliver, run_jobs, "Hello, about your plan.")
    other = owner_setup(username="mallory", password="mallory-password").owner
    intruder = APIClient()
    intruder.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=other)[0].key}")

    assert schedule(intruder, conversation, text="Pay me").status_code == 404
    mine = schedule(api, conversation, text="Any news?").json()
    assert intruder.get(f"/api/followups/{mine['id']}/").status_code == 404
    assert intruder.post(f"/api/followups/{mine['id']}/cancel").status_code == 404
    assert intruder.get("/api/followups/").json()["results"] == []
    assert FollowUp.objects.get().status == FollowUpStatus.SCHEDULED


def test_a_cancelled_follow_up_never_fires(committed, owner, api, graph_api, deliver, run_jobs):
    conversation = company_writes(deliver, run_jobs, "Hello, about your plan.")
    followup_id = schedule(api, conversation, text="Any news?").json()["id"]

    assert api.post(f"/api/followups/{followup_id}/cancel").json()["status"] == "cancelled"
    assert api.post(f"/api/followups/{followup_id}/cancel").status_code == 409
    assert committed(followups.fire_due, now=timezone.now() + timedelta(days=1)) == 0
    run_jobs()
    assert "Any news?" not in texts(graph_api)


def test_a_long_follow_up_is_split_like_a_reply(committed, owner, api, graph_api, deliver, run_jobs):
    conversation = company_writes(deliver, run_jobs, "Hello, about your plan.")
    long_text = " ".join(["Please confirm the change of my plan."] * 200)  # about 7,600 characters
    followup = FollowUp.objects.get(pk=schedule(api, conversation, text=long_text).json()["id"])

    committed(followups.fire_due, now=followup.due_at)
    run_jobs()

    parts = conversation.messages.filter(author="owner").order_by("id")
    assert parts.count() == 2
    assert all(len(part.text) <= 4096 for part in parts)


# ---- follow-ups from the engine, and a conversation the owner took over -------------------------


def test_the_engines_follow_up_is_scheduled_and_skipped_once_the_owner_takes_over(
    committed, owner, script, graph_api, deliver, run_jobs
):
    Rule.objects.filter(owner=owner, category=CATEGORY).update(
        action=RuleAction.AUTO, match_senders=[f"+{PROVIDER_NUMBER}"]
    )
    script(
        {
            "reply": "Thank you, I will pass this on.",
            "category": CATEGORY,
            "confidence": 0.95,
            "follow_up": {"in": "3 hours", "why": "They asked for documents and may not answer."},
        }
    )
    conversation = company_writes(deliver, run_jobs, "Please send the signed form.")
    followup = FollowUp.objects.get()
    assert (followup.source, followup.status) == (FollowUpSource.ENGINE, FollowUpStatus.SCHEDULED)

    services.conversation_take_over(conversation_id=conversation.pk, by=User.objects.get(pk=owner.pk))
    sent_before = len(texts(graph_api))
    committed(followups.fire_due, now=followup.due_at + timedelta(minutes=1))
    run_jobs()

    followup.refresh_from_db()
    assert followup.status == FollowUpStatus.SKIPPED
    assert len(texts(graph_api)) == sent_before


def test_the_engines_follow_up_goes_through_the_trust_checks(
    committed, owner, script, graph_api, deliver, run_jobs
):
    Rule.objects.filter(owner=owner, category=CATEGORY).update(
        action=RuleAction.AUTO, match_senders=[f"+{PROVIDER_NUMBER}"]
    )
    script(
        {
            "reply": "Thank you, I will pass this on.",
            "category": CATEGORY,
            "confidence": 0.95,
            "follow_up": {"in": "2 hours", "why": "chase", "text": "Yes, I agree to pay the 50 EUR upgrade."},
        }
    )
    company_writes(deliver, run_jobs, "Do you want the upgrade?")
    followup = FollowUp.objects.get()
    sent_before = len(texts(graph_api))

    committed(followups.fire_due, now=followup.due_at + timedelta(minutes=1))
    run_jobs()

    followup.refresh_from_db()
    assert followup.status == FollowUpStatus.HELD
    assert followup.draft.status == DraftStatus.PENDING
    assert {"money", "commitment"} & {finding["guard"] for finding in followup.draft.guards}
    assert len(texts(graph_api)) == sent_before


# ---- the conversation page -----------------------------------------------------------------------


def test_the_conversation_page_shows_the_timeline_and_its_buttons_work(
    owner, client, graph_api, deliver, run_jobs
):
    conversation = company_writes(deliver, run_jobs, "We will call you back within 2 days.")
    promise = Promise.objects.get()
    client.force_login(owner)
    page = f"/admin/conversations/conversation/{conversation.pk}/change/"

    shown = client.get(page).content.decode()
    assert "We will call you back within 2 days." in shown
    assert "Nothing promised or scheduled" not in shown

    response = client.post(
        f"/admin/conversations/conversation/{conversation.pk}/follow-up/",
        {"amount": 3, "unit": "days", "text": "Did you call?", "unless_reply": "on"},
    )
    assert response.status_code == 302
    followup = FollowUp.objects.get()
    assert (followup.text, followup.unless_reply, followup.source) == ("Did you call?", True, "owner")
    assert abs(followup.due_at - (timezone.now() + timedelta(days=3))) < timedelta(minutes=1)
    assert "Did you call?" in client.get(page).content.decode()

    client.post(f"/admin/conversations/conversation/{conversation.pk}/follow-up/{followup.pk}/cancel/")
    client.post(f"/admin/conversations/conversation/{conversation.pk}/promise/{promise.pk}/dismiss/")
    followup.refresh_from_db()
    promise.refresh_from_db()
    assert (followup.status, promise.status) == (FollowUpStatus.CANCELLED, PromiseStatus.DISMISSED)


def test_another_owner_cannot_cancel_or_dismiss_from_the_admin(owner, client, graph_api, deliver, run_jobs):
    conversation = company_writes(deliver, run_jobs, "We will call you back within 2 days.")
    promise = Promise.objects.get()
    other = owner_setup(username="mallory", password="mallory-password").owner
    client.force_login(other)

    client.post(f"/admin/conversations/conversation/{conversation.pk}/promise/{promise.pk}/dismiss/")
    client.post(
        f"/admin/conversations/conversation/{conversation.pk}/follow-up/",
        {"amount": 1, "unit": "hours", "text": "Pay me"},
    )

    promise.refresh_from_db()
    assert promise.status == PromiseStatus.OPEN
    assert not FollowUp.objects.exists()


# ---- the schedule survives the queue -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # django_rq enqueues when the transaction commits
def test_after_a_redis_flush_a_due_follow_up_still_fires_once(
    owner, api, settings, committed, graph_api, deliver, run_jobs, django_capture_on_commit_callbacks
):
    """The job sits in Redis until it is due; Redis is flushed; the sweeper finds the work in the database."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs a Redis of its own (REDIS_URL=redis://.../<db>): the test flushes it")
    conversation = company_writes(deliver, run_jobs, "Hello, about your plan.")
    settings.RQ_QUEUES = {"followups-test": {"URL": os.environ["REDIS_URL"], "DEFAULT_TIMEOUT": 5}}
    settings.GATEKEEPER_JOBS = {
        "BACKEND": "conversations.jobs.RQBackend",
        "OPTIONS": {"queue": "followups-test"},
    }
    queue = jobs.get_backend()._queue()
    with django_capture_on_commit_callbacks(execute=True):
        followup = FollowUp.objects.get(pk=schedule(api, conversation, text="Any news?").json()["id"])
    assert ScheduledJobRegistry(queue=queue).count == 1  # the job waits in Redis for the due time
    queue.connection.flushdb()

    committed(sweep_stalled_work, now=followup.due_at + timedelta(seconds=1))
    committed(sweep_stalled_work, now=followup.due_at + timedelta(seconds=20))

    followup.refresh_from_db()
    assert followup.status == FollowUpStatus.SENT
    assert conversation.messages.filter(author="owner", text="Any news?").count() == 1
    assert len(queue.get_jobs()) == 1  # one send job, from the one firing
    queue.connection.flushdb()


def test_a_promise_steered_to_make_the_follow_up_repeat_a_code_is_held(
    delegating, committed, graph_api, deliver, run_jobs
):
    """The follow-up quotes the company: whatever it slips into the promise is checked before it goes out."""
    company_writes(
        deliver, run_jobs, "We will confirm your transfer within 2 hours if you reply with code 482913"
    )
    promise = Promise.objects.get()
    sent_before = len(texts(graph_api))

    committed(promises.chase_due, now=promise.due_at + timedelta(minutes=1))
    run_jobs()

    followup = FollowUp.objects.get()
    assert followup.status == FollowUpStatus.HELD
    assert "identifier" in {finding["guard"] for finding in followup.draft.guards}
    assert len(texts(graph_api)) == sent_before

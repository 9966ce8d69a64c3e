"""A message through Twilio flows through the same rules, drafts, approvals, statuses and 24-hour window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from channels_app.twilio.payloads import inbound_text_params
from channels_app.twilio.tests.helpers import CONTENT_SID, TWILIO_NUMBER
from conversations import services
from conversations.models import (
    Conversation,
    Direction,
    Draft,
    DraftKind,
    DraftStatus,
    Escalation,
    Message,
    MessageStatus,
    Rule,
    RuleAction,
)

pytestmark = pytest.mark.django_db

PROVIDER_NUMBER = "15550001111"


@pytest.fixture
def inbound(deliver_twilio, twilio_account):
    """Acme Mobile writes to the owner's Twilio number."""

    def write(text: str = "Your bill is ready", **fields):
        params = inbound_text_params(
            to=TWILIO_NUMBER, sender=PROVIDER_NUMBER, name="Acme Mobile", text=text, **fields
        )
        assert deliver_twilio(params).status_code == 200
        return params

    return write


@pytest.fixture
def approve(owner, django_capture_on_commit_callbacks):
    """The owner approves a draft through the same service as the dashboard."""

    def decide(draft: Draft) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            services.draft_approve(draft_id=draft.pk, by=owner)

    return decide


def delegate(owner) -> None:
    Rule.objects.filter(owner=owner, category="cellphone_provider").update(
        action=RuleAction.AUTO, match_senders=[f"+{PROVIDER_NUMBER}"]
    )


def close_window() -> None:
    """The contact's last message is 25 hours old."""
    Conversation.objects.update(last_inbound_at=timezone.now() - timedelta(hours=25))


def template_draft() -> Draft:
    return Draft.objects.get(kind=DraftKind.TEMPLATE)


def test_window_open_a_delegated_reply_goes_out_free_form_through_twilio(
    owner, twilio_api, inbound, run_jobs
):
    delegate(owner)
    inbound()
    run_jobs()

    (sent,) = twilio_api.sent_messages()
    assert (sent.to, sent.from_) == (f"whatsapp:+{PROVIDER_NUMBER}", f"whatsapp:{TWILIO_NUMBER}")
    assert sent.body and not sent.content_sid
    reply = Message.objects.get(direction=Direction.OUT)
    assert (reply.status, reply.provider_message_id) == (MessageStatus.SENT, sent.sid)
    assert Draft.objects.get().status == DraftStatus.SENT


def test_the_default_rules_hold_a_twilio_reply_for_approval_like_a_meta_one(
    owner, twilio_api, inbound, run_jobs, approve
):
    inbound()
    run_jobs()
    draft = Draft.objects.get()
    assert draft.status == DraftStatus.PENDING and "the rule for this category says draft" in draft.decision
    assert twilio_api.requests == []

    approve(draft)
    run_jobs()
    assert twilio_api.sent_messages()[0].body == draft.text


def test_status_callbacks_for_our_reply_move_it_forward(owner, twilio_api, inbound, run_jobs, post_status):
    delegate(owner)
    inbound()
    run_jobs()
    sid = twilio_api.sent_messages()[0].sid
    reply = Message.objects.get(direction=Direction.OUT)

    for status, expected in [("read", "read"), ("delivered", "read"), ("sent", "read")]:
        assert post_status(twilio_api.status_callback(sid, status)).status_code == 200
        reply.refresh_from_db()
        assert reply.status == expected


def test_window_closed_no_free_form_attempt_owner_told_template_sent_after_approval(
    owner, twilio_api, inbound, run_jobs, approve
):
    inbound()
    run_jobs()
    held = Draft.objects.get()
    close_window()

    approve(held)
    run_jobs()

    assert twilio_api.requests == [], "no free-form attempt after the window closed"
    failed = Message.objects.get(direction=Direction.OUT)
    assert (failed.status, failed.error_code) == (MessageStatus.FAILED, "window_closed")
    assert "24-hour window closed" in failed.error_detail
    held.refresh_from_db()
    assert held.status == DraftStatus.FAILED
    offer = template_draft()
    assert offer.status == DraftStatus.PENDING
    assert CONTENT_SID in offer.text
    escalation = Escalation.objects.get()
    assert escalation.reason == "window_closed"
    assert f"Approve the re-engagement template draft #{offer.pk}" in escalation.detail
    assert Conversation.objects.get().status == "needs_attention"

    approve(offer)
    run_jobs()

    (sent,) = twilio_api.sent_messages()
    assert sent.content_sid == CONTENT_SID and sent.body == ""
    assert sent.status_callback.endswith("/webhook/twilio/status")
    message = Message.objects.get(kind="template")
    assert (message.status, message.provider_message_id) == (MessageStatus.SENT, sent.sid)
    assert message.metadata == {"template": CONTENT_SID, "language": "en_US"}
    offer.refresh_from_db()
    assert offer.status == DraftStatus.SENT


def test_a_late_draft_job_holds_the_reply_with_the_window_guard_even_when_delegated(
    owner, twilio_api, inbound, run_jobs
):
    delegate(owner)
    inbound()
    close_window()  # the engine was down for a day; the job runs now
    run_jobs()

    draft = Draft.objects.get(kind=DraftKind.TEXT)
    assert draft.status == DraftStatus.PENDING
    assert [finding["guard"] for finding in draft.guards] == ["window_closed"]
    assert "24-hour window closed" in draft.decision
    assert twilio_api.requests == []
    assert template_draft().status == DraftStatus.PENDING
    assert Escalation.objects.get().reason == "window_closed"


def test_63016_in_a_status_callback_fails_the_reply_and_offers_the_template(
    owner, twilio_api, inbound, run_jobs, post_status
):
    delegate(owner)
    inbound()
    run_jobs()
    sid = twilio_api.sent_messages()[0].sid

    assert post_status(twilio_api.status_callback(sid, "failed", error_code="63016")).status_code == 200

    reply = Message.objects.get(direction=Direction.OUT)
    assert (reply.status, reply.error_code) == (MessageStatus.FAILED, "63016")
    assert Escalation.objects.get().reason == "window_closed"
    assert template_draft().status == DraftStatus.PENDING


def test_63016_from_the_api_fails_the_reply_and_offers_the_template(owner, twilio_api, inbound, run_jobs):
    delegate(owner)
    twilio_api.fail_next(63016)
    inbound()
    run_jobs()

    reply = Message.objects.get(direction=Direction.OUT)
    assert (reply.status, reply.error_code) == (MessageStatus.FAILED, "63016")
    assert len(twilio_api.requests) == 1, "not retried"
    assert Escalation.objects.get().reason == "window_closed"
    assert template_draft().status == DraftStatus.PENDING


def test_a_template_that_fails_is_not_answered_with_another_template(
    owner, twilio_api, inbound, run_jobs, approve, post_status
):
    inbound()
    run_jobs()
    close_window()
    approve(Draft.objects.get())
    run_jobs()
    approve(template_draft())
    run_jobs()
    sid = twilio_api.sent_messages()[0].sid

    assert post_status(twilio_api.status_callback(sid, "failed", error_code="63016")).status_code == 200

    assert Message.objects.get(kind="template").status == MessageStatus.FAILED
    assert Draft.objects.filter(kind=DraftKind.TEMPLATE).count() == 1
    assert not Draft.objects.filter(status=DraftStatus.PENDING).exists()


def test_when_the_contact_writes_again_the_pending_template_is_withdrawn(
    owner, twilio_api, inbound, run_jobs, approve
):
    inbound()
    run_jobs()
    close_window()
    approve(Draft.objects.get())
    run_jobs()
    offer = template_draft()

    inbound("Hello? Is anyone there?")
    run_jobs()

    offer.refresh_from_db()
    assert offer.status == DraftStatus.WITHDRAWN
    newest = Draft.objects.filter(kind=DraftKind.TEXT).latest("id")
    assert newest.status == DraftStatus.PENDING and not newest.guards
    assert twilio_api.requests == []

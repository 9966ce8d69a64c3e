"""A reply going out withdraws the older pending drafts of its conversation, so none is left stale."""

from __future__ import annotations

import pytest

from conftest import PROVIDER_NUMBER
from conversations.models import (
    AuditAction,
    AuditEntry,
    Author,
    Direction,
    Draft,
    DraftKind,
    DraftStatus,
    Message,
    MessageStatus,
    Rule,
    RuleAction,
)
from conversations.services import conversation_reply, draft_approve

pytestmark = pytest.mark.django_db


def provider_writes(conversation, text: str) -> Message:
    return Message.objects.create(
        conversation=conversation,
        account=conversation.account,
        direction=Direction.IN,
        author=Author.CONTACT,
        text=text,
        status=MessageStatus.RECEIVED,
    )


@pytest.fixture
def two_turns(conversation_a, make_draft):
    """An older pending draft, then a newer message and its pending draft."""
    older = make_draft(conversation_a, text="No, thank you.")
    provider_writes(conversation_a, "Last chance: reply YES today.")
    newer = make_draft(conversation_a, text="Still no, thank you.")
    return older, newer


def test_approving_the_newer_draft_withdraws_the_older_one_with_an_audit_line(owner_a, two_turns):
    older, newer = two_turns

    draft_approve(draft_id=newer.pk, by=owner_a)

    older.refresh_from_db()
    assert older.status == DraftStatus.WITHDRAWN
    assert older.decided_by == owner_a and older.decided_at is not None
    entry = AuditEntry.objects.get(action=AuditAction.APPROVE, draft=newer)
    assert f"withdrew the older draft(s) #{older.pk}" in entry.summary
    assert entry.after["withdrawn_drafts"] == [older.pk]


def test_approving_leaves_other_conversations_and_newer_drafts_alone(
    owner_a, two_turns, make_conversation, make_draft
):
    older, newer = two_turns
    elsewhere = make_draft(make_conversation(owner_a, contact_address="5511300030003"))
    seen = Message.objects.filter(conversation=older.conversation).order_by("-id").first().pk

    draft_approve(draft_id=older.pk, by=owner_a, seen_through=seen)

    assert Draft.objects.get(pk=newer.pk).status == DraftStatus.PENDING
    assert Draft.objects.get(pk=elsewhere.pk).status == DraftStatus.PENDING
    entry = AuditEntry.objects.get(action=AuditAction.APPROVE, draft=older)
    assert "withdrew" not in entry.summary


def test_a_pending_template_offer_is_not_withdrawn_by_a_text_approval(owner_a, conversation_a, make_draft):
    offer = make_draft(conversation_a, kind=DraftKind.TEMPLATE, text="Re-open the conversation")
    provider_writes(conversation_a, "Are you there?")
    reply = make_draft(conversation_a, text="Yes, but no, thank you.")

    draft_approve(draft_id=reply.pk, by=owner_a)

    assert Draft.objects.get(pk=offer.pk).status == DraftStatus.PENDING


def test_replying_by_hand_withdraws_every_pending_draft(owner_a, two_turns):
    older, _newer = two_turns

    conversation_reply(conversation_id=older.conversation_id, by=owner_a, text="I'll call you.")

    assert set(Draft.objects.values_list("status", flat=True)) == {DraftStatus.WITHDRAWN}


def test_approving_over_the_api_withdraws_the_older_draft(client_a, two_turns):
    older, newer = two_turns

    response = client_a.post(f"/api/drafts/{newer.pk}/approve")

    assert response.status_code == 200, response.content
    assert client_a.get(f"/api/drafts/{older.pk}/").json()["status"] == DraftStatus.WITHDRAWN
    pending = client_a.get("/api/drafts/?status=pending").json()["results"]
    assert pending == []


def test_an_automatic_reply_withdraws_the_draft_still_waiting_for_the_owner(
    owner, graph_api, deliver, run_jobs
):
    deliver("Your bill is ready", message_id="wamid.FIRST")
    run_jobs()
    held = Draft.objects.get()
    assert held.status == DraftStatus.PENDING
    Rule.objects.filter(owner=owner, category="cellphone_provider").update(
        action=RuleAction.AUTO, match_senders=[f"+{PROVIDER_NUMBER}"]
    )

    deliver("Your June bill is ready", message_id="wamid.SECOND")
    run_jobs()

    held.refresh_from_db()
    assert held.status == DraftStatus.WITHDRAWN and held.decided_by is None
    assert Draft.objects.exclude(pk=held.pk).get().status == DraftStatus.SENT
    assert len(graph_api.sent_texts()) == 1

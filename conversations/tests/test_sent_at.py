"""An outbound message that is sent, delivered or read says when it was sent (`sent_at`), over the API too."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from conversations.inbound import InboundBatch, StatusUpdate
from conversations.ingest import ingest_batch
from conversations.models import Author, Direction, Message, MessageStatus
from conversations.sending import _record_accepted

pytestmark = pytest.mark.django_db


def outbound(conversation, **fields) -> Message:
    return Message.objects.create(
        conversation=conversation,
        account=conversation.account,
        direction=Direction.OUT,
        author=Author.ASSISTANT,
        text="No, thank you.",
        **fields,
    )


def receipt(message: Message, status: str, occurred_at=None) -> InboundBatch:
    update = StatusUpdate(
        provider=message.account.provider,
        account_address=message.account.address,
        provider_message_id=message.provider_message_id,
        status=status,
        occurred_at=occurred_at,
    )
    return InboundBatch(statuses=(update,))


def api_message(client, message: Message) -> dict:
    body = client.get(f"/api/conversations/{message.conversation_id}/").json()
    return next(m for m in body["messages"] if m["id"] == message.pk)


def test_an_approved_reply_accepted_by_the_provider_shows_when_it_was_sent(
    client_a, draft_a, django_capture_on_commit_callbacks, graph_api, run_jobs
):
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        client_a.post(f"/api/drafts/{draft_a.pk}/approve")
    run_jobs()

    message = Message.objects.get(draft=draft_a)
    shown = api_message(client_a, message)
    assert shown["status"] == MessageStatus.SENT
    assert shown["sent_at"] is not None
    assert message.sent_at >= before and message.sent_at == message.accepted_at


def test_a_sent_receipt_that_came_first_keeps_the_providers_time(conversation_a):
    message = outbound(conversation_a, status=MessageStatus.SENDING, provider_message_id="wamid.OUT1")
    reported = datetime(2025, 6, 8, 21, 0, tzinfo=UTC)
    Message.objects.filter(pk=message.pk).update(sent_at=reported)

    _record_accepted(message, "wamid.OUT1")

    message.refresh_from_db()
    assert (message.status, message.sent_at) == (MessageStatus.SENT, reported)


def test_a_printed_message_was_never_sent(conversation_a):
    message = outbound(conversation_a, status=MessageStatus.SENDING)

    _record_accepted(message, "console.1", printed=True)

    message.refresh_from_db()
    assert (message.status, message.sent_at) == (MessageStatus.PRINTED, None)


@pytest.mark.parametrize("status", [MessageStatus.DELIVERED, MessageStatus.READ])
def test_a_later_receipt_fills_a_missing_sent_at(client_a, conversation_a, status):
    message = outbound(conversation_a, status=MessageStatus.SENT, provider_message_id="wamid.OLD1")
    delivered = datetime(2025, 6, 8, 21, 5, tzinfo=UTC)

    ingest_batch(receipt(message, status, occurred_at=delivered))

    shown = api_message(client_a, message)
    assert shown["status"] == status
    assert shown["sent_at"] == "2025-06-08T21:05:00Z"

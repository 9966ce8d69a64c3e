"""Migration 0007: outbound messages recorded sent before `sent_at` was set on acceptance say when they went."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps

from conversations.models import Author, Direction, Message, MessageStatus

pytestmark = pytest.mark.django_db

backfill_sent_at = importlib.import_module("conversations.migrations.0007_daily_digest").backfill_sent_at

ACCEPTED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
CHANGED = ACCEPTED + timedelta(minutes=7)
KNOWN = ACCEPTED - timedelta(seconds=3)


def message(conversation, status: str, *, direction=Direction.OUT, **fields) -> int:
    """A stored message whose last change was at CHANGED (as an old row would be)."""
    created = Message.objects.create(
        conversation=conversation,
        account=conversation.account,
        direction=direction,
        author=Author.ASSISTANT if direction == Direction.OUT else Author.CONTACT,
        text="No, thank you.",
        status=status,
        **fields,
    )
    Message.objects.filter(pk=created.pk).update(updated_at=CHANGED)
    return created.pk


def test_sent_delivered_and_read_messages_get_when_they_were_accepted_else_when_they_last_changed(
    conversation_a,
):
    accepted = message(conversation_a, MessageStatus.SENT, accepted_at=ACCEPTED)
    delivered_before_accepted_at = message(conversation_a, MessageStatus.DELIVERED)
    read = message(conversation_a, MessageStatus.READ, accepted_at=ACCEPTED)
    already = message(conversation_a, MessageStatus.READ, accepted_at=ACCEPTED, sent_at=KNOWN)
    untouched = {
        message(conversation_a, MessageStatus.FAILED, accepted_at=ACCEPTED),
        message(conversation_a, MessageStatus.QUEUED),
        message(conversation_a, MessageStatus.PRINTED, accepted_at=ACCEPTED),
        message(conversation_a, MessageStatus.RECEIVED, direction=Direction.IN),
    }

    backfill_sent_at(apps, None)

    sent_at = dict(Message.objects.values_list("pk", "sent_at"))
    assert sent_at[accepted] == ACCEPTED
    assert sent_at[delivered_before_accepted_at] == CHANGED
    assert sent_at[read] == ACCEPTED
    assert sent_at[already] == KNOWN
    assert all(sent_at[pk] is None for pk in untouched)
    # Filling in a time is not a change of the message: its last change stays as it was.
    assert set(Message.objects.filter(pk__in=[accepted, read]).values_list("updated_at", flat=True)) == {
        CHANGED
    }


def test_running_it_again_changes_nothing(conversation_a):
    pk = message(conversation_a, MessageStatus.DELIVERED)
    backfill_sent_at(apps, None)
    Message.objects.filter(pk=pk).update(accepted_at=ACCEPTED)

    backfill_sent_at(apps, None)

    assert Message.objects.get(pk=pk).sent_at == CHANGED

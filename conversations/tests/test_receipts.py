"""Delivery receipts that arrive before the send job stored the provider's id are kept, not dropped.

Invariant 7 (docs/architecture.md, nothing lost): a failure the provider reports in that gap must still
reach the owner.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.inbound import InboundBatch, StatusUpdate
from conversations.ingest import ingest_batch
from conversations.models import (
    Author,
    Conversation,
    Direction,
    Draft,
    DraftKind,
    DraftStatus,
    EarlyStatus,
    Escalation,
    Message,
    MessageStatus,
)
from conversations.sending import _record_accepted
from conversations.sweeper import sweep_stalled_work


@pytest.fixture
def in_flight(conversation_a: Conversation) -> Message:
    """A reply the send job handed to the provider, whose id it has not stored yet."""
    return Message.objects.create(
        conversation=conversation_a,
        account=conversation_a.account,
        direction=Direction.OUT,
        author=Author.ASSISTANT,
        text="No, thank you.",
        status=MessageStatus.SENDING,
    )


def receipt(message: Message, status: str, **fields) -> InboundBatch:
    update = StatusUpdate(
        provider=message.account.provider,
        account_address=message.account.address,
        provider_message_id="wamid.OUT1",
        status=status,
        **fields,
    )
    return InboundBatch(statuses=(update,))


def test_a_failure_reported_before_the_id_was_stored_fails_the_message_once_it_is(in_flight):
    ingest_batch(receipt(in_flight, MessageStatus.FAILED, error_code="131026", error_detail="Undeliverable"))
    in_flight.refresh_from_db()
    assert in_flight.status == MessageStatus.SENDING
    assert EarlyStatus.objects.count() == 1

    _record_accepted(in_flight, "wamid.OUT1")

    in_flight.refresh_from_db()
    assert (in_flight.status, in_flight.error_code) == (MessageStatus.FAILED, "131026")
    assert Escalation.objects.get().reason == "send_failed"
    assert not EarlyStatus.objects.exists()


def test_a_closed_window_reported_before_the_id_was_stored_still_offers_the_template(in_flight):
    in_flight.account.reengagement_template = "hello_world"
    in_flight.account.save()
    ingest_batch(receipt(in_flight, MessageStatus.FAILED, error_code="x1", window_closed=True))
    assert EarlyStatus.objects.get().window_closed

    _record_accepted(in_flight, "wamid.OUT1")

    assert Escalation.objects.get().reason == "window_closed"
    assert Draft.objects.get(kind=DraftKind.TEMPLATE).status == DraftStatus.PENDING


def test_the_domain_reads_the_flag_never_the_providers_code(in_flight):
    in_flight.provider_message_id = "wamid.OUT1"
    in_flight.save()
    ingest_batch(receipt(in_flight, MessageStatus.FAILED, error_code="131047"))
    assert Escalation.objects.get().reason == "send_failed"
    assert not Draft.objects.exists()


def test_receipts_that_raced_the_send_are_applied_by_the_sweeper_in_order(in_flight):
    ingest_batch(receipt(in_flight, MessageStatus.READ))
    ingest_batch(receipt(in_flight, MessageStatus.DELIVERED))
    # The send job committed its id without seeing them (they were not committed yet).
    Message.objects.filter(pk=in_flight.pk).update(
        status=MessageStatus.SENT, provider_message_id="wamid.OUT1"
    )

    assert sweep_stalled_work().early_statuses == 2  # delivered, then read, whatever order they came in

    in_flight.refresh_from_db()
    assert in_flight.status == MessageStatus.READ
    assert not EarlyStatus.objects.exists()


def test_receipts_for_messages_never_sent_from_here_expire(in_flight):
    ingest_batch(receipt(in_flight, MessageStatus.DELIVERED))
    EarlyStatus.objects.update(received_at=timezone.now() - timedelta(hours=2))
    ingest_batch(receipt(in_flight, MessageStatus.SENT))

    sweep_stalled_work()

    assert list(EarlyStatus.objects.values_list("status", flat=True)) == [MessageStatus.SENT]
    in_flight.refresh_from_db()
    assert in_flight.status == MessageStatus.SENDING

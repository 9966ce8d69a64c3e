"""The draft job answers several conversations; one that fails must not hold the others back."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from conftest import PHONE_NUMBER_ID
from conversations import tasks
from conversations.inbound import InboundBatch, InboundMessage
from conversations.ingest import ingest_batch
from conversations.models import ChannelAccount, Conversation, Draft, Provider


def message(provider: str, account: str, sender: str) -> InboundMessage:
    return InboundMessage(
        provider=provider,
        account_address=account,
        provider_message_id=f"id.{sender}",
        sender_address=sender,
        text="Your bill is ready",
    )


def test_a_conversation_whose_draft_fails_is_reported_after_the_others_are_drafted(owner, graph_api):
    # A channel whose provider was removed from the settings: drafting there raises.
    ChannelAccount.objects.create(owner=owner, provider="fax", address="fax-1")
    ingest_batch(
        InboundBatch(
            messages=(
                message(Provider.WHATSAPP, str(PHONE_NUMBER_ID), "15550001"),
                message("fax", "fax-1", "15550002"),
                message(Provider.WHATSAPP, str(PHONE_NUMBER_ID), "15550003"),
            )
        )
    )
    first, broken, third = Conversation.objects.order_by("pk")

    with pytest.raises(ImproperlyConfigured, match="fax"):
        tasks.draft_reply(first.pk, broken.pk, third.pk)

    assert sorted(Draft.objects.values_list("conversation_id", flat=True)) == [first.pk, third.pk]
    broken.refresh_from_db()
    assert broken.reply_due_at is not None, "still pending: the sweeper tries it again"

"""Set-based ingest: what one delivery stores, and that its cost does not grow with its size.

Invariants (docs/architecture.md, "The flow and its invariants"): 2 (stored in one transaction, work
scheduled on commit) and 3 (a redelivered message changes nothing and schedules nothing).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations import jobs
from conversations.inbound import InboundBatch, InboundMessage, Kind
from conversations.ingest import ingest_batch
from conversations.models import (
    ChannelAccount,
    Contact,
    Conversation,
    ConversationStatus,
    Escalation,
    Message,
    Provider,
)

ACCOUNT = "106540352242922"


def arrival(number: int, sender: str = "15550001", **fields) -> InboundMessage:
    return InboundMessage(
        provider=Provider.WHATSAPP,
        account_address=ACCOUNT,
        provider_message_id=f"wamid.{number}",
        sender_address=sender,
        **{"text": f"message {number}", **fields},
    )


def statements(*messages: InboundMessage) -> int:
    """SQL statements one delivery of `messages` runs."""
    with CaptureQueriesContext(connection) as queries:
        ingest_batch(InboundBatch(messages=messages))
    return len(queries.captured_queries)


@pytest.fixture
def senders(owner):
    """A hundred senders who have written before, so their conversations exist."""
    addresses = [f"1555{n:04d}" for n in range(100)]
    ingest_batch(InboundBatch(messages=tuple(arrival(n, a) for n, a in enumerate(addresses))))
    jobs.recorded.clear()
    return addresses


def test_a_hundred_messages_cost_the_round_trips_of_one(senders):
    """The conversations' UPDATEs go as one pipelined executemany (one entry here)."""
    one = statements(arrival(1000, senders[0]))
    same_sender = statements(*(arrival(2000 + n, senders[0]) for n in range(100)))
    many_senders = statements(*(arrival(3000 + n, address) for n, address in enumerate(senders)))

    assert one == same_sender == many_senders
    assert one <= 5, (
        "savepoint, the SELECT of conversations with accounts and owner numbers, INSERT, UPDATE, release"
    )
    assert Message.objects.count() == 100 + 1 + 100 + 100


def test_new_senders_get_one_contact_and_one_conversation_at_a_constant_cost(owner):
    one_new = statements(arrival(1, "15559000"))
    fifty_new = statements(*(arrival(100 + n, f"1555{n:04d}") for n in range(50)))
    assert one_new == fifty_new

    ingest_batch(InboundBatch(messages=(arrival(500, "15550000"), arrival(501, "15550000"))))

    assert Contact.objects.count() == 51
    assert Conversation.objects.count() == 51
    assert Conversation.objects.get(contact__address="15550000").messages.count() == 3


def test_a_message_repeated_within_one_delivery_is_stored_once(owner):
    result = ingest_batch(InboundBatch(messages=(arrival(1), arrival(1))))

    assert (result.created, result.duplicates) == (1, 1)
    assert Message.objects.count() == 1


def test_a_redelivered_delivery_changes_nothing_and_schedules_nothing(
    owner, django_capture_on_commit_callbacks
):
    batch = InboundBatch(messages=(arrival(1), arrival(2, "15550002")))
    with django_capture_on_commit_callbacks(execute=True):
        ingest_batch(batch)
    before = list(Conversation.objects.order_by("pk").values())
    jobs.recorded.clear()

    with django_capture_on_commit_callbacks(execute=True):
        result = ingest_batch(batch)

    assert (result.created, result.duplicates) == (0, 2)
    assert list(Conversation.objects.order_by("pk").values()) == before
    assert jobs.recorded == []


def test_each_conversation_with_something_new_gets_one_draft_job(owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ingest_batch(
            InboundBatch(
                messages=(
                    arrival(1, "a"),
                    arrival(2, "a"),
                    arrival(3, "b"),
                    arrival(4, "c", kind=Kind.REACTION),
                )
            )
        )

    drafted = sorted(
        pk for job in jobs.recorded if job.path == "conversations.tasks.draft_reply" for pk in job.args
    )
    readable = Conversation.objects.filter(contact__address__in=["a", "b"]).order_by("pk")
    assert drafted == [c.pk for c in readable]
    assert all(c.reply_due_at is not None for c in readable)
    assert Conversation.objects.get(contact__address="c").reply_due_at is None


def test_the_owners_name_for_a_contact_is_kept_and_a_blank_one_filled(owner):
    ingest_batch(InboundBatch(messages=(arrival(1, "a"), arrival(2, "b", sender_name="Acme Mobile"))))
    Contact.objects.filter(address="b").update(name="My phone company")

    ingest_batch(
        InboundBatch(
            messages=(
                arrival(3, "a", sender_name="Power & Light", sender_phone="+15550003"),
                arrival(4, "b", sender_name="Acme Mobile Support"),
            )
        )
    )

    names = dict(Contact.objects.values_list("address", "name"))
    assert names == {"a": "Power & Light", "b": "My phone company"}
    assert Contact.objects.get(address="a").phone == "+15550003"


def test_a_reply_quoting_a_stored_message_links_to_it(owner):
    ingest_batch(InboundBatch(messages=(arrival(1),)))

    ingest_batch(
        InboundBatch(
            messages=(
                arrival(2, reply_to_provider_id="wamid.1"),
                arrival(3, reply_to_provider_id="wamid.gone"),
            )
        )
    )

    quoted = Message.objects.get(provider_message_id="wamid.1")
    assert Message.objects.get(provider_message_id="wamid.2").reply_to == quoted
    assert Message.objects.get(provider_message_id="wamid.3").reply_to is None


def test_the_latest_inbound_time_never_moves_back_for_a_late_delivery(owner):
    now = timezone.now().replace(microsecond=0)
    ingest_batch(InboundBatch(messages=(arrival(1, sent_at=now),)))

    ingest_batch(InboundBatch(messages=(arrival(2, sent_at=now - timedelta(hours=1)),)))

    assert Conversation.objects.get().last_inbound_at == now


def test_a_new_message_reopens_a_closed_conversation_and_leaves_an_escalated_one_flagged(owner):
    ingest_batch(InboundBatch(messages=(arrival(1, "a"), arrival(2, "b"))))
    Conversation.objects.filter(contact__address="a").update(status=ConversationStatus.CLOSED)
    Conversation.objects.filter(contact__address="b").update(status=ConversationStatus.NEEDS_ATTENTION)

    ingest_batch(InboundBatch(messages=(arrival(3, "a"), arrival(4, "b"))))

    statuses = dict(Conversation.objects.values_list("contact__address", "status"))
    assert statuses == {"a": ConversationStatus.OPEN, "b": ConversationStatus.NEEDS_ATTENTION}


def test_an_unreadable_message_escalates_its_conversation(owner):
    ingest_batch(InboundBatch(messages=(arrival(1, kind=Kind.AUDIO, text=""),)))

    conversation = Conversation.objects.get()
    assert conversation.status == ConversationStatus.NEEDS_ATTENTION
    assert Escalation.objects.get().detail.endswith("sent a message the assistant cannot read (audio).")


def test_a_sender_known_from_another_channel_keeps_one_contact_with_a_conversation_per_channel(owner):
    ingest_batch(InboundBatch(messages=(arrival(1, "15550001", sender_name="Acme Mobile"),)))
    Contact.objects.update(name="My phone company")
    twilio = ChannelAccount.objects.create(owner=owner, provider=Provider.TWILIO, address="+15557654321")

    ingest_batch(
        InboundBatch(
            messages=(
                InboundMessage(
                    provider=Provider.TWILIO,
                    account_address=twilio.address,
                    provider_message_id="SM1",
                    sender_address="15550001",
                    sender_name="Acme",
                    text="Also on this number",
                ),
            )
        )
    )

    contact = Contact.objects.get()
    assert contact.name == "My phone company"
    assert sorted(contact.conversations.values_list("account__provider", flat=True)) == ["twilio", "whatsapp"]


def test_a_delivery_from_many_senders_makes_a_few_draft_jobs_covering_each_once(
    owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ingest_batch(InboundBatch(messages=tuple(arrival(n, f"1555{n:04d}") for n in range(25))))

    batches = [job.args for job in jobs.recorded if job.path == "conversations.tasks.draft_reply"]
    assert [len(args) for args in batches] == [10, 10, 5]
    assert sorted(pk for args in batches for pk in args) == sorted(
        Conversation.objects.values_list("pk", flat=True)
    )

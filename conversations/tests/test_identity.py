"""One identity per contact in `ingest_batch`: found by phone or user id, set-based, never merged across
user ids or owners (docs/architecture.md, "One identity per contact"); and migration 0008 linking the
contacts stored before."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from conversations import jobs
from conversations.inbound import InboundBatch, InboundMessage
from conversations.ingest import ingest_batch
from conversations.models import Contact, Conversation, Message, Provider
from conversations.setup import owner_setup

ACCOUNT = "106540352242922"


def arrival(number: int, *, phone: str = "", user_id: str = "", account: str = ACCOUNT) -> InboundMessage:
    """A WhatsApp message as the parser makes it: the address is the user id when known, else the phone."""
    return InboundMessage(
        provider=Provider.WHATSAPP,
        account_address=account,
        provider_message_id=f"wamid.{number}",
        sender_address=user_id or phone,
        sender_phone=phone,
        sender_user_id=user_id,
        text=f"message {number}",
    )


def statements(*messages: InboundMessage) -> int:
    with CaptureQueriesContext(connection) as queries:
        ingest_batch(InboundBatch(messages=messages))
    return len(queries.captured_queries)


@pytest.mark.django_db
def test_one_delivery_naming_a_new_sender_both_ways_makes_one_contact(owner):
    ingest_batch(
        InboundBatch(
            messages=(
                arrival(1, phone="15550001"),
                arrival(2, phone="15550001", user_id="US.77"),
                arrival(3, user_id="US.77"),
            )
        )
    )
    contact = Contact.objects.get()
    assert (contact.phone, contact.user_id) == ("15550001", "US.77")
    assert Conversation.objects.get().messages.count() == 3


@pytest.mark.django_db
def test_senders_known_by_user_id_cost_what_senders_known_by_phone_cost(owner):
    phones = [f"1555{n:04d}" for n in range(100)]
    ingest_batch(InboundBatch(messages=tuple(arrival(n, phone=p) for n, p in enumerate(phones))))
    ingest_batch(InboundBatch(messages=tuple(arrival(100 + n, user_id=f"US.{n}") for n in range(100))))
    # Every phone sender now also shows its user id once, which records it (one UPDATE each).
    ingest_batch(
        InboundBatch(
            messages=tuple(arrival(200 + n, phone=p, user_id=f"US.P{n}") for n, p in enumerate(phones))
        )
    )
    jobs.recorded.clear()

    by_phone = statements(*(arrival(1000 + n, phone=p) for n, p in enumerate(phones)))
    by_user_id = statements(*(arrival(2000 + n, user_id=f"US.{n}") for n in range(100)))
    by_both = statements(*(arrival(3000 + n, phone=p, user_id=f"US.P{n}") for n, p in enumerate(phones)))
    assert by_phone == by_user_id == by_both <= 6
    assert Contact.objects.count() == 200


@pytest.mark.django_db
def test_a_payload_pairing_one_contacts_phone_with_another_contacts_user_id_merges_nothing(owner):
    """A lying (or recycled-number) payload: the user id decides who it is; nothing is merged."""
    ingest_batch(InboundBatch(messages=(arrival(1, phone="15550001", user_id="US.1"),)))
    ingest_batch(InboundBatch(messages=(arrival(2, user_id="US.2"),)))

    ingest_batch(InboundBatch(messages=(arrival(3, phone="15550001", user_id="US.2"),)))

    first, second = Contact.objects.order_by("pk")
    assert (first.phone, first.user_id) == ("15550001", "US.1")
    assert second.user_id == "US.2"
    assert Message.objects.get(provider_message_id="wamid.3").conversation.contact == second


@pytest.mark.django_db
def test_another_owners_contact_with_the_same_identifiers_is_never_used(owner):
    other = owner_setup(username="other", accounts={"whatsapp": "999000111"}).owner
    ingest_batch(InboundBatch(messages=(arrival(1, phone="15550001", user_id="US.1", account="999000111"),)))

    ingest_batch(InboundBatch(messages=(arrival(2, phone="15550001", user_id="US.1"),)))

    assert Contact.objects.filter(owner=owner).count() == Contact.objects.filter(owner=other).count() == 1
    assert Message.objects.get(provider_message_id="wamid.2").conversation.owner == owner


@pytest.mark.django_db(transaction=True)
def test_migration_0008_links_contacts_stored_before_by_their_address():
    before, after = [("conversations", "0007_daily_digest")], [("conversations", "0008_contact_identity")]

    def migrate(targets):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(targets)
        return executor.loader.project_state(targets).apps

    apps = migrate(before)
    try:
        user = apps.get_model("conversations", "User").objects.create(username="old")
        Contact = apps.get_model("conversations", "Contact")
        by_phone = Contact.objects.create(owner=user, address="15550001111").pk
        by_user_id = Contact.objects.create(owner=user, address="US.13491208655302741918", phone="US.1349").pk
        visitor = Contact.objects.create(owner=user, address="webchat:0f1e2d3c").pk

        Contact = migrate(after).get_model("conversations", "Contact")
        assert Contact.objects.values_list("phone", "user_id").get(pk=by_phone) == ("15550001111", "")
        assert Contact.objects.values_list("phone", "user_id").get(pk=by_user_id) == (
            "",
            "US.13491208655302741918",
        )
        assert Contact.objects.values_list("phone", "user_id").get(pk=visitor) == ("", "")
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

"""Ingest's hand-written lookup reads exactly what the ORM would: the same rows, the same values.

It replaces a queryset on the webhook's hot path (conversations/sender_conversations.py), so it
is checked against that queryset on whichever database the suite runs (SQLite converts dates,
booleans and JSON on the way out; PostgreSQL does not).
"""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from conversations import identity
from conversations.models import ChannelAccount, Contact, Conversation, OwnerSettings, Provider, User
from conversations.owner_commands import own_number_of
from conversations.sender_conversations import conversations_of


def fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def a_conversation(owner: User, account: ChannelAccount, **contact: str) -> Conversation:
    found = Contact.objects.create(owner=owner, **contact)
    return Conversation.objects.create(owner=owner, account=account, contact=found)


def test_each_sender_is_found_by_phone_user_id_or_address_with_every_value_as_the_orm_reads_it(owner):
    account = ChannelAccount.objects.create(
        owner=owner, provider=Provider.WHATSAPP, address="1065", allowed_origins=["https://a.example"]
    )
    OwnerSettings.objects.filter(owner=owner).update(notify_whatsapp="+44 7700 900123")
    by_phone = a_conversation(owner, account, address="15550001", phone="15550001")
    by_user_id = a_conversation(owner, account, address="US.77", user_id="US.77")
    by_address = a_conversation(owner, account, address="group:42", name="A group")
    Conversation.objects.filter(pk=by_phone.pk).update(bot_paused=True, last_inbound_at=timezone.now())
    Contact.objects.filter(pk=by_user_id.contact_id).update(
        put_through=True, identity_changed_at=timezone.now()
    )
    a_conversation(owner, account, address="15550009", phone="15550009")  # not among the senders
    senders = [
        identity.Sender(address="15550001", phone="15550001"),
        identity.Sender(address="US.77", user_id="US.77"),
        identity.Sender(address="group:42"),
    ]

    found = conversations_of({(Provider.WHATSAPP, "1065"): senders})

    expected = (
        Conversation.objects.select_related("account", "contact")
        .filter(Q(account=account) & identity.lookup(senders, "contact__"))
        .annotate(own_number=own_number_of("account__owner_id"))
    )
    assert sorted(c.pk for c in found) == sorted([by_phone.pk, by_user_id.pk, by_address.pk])
    by_pk = {c.pk: c for c in found}
    for conversation in expected:
        one = by_pk[conversation.pk]
        assert fields(one) == fields(conversation)
        assert fields(one.account) == fields(conversation.account)
        assert fields(one.contact) == fields(conversation.contact)
        assert one.own_number == conversation.own_number == "+44 7700 900123"
        assert not one._state.adding


def test_only_the_accounts_owner_contacts_and_only_that_account_count(owner):
    bob = User.objects.create_user(username="bob", password="bob-password")
    mine = ChannelAccount.objects.create(owner=owner, provider=Provider.WHATSAPP, address="1065")
    other = ChannelAccount.objects.create(owner=owner, provider=Provider.WHATSAPP, address="1066")
    ours = a_conversation(owner, mine, address="15550001", phone="15550001")
    a_conversation(owner, other, address="15550002", phone="15550002")
    bobs_contact = Contact.objects.create(owner=bob, address="15550003", phone="15550003")
    Conversation.objects.create(owner=owner, account=mine, contact=bobs_contact)

    found = conversations_of(
        {
            (Provider.WHATSAPP, "1065"): [
                identity.Sender(address=n, phone=n) for n in ("15550001", "15550002", "15550003")
            ]
        }
    )

    assert [c.pk for c in found] == [ours.pk]
    assert found[0].own_number in ("", None)


def test_senders_without_any_identifier_look_nothing_up(owner, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert conversations_of({(Provider.WHATSAPP, "1065"): [identity.Sender(address="")]}) == []

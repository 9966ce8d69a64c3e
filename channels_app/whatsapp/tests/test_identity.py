"""One identity per contact, groups and system notices, end to end (docs/architecture.md, "One
identity per contact"): each recorded payload (the fixtures folder) is posted signed to
/webhook/whatsapp and checked in the stored rows, the contact, what the Graph stand-in was
asked to send, and what the owner's conversation page shows."""

from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse

from channels_app.whatsapp.parser import parse_webhook
from channels_app.whatsapp.tests.helpers import fixture_payload
from conversations import services
from conversations.inbound import Kind
from conversations.models import (
    AuditAction,
    AuditEntry,
    Contact,
    Conversation,
    DraftStatus,
    Escalation,
    EscalationReason,
    Message,
    Rule,
    RuleAction,
)

pytestmark = pytest.mark.django_db

PHONE = "16505551234"
NEW_PHONE = "16505559876"
USER_ID = "US.13491208655302741918"
PARENT_USER_ID = "US.ENT.11815799212886844830"
GROUP_ID = "Y2FwaV9ncm91cDoxNTU1MDc4Mzg4MToxMjAzNjMzOTk5MDAwMDAwMDAZD"


def fresh(name: str, *, message_id: str | None = None, **changes) -> dict:
    """A recorded payload sent now (so WhatsApp's 24-hour window is open), its message changed."""
    payload = fixture_payload(name)
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["timestamp"] = str(int(time.time()))
    if message_id:
        message["id"] = message_id
    message.update(changes)
    return payload


def delegate(owner, *senders: str) -> None:
    """The owner lets the assistant answer these senders by itself: any reply would go out."""
    updated = Rule.objects.filter(owner=owner, category="cellphone_provider").update(
        action=RuleAction.AUTO, match_senders=list(senders)
    )
    assert updated == 1


def answer(model, reply: str = "Thank you, we will look into it.") -> None:
    model.respond_json(reply=reply, category="cellphone_provider", confidence=0.99, reason="A question.")


def page_of(owner, client, conversation: Conversation) -> str:
    client.force_login(owner)
    response = client.get(reverse("admin:conversations_conversation_change", args=[conversation.pk]))
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def reply_by_hand(owner, run_jobs, django_capture_on_commit_callbacks):
    """The owner answers on the conversation page; the send job runs."""

    def reply(conversation: Conversation, text: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            services.conversation_reply(conversation_id=conversation.pk, by=owner, text=text)
        run_jobs()

    return reply


# -- one identity: phone number and business-scoped user id ---------------------------------------


def test_a_company_seen_by_phone_then_by_user_id_is_one_contact_with_one_conversation(
    owner, deliver, run_jobs
):
    deliver(payload=fresh("text", message_id="wamid.PHONE.1"))
    deliver(payload=fresh("text_phone_and_bsuid"))
    deliver(payload=fresh("text_bsuid", message_id="wamid.BSUID.ONLY.1"))

    contact = Contact.objects.get()
    assert (contact.phone, contact.user_id, contact.parent_user_id) == (PHONE, USER_ID, PARENT_USER_ID)
    conversation = Conversation.objects.get()
    assert conversation.contact == contact
    assert conversation.messages.count() == 3


def test_a_company_seen_first_without_a_phone_gains_it_and_stays_one_contact(owner, deliver):
    deliver(payload=fresh("text_bsuid"))
    deliver(payload=fresh("text_phone_and_bsuid"))
    deliver(payload=fresh("text", message_id="wamid.PHONE.2"))

    contact = Contact.objects.get()
    assert (contact.address, contact.phone, contact.user_id) == (USER_ID, PHONE, USER_ID)
    assert Conversation.objects.get().messages.count() == 3


def test_a_phoneless_sender_is_answered_at_its_user_id_never_at_its_digits(
    owner, graph_api, model, deliver, run_jobs
):
    delegate(owner, USER_ID)
    answer(model)
    deliver(payload=fresh("text_bsuid"))
    run_jobs()

    contact = Contact.objects.get()
    assert (contact.phone, contact.user_id) == ("", USER_ID)
    (sent,) = graph_api.sent_texts()
    assert sent.payload["recipient"] == USER_ID
    assert "to" not in sent.payload


def test_a_known_phone_is_used_rather_than_the_user_id(owner, graph_api, deliver, reply_by_hand):
    deliver(payload=fresh("text_phone_and_bsuid"))
    reply_by_hand(Conversation.objects.get(), "We are on it.")

    (sent,) = graph_api.sent_texts()
    assert sent.payload["to"] == f"+{PHONE}"
    assert "recipient" not in sent.payload


def test_two_user_ids_are_two_people_even_with_the_same_phone(owner, deliver):
    """A number moved to someone else (or a lying payload) never merges two user ids."""
    deliver(payload=fresh("text_phone_and_bsuid"))
    other = fresh("text_phone_and_bsuid", message_id="wamid.OTHER.1", from_user_id="IN.13491208655302741918")
    other["entry"][0]["changes"][0]["value"]["contacts"][0]["user_id"] = "IN.13491208655302741918"
    deliver(payload=other)

    assert sorted(Contact.objects.values_list("user_id", flat=True)) == [
        "IN.13491208655302741918",
        USER_ID,
    ]
    assert Conversation.objects.count() == 2


def test_a_user_id_in_from_is_not_read_as_a_phone_number():
    payload = fresh("text_bsuid")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["from"] = USER_ID
    (message,) = parse_webhook(payload).messages
    assert (message.sender_phone, message.sender_user_id) == ("", USER_ID)


# -- groups ----------------------------------------------------------------------------------------


def test_a_group_message_gets_a_group_conversation_and_is_never_answered_by_itself(
    owner, client, graph_api, deliver, run_jobs
):
    delegate(owner, f"+{PHONE}")  # the member's own messages may be answered automatically
    deliver(payload=fresh("text", message_id="wamid.PRIVATE.1"))
    run_jobs()  # the scripted default engine may answer the member's private message
    private_sends = len(graph_api.sent_texts())

    deliver(payload=fresh("group_text"))
    run_jobs()

    group = Conversation.objects.get(contact__address=f"group:{GROUP_ID}")
    assert group.contact.is_group and group.contact.phone == "" and group.contact.user_id == ""
    assert Conversation.objects.count() == 2  # the member's own conversation is not where it went
    message = group.messages.get()
    assert message.metadata["member"] == {"phone": PHONE, "name": "Sheena Nelson", "label": "Sheena Nelson"}
    assert len(graph_api.sent_texts()) == private_sends  # nothing sent for the group message
    assert not group.drafts.exists()
    assert Escalation.objects.filter(conversation=group, reason=EscalationReason.GROUP).exists()

    page = page_of(owner, client, group)
    assert "WhatsApp group" in page and "Sheena Nelson" in page


def test_the_owners_reply_to_a_group_goes_to_the_group_not_to_the_member(
    owner, graph_api, deliver, reply_by_hand
):
    deliver(payload=fresh("group_text"))
    group = Conversation.objects.get()
    reply_by_hand(group, "Delivery is on Friday for everyone.")

    (sent,) = graph_api.sent_texts()
    assert (sent.payload["recipient_type"], sent.payload["to"]) == ("group", GROUP_ID)
    assert PHONE not in str(sent.payload)


# -- system notices --------------------------------------------------------------------------------


def test_a_number_change_keeps_the_conversation_and_replies_go_to_the_new_number(
    owner, graph_api, deliver, reply_by_hand
):
    deliver(payload=fresh("text", message_id="wamid.OLD.1"))
    deliver(payload=fresh("system_user_changed_number"))

    contact = Contact.objects.get()
    assert contact.phone == NEW_PHONE
    notice = Message.objects.get(kind=Kind.SYSTEM)
    assert notice.metadata["new_phone"] == NEW_PHONE
    assert "changed from" in notice.text
    assert not Escalation.objects.filter(reason=EscalationReason.UNREADABLE).exists()

    later = fresh("text", message_id="wamid.NEW.1", **{"from": NEW_PHONE})
    later["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"] = NEW_PHONE
    deliver(payload=later)
    conversation = Conversation.objects.get()
    assert conversation.messages.count() == 3

    reply_by_hand(conversation, "Noted, thanks.")
    (sent,) = graph_api.sent_texts()
    assert sent.payload["to"] == f"+{NEW_PHONE}"


def test_a_changed_identity_holds_replies_until_the_owner_confirms_it(
    owner, client, graph_api, model, deliver, run_jobs
):
    delegate(owner, f"+{PHONE}")
    deliver(payload=fresh("text", message_id="wamid.BEFORE.1"))
    deliver(payload=fresh("system_customer_identity_changed"))
    conversation = Conversation.objects.get()
    contact = conversation.contact
    contact.refresh_from_db()
    assert contact.identity_changed_at is not None
    assert Escalation.objects.filter(reason=EscalationReason.UNVERIFIED_SENDER).exists()

    answer(model)
    deliver(payload=fresh("text", message_id="wamid.AFTER.1"))
    run_jobs()
    assert graph_api.sent_texts() == []  # delegated, but the identity is unverified
    held = conversation.drafts.get()
    assert held.status == DraftStatus.PENDING
    assert "unverified_sender" in [finding["guard"] for finding in held.guards]
    page = page_of(owner, client, conversation)
    assert "identity changed" in page and "Confirm it is still them" in page

    url = reverse("admin:conversations_conversation_confirm_identity", args=[conversation.pk])
    assert client.post(url).status_code == 302
    contact.refresh_from_db()
    assert contact.identity_changed_at is None
    assert AuditEntry.objects.filter(action=AuditAction.CONFIRM_IDENTITY, actor=owner).exists()

    answer(model)
    deliver(payload=fresh("text", message_id="wamid.CONFIRMED.1", text={"body": "Is blue in stock?"}))
    run_jobs()
    assert [sent.payload["to"] for sent in graph_api.sent_texts()] == [f"+{PHONE}"]


def test_another_owner_cannot_confirm_a_changed_identity(owner, client, deliver, django_user_model):
    deliver(payload=fresh("system_customer_identity_changed"))
    conversation = Conversation.objects.get()
    stranger = django_user_model.objects.create_user("stranger", password="x", is_staff=True)
    client.force_login(stranger)
    url = reverse("admin:conversations_conversation_confirm_identity", args=[conversation.pk])
    assert client.post(url).status_code in (302, 403, 404)
    conversation.contact.refresh_from_db()
    assert conversation.contact.identity_changed_at is not None

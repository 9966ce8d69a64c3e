"""Echoes, edits, revokes, unreadable messages, orders, Flow replies and welcome requests, end to end:
each recorded payload (the fixtures folder) is posted signed to /webhook/whatsapp and checked in
the stored rows, the contact, the jobs it leaves, and what the owner's conversation page shows."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from channels_app.whatsapp.tests.helpers import fixture_payload as recorded_payload
from conversations.models import (
    AuditEntry,
    Author,
    ChannelAccount,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Draft,
    DraftStatus,
    Escalation,
    Message,
    MessageStatus,
    Rule,
    RuleAction,
    User,
)

pytestmark = pytest.mark.django_db

CONTACT = "16505551234"
ORIGINAL_ID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
ORIGINAL_TEXT = "Does it come in another color?"
EDITED_TEXT = "Does it come in another colour, blue maybe?"


def delegate(owner) -> None:
    """The owner lets the assistant answer this contact by itself: any reply would go out."""
    updated = Rule.objects.filter(owner=owner, category="cellphone_provider").update(
        action=RuleAction.AUTO, match_senders=[f"+{CONTACT}"]
    )
    assert updated == 1


def answer(model, reply: str = "Yes, it also comes in blue.") -> None:
    model.respond_json(
        reply=reply, category="cellphone_provider", confidence=0.99, reason="A product question."
    )


def fixture_payload(name: str) -> dict:
    """A recorded payload sent just now: its recorded timestamps would put the contact outside
    WhatsApp's 24-hour window, where no free-form reply can be sent at all."""
    payload = recorded_payload(name)
    now = str(int(time.time()))
    for entry in payload["entry"]:
        for change in entry["changes"]:
            for item in change["value"].get("messages", []) + change["value"].get("message_echoes", []):
                item["timestamp"] = now
    return payload


def with_id(name: str, message_id: str) -> dict:
    """A recorded payload whose (first) message has another id: a second message of the same shape."""
    payload = fixture_payload(name)
    value = payload["entry"][0]["changes"][0]["value"]
    (value.get("messages") or value.get("message_echoes"))[0]["id"] = message_id
    return payload


def page_of(owner, client, conversation: Conversation) -> str:
    client.force_login(owner)
    response = client.get(reverse("admin:conversations_conversation_change", args=[conversation.pk]))
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def prompts(model) -> str:
    return " ".join(json.dumps(r.body, ensure_ascii=False) for r in model.requests if r.method == "POST")


# -- echoes: what the owner typed in the WhatsApp Business app ----------------------------------


def test_without_an_echo_the_delegated_contact_is_answered(owner, graph_api, model, deliver, run_jobs):
    """The control for the echo tests below: the same set-up does reply when the owner did not."""
    delegate(owner)
    answer(model)
    deliver(payload=fixture_payload("text"))
    run_jobs()
    assert [sent.text for sent in graph_api.sent_texts()] == ["Yes, it also comes in blue."]


def test_an_echo_is_the_owners_message_and_silences_the_assistant(
    owner, graph_api, model, deliver, run_jobs, client
):
    delegate(owner)
    answer(model)
    deliver(payload=fixture_payload("text"))
    assert deliver(payload=fixture_payload("echo_text")).status_code == 200
    run_jobs()

    echo = Message.objects.get(direction=Direction.OUT)
    assert (echo.author, echo.status, echo.kind) == (Author.OWNER, MessageStatus.SENT, "text")
    assert echo.text == "Hi Sheena, I will call you this afternoon."
    assert echo.metadata["echo"] is True and echo.sent_at is not None
    conversation = Conversation.objects.get()
    assert conversation.bot_paused and echo.conversation_id == conversation.pk
    assert conversation.contact.address == CONTACT
    assert graph_api.sent_texts() == [] and not Draft.objects.exists()
    assert AuditEntry.objects.get(action="manual_reply").summary.startswith(
        "Replied in the WhatsApp Business app"
    )

    # Later messages in that conversation are not answered either: the owner has it.
    deliver(payload=with_id("text", "wamid.LATER1"))
    run_jobs()
    assert graph_api.sent_texts() == [] and not Draft.objects.exists()
    assert "in the WhatsApp Business app" in page_of(owner, client, conversation)


def test_a_redelivered_echo_is_stored_once(owner, graph_api, deliver):
    deliver(payload=fixture_payload("echo_text"))
    deliver(payload=fixture_payload("echo_text"))
    assert Message.objects.filter(direction=Direction.OUT).count() == 1
    assert AuditEntry.objects.filter(action="manual_reply").count() == 1


def test_an_echo_withdraws_the_pending_drafts(owner, graph_api, model, deliver, run_jobs):
    answer(model)
    deliver(payload=fixture_payload("text"))
    run_jobs()
    draft = Draft.objects.get()
    assert draft.status == DraftStatus.PENDING, "the default rule holds the reply for approval"

    deliver(payload=fixture_payload("echo_text"))
    draft.refresh_from_db()
    assert draft.status == DraftStatus.WITHDRAWN
    assert "1 pending draft(s) withdrawn" in AuditEntry.objects.get(action="manual_reply").summary


def test_an_echo_to_a_new_contact_starts_a_conversation_the_owner_holds(owner, graph_api, deliver, run_jobs):
    delegate(owner)
    deliver(payload=fixture_payload("echo_text"))
    contact = Contact.objects.get()
    assert (contact.address, contact.owner_id) == (CONTACT, owner.pk)

    deliver(payload=fixture_payload("text"))
    run_jobs()
    assert Conversation.objects.get().bot_paused
    assert graph_api.sent_texts() == []


def echo_to_user_id(*, phone: str | None) -> dict:
    payload = fixture_payload("echo_text")
    echo = payload["entry"][0]["changes"][0]["value"]["message_echoes"][0]
    echo["to_user_id"] = "US.13491208655302741918"
    if phone is None:
        del echo["to"]
    return payload


def test_an_echo_to_a_user_id_reaches_the_contact_known_by_that_user_id(owner, graph_api, deliver):
    deliver(payload=fixture_payload("text_bsuid"))
    deliver(payload=echo_to_user_id(phone=None))

    conversation = Conversation.objects.get()
    assert conversation.bot_paused and Contact.objects.count() == 1
    assert conversation.messages.filter(direction=Direction.OUT, author=Author.OWNER).count() == 1


def test_an_echo_naming_phone_and_user_id_reaches_the_contact_known_by_phone(owner, graph_api, deliver):
    deliver(payload=fixture_payload("text"))
    deliver(payload=echo_to_user_id(phone=CONTACT))

    contact = Contact.objects.get()
    assert (contact.phone, contact.user_id) == (CONTACT, "US.13491208655302741918")
    assert Conversation.objects.get().bot_paused


def test_an_echo_on_one_owners_number_never_touches_another_owners_conversation(owner, graph_api, deliver):
    other = User.objects.create_user(username="other", password="x")
    ChannelAccount.objects.create(owner=other, provider="whatsapp", address="109876543210987")
    theirs = with_id("text", "wamid.THEIRS1")
    theirs["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "109876543210987"
    deliver(payload=theirs)
    deliver(payload=fixture_payload("echo_text"))

    assert not Conversation.objects.get(owner=other).bot_paused
    assert Conversation.objects.get(owner=owner).bot_paused
    assert Contact.objects.filter(owner=other).count() == Contact.objects.filter(owner=owner).count() == 1


def test_an_echo_for_a_number_nobody_linked_stores_nothing(owner, deliver, caplog):
    payload = fixture_payload("echo_text")
    payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999"
    assert deliver(payload=payload).status_code == 200
    assert not Message.objects.exists()
    assert "echo" in caplog.text and "unknown" in caplog.text


# -- edits ----------------------------------------------------------------------------------------


def test_an_edit_before_the_answer_changes_what_the_draft_answers(
    owner, graph_api, model, deliver, run_jobs, client
):
    answer(model)
    deliver(payload=fixture_payload("text"))
    deliver(payload=fixture_payload("edit_text"))
    run_jobs()

    original = Message.objects.get(provider_message_id=ORIGINAL_ID)
    assert original.text == EDITED_TEXT and original.edited_at is not None
    assert [version["text"] for version in original.metadata["history"]] == [ORIGINAL_TEXT]
    edit = Message.objects.get(kind="edit")
    assert edit.metadata["applied_to"] == original.pk
    # One draft, for the original's turn, written from the new text; no escalation for an edit.
    draft = Draft.objects.get()
    assert draft.answers_through == edit.pk or draft.answers_through == original.pk
    assert "blue maybe" in prompts(model)
    assert not Escalation.objects.exists()

    page = page_of(owner, client, original.conversation)
    assert EDITED_TEXT in page and "edited" in page and "Earlier version" in page and ORIGINAL_TEXT in page


def test_an_edit_of_an_answered_message_is_answered_as_a_new_turn(owner, graph_api, model, deliver, run_jobs):
    delegate(owner)
    answer(model, "It comes in red.")
    deliver(payload=fixture_payload("text"))
    run_jobs()
    # The contact reads the reply and corrects their question a minute later (a faster answer
    # is how the loop guard tells another bot).
    minute_ago = timezone.now() - timedelta(minutes=1)
    Message.objects.filter(direction=Direction.OUT).update(sent_at=minute_ago, created_at=minute_ago)
    answer(model, "Yes, blue too.")
    deliver(payload=fixture_payload("edit_text"))
    run_jobs()

    original = Message.objects.get(provider_message_id=ORIGINAL_ID)
    assert original.text == EDITED_TEXT and len(original.metadata["history"]) == 1
    turn = Message.objects.get(metadata__edit_of=ORIGINAL_ID)
    assert (turn.kind, turn.text) == ("text", EDITED_TEXT)
    assert [sent.text for sent in graph_api.sent_texts()] == ["It comes in red.", "Yes, blue too."]


def test_a_redelivered_edit_changes_nothing(owner, graph_api, deliver):
    deliver(payload=fixture_payload("text"))
    deliver(payload=fixture_payload("edit_text"))
    deliver(payload=fixture_payload("edit_text"))
    original = Message.objects.get(provider_message_id=ORIGINAL_ID)
    assert len(original.metadata["history"]) == 1
    assert Message.objects.filter(direction=Direction.IN).count() == 2


def test_an_edit_of_a_message_never_received_is_kept_as_a_message_and_escalated(owner, graph_api, deliver):
    deliver(payload=fixture_payload("edit_image_caption"))

    message = Message.objects.get()
    assert (message.kind, message.text) == ("image", "Updated caption")
    assert message.metadata["original_unknown"] is True
    assert message.metadata["media_id"] == "2754859441498128"
    assert Escalation.objects.get().reason == "unreadable_message"


def test_a_contact_cannot_edit_another_contacts_message(owner, graph_api, deliver):
    """The original is looked up in the editor's own conversation only."""
    deliver(payload=fixture_payload("text"))
    edit = fixture_payload("edit_text")
    value = edit["entry"][0]["changes"][0]["value"]
    value["messages"][0]["from"] = value["contacts"][0]["wa_id"] = "15559990000"
    deliver(payload=edit)

    assert Message.objects.get(provider_message_id=ORIGINAL_ID).text == ORIGINAL_TEXT
    assert Message.objects.get(metadata__edit_of=ORIGINAL_ID).metadata["original_unknown"] is True


# -- revokes --------------------------------------------------------------------------------------


def test_a_revoke_marks_the_original_keeps_its_text_and_escalates_nothing(
    owner, graph_api, model, deliver, run_jobs, client
):
    delegate(owner)
    answer(model)
    deliver(payload=fixture_payload("text"))
    deliver(payload=fixture_payload("revoke"))
    run_jobs()

    original = Message.objects.get(provider_message_id=ORIGINAL_ID)
    assert original.revoked_at is not None and original.text == ORIGINAL_TEXT
    assert Message.objects.get(kind="revoke").metadata["applied_to"] == original.pk
    assert not Escalation.objects.exists()
    # Deleted before it was answered: nobody answers it.
    assert graph_api.sent_texts() == [] and not Draft.objects.exists() and model.requests == []
    assert Conversation.objects.get().status == ConversationStatus.OPEN
    assert "revoked by the contact" in page_of(owner, client, original.conversation)


def test_a_revoke_of_a_message_never_received_is_recorded_quietly(owner, deliver):
    deliver(payload=fixture_payload("revoke"))
    assert Message.objects.get().metadata["original_unknown"] is True
    assert not Escalation.objects.exists()


# -- nothing dropped ------------------------------------------------------------------------------


def test_a_message_with_an_error_and_no_content_is_stored_and_escalated(owner, deliver, client):
    assert deliver(payload=fixture_payload("message_error_131000")).status_code == 200

    message = Message.objects.get()
    assert (message.kind, message.direction) == ("unsupported", Direction.IN)
    assert message.metadata["errors"][0]["code"] == "131000"
    assert "interactive" in message.metadata["problem"]
    assert Escalation.objects.get().reason == "unreadable_message"
    assert "error 131000" in page_of(owner, client, message.conversation)


def test_a_legacy_voice_message_is_a_voice_note(owner, deliver):
    deliver(payload=fixture_payload("voice_legacy"))
    message = Message.objects.get()
    assert (message.kind, message.metadata["voice"], message.metadata["media_id"]) == (
        "audio",
        True,
        "1234567890987654322",
    )


# -- details readable -----------------------------------------------------------------------------


def test_an_order_keeps_its_items_readable_and_asks_the_owner(owner, deliver, client):
    deliver(payload=fixture_payload("order"))

    message = Message.objects.get()
    assert message.kind == "order"
    order = message.metadata["order"]
    assert order["catalog_id"] == "1537289710271478" and order["note"] == "Please deliver before Friday"
    assert order["items"] == [
        {"product_retailer_id": "router-ax3000", "quantity": "1", "item_price": "89.9", "currency": "EUR"},
        {"product_retailer_id": "cable-cat6-5m", "quantity": "2", "item_price": "7.5", "currency": "EUR"},
    ]
    assert message.text.startswith("Order: 1 x router-ax3000 (89.9 EUR); 2 x cable-cat6-5m (7.5 EUR)")
    assert Escalation.objects.get().reason == "unreadable_message"
    page = page_of(owner, client, message.conversation)
    assert "<td>cable-cat6-5m</td><td>2</td><td>7.5 EUR</td>" in page.replace("> <", "><")
    assert "Please deliver before Friday" in page


def test_a_flow_reply_keeps_its_answers_readable(owner, deliver, client):
    deliver(payload=fixture_payload("flow_reply"))

    message = Message.objects.get()
    flow = message.metadata["flow"]
    assert message.kind == "flow"
    assert flow["answers"] == {
        "appointment_date": "2026-04-14",
        "time_slot": "09:00-12:00",
        "service": "Fiber installation",
    }
    assert flow["flow_token"] == "AQAAAAACS5FpgQ_cAAAAAD0QI3s."
    assert "appointment_date: 2026-04-14" in message.text
    page = page_of(owner, client, message.conversation)
    assert "Flow answers" in page and "<dt>service</dt><dd>Fiber installation</dd>" in page


def test_a_welcome_request_is_recorded_without_escalation(owner, graph_api, deliver, run_jobs, client):
    deliver(payload=fixture_payload("request_welcome"))
    run_jobs()

    message = Message.objects.get()
    assert (message.kind, message.metadata) == ("request_welcome", {"welcome_request": True})
    assert Contact.objects.get().address == CONTACT
    assert not Escalation.objects.exists() and not Draft.objects.exists()
    assert "opened the chat for the first time" in page_of(owner, client, message.conversation)

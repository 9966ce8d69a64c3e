"""/webhook/twilio and /webhook/twilio/status: TwiML answers, durable idempotent ingest, routing, statuses."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import pytest
from django.test import Client

from channels_app.twilio.tests.helpers import (
    INBOUND_PATH,
    STATUS_PATH,
    TWILIO_NUMBER,
    fixture_params,
    post_signed,
)
from channels_app.whatsapp.tests.helpers import post_signed as meta_post_signed
from channels_app.whatsapp_payloads import encode, text_message_payload
from conftest import PHONE_NUMBER_ID
from conversations import deliveries, jobs
from conversations.models import (
    Author,
    ChannelAccount,
    Contact,
    Conversation,
    Delivery,
    Direction,
    Draft,
    Escalation,
    Message,
    MessageStatus,
)

pytestmark = pytest.mark.django_db

EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


def outbound(account, *, sid: str, status: str = MessageStatus.SENT, contact_address: str = "15551230001"):
    """A message we sent through Twilio earlier, as sending records it."""
    contact, _ = Contact.objects.get_or_create(owner=account.owner, address=contact_address)
    conversation, _ = Conversation.objects.get_or_create(
        owner=account.owner, account=account, contact=contact
    )
    return Message.objects.create(
        conversation=conversation,
        account=account,
        direction=Direction.OUT,
        author=Author.ASSISTANT,
        text="We will look into it.",
        provider_message_id=sid,
        status=status,
    )


def test_a_message_is_acknowledged_with_empty_twiml(client, twilio_account):
    response = post_signed(client, INBOUND_PATH, fixture_params("text"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert response.content == EMPTY_TWIML


def test_a_text_is_stored_on_the_account_its_to_number_belongs_to(client, twilio_account):
    assert post_signed(client, INBOUND_PATH, fixture_params("text")).status_code == 200
    message = Message.objects.get()
    assert message.account == twilio_account
    assert message.provider_message_id == "SM" + "1" * 32
    assert (message.direction, message.author, message.kind) == (Direction.IN, Author.CONTACT, "text")
    assert message.text.startswith("Your bill of $42.10")
    assert message.raw == fixture_params("text")
    contact = message.conversation.contact
    assert (contact.address, contact.phone, contact.name) == (
        "15551230001",
        "15551230001",
        "Phone Co Support",
    )


def test_the_form_is_kept_before_the_answer_and_the_reply_job_scheduled_after_its_ingest(
    client, twilio_account, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_signed(client, INBOUND_PATH, fixture_params("text"), ingest=False)
    assert response.status_code == 200
    delivery = Delivery.objects.get()
    assert (delivery.provider, bytes(delivery.body)) == ("twilio", urlencode(fixture_params("text")).encode())
    assert [job.path for job in jobs.recorded] == [deliveries.JOB], "the request only schedules the ingest"
    assert not Message.objects.exists()

    jobs.recorded.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries.ingest_waiting() == 1
    assert [job.path for job in jobs.recorded] == ["conversations.tasks.draft_reply"]
    assert Message.objects.count() == 1 and not Delivery.objects.exists()
    assert Draft.objects.count() == 0, "no AI call inside the request"


def test_a_redelivered_message_sid_changes_nothing(deliver_twilio, twilio_account):
    assert deliver_twilio(fixture_params("text")).status_code == 200
    jobs.recorded.clear()
    again = deliver_twilio(fixture_params("text"))
    assert again.status_code == 200 and again.content == EMPTY_TWIML
    assert Message.objects.count() == 1
    assert jobs.recorded == [], "a duplicate schedules nothing"


def test_one_owner_with_meta_and_twilio_has_one_contact_and_two_conversations(client, owner, twilio_account):
    body = encode(
        text_message_payload(phone_number_id=PHONE_NUMBER_ID, sender="15551230001", text="Hi (Meta)")
    )
    assert meta_post_signed(client, body).status_code == 200
    assert post_signed(client, INBOUND_PATH, fixture_params("text")).status_code == 200

    contact = Contact.objects.get()
    assert contact.address == "15551230001"
    assert sorted(c.account.provider for c in Conversation.objects.filter(contact=contact)) == [
        "twilio",
        "whatsapp",
    ]


def test_a_message_to_a_number_nobody_linked_is_acknowledged_and_logged(client, owner, caplog):
    with caplog.at_level(logging.INFO, logger="channels_app"):
        response = post_signed(client, INBOUND_PATH, fixture_params("text"))
    assert response.status_code == 200
    assert not Message.objects.exists()
    assert TWILIO_NUMBER in caplog.text
    assert "Your bill" not in caplog.text, "message contents stay out of the logs"


def test_media_is_stored_with_its_urls_and_escalated_without_a_reply(
    deliver_twilio, twilio_account, run_jobs
):
    params = fixture_params("media_image")
    assert deliver_twilio(params).status_code == 200
    message = Message.objects.get()
    assert message.kind == "image"
    assert message.metadata["media"] == [{"url": params["MediaUrl0"], "content_type": "image/jpeg"}]
    assert Escalation.objects.get().reason == "unreadable_message"
    assert [job.path for job in run_jobs()] == ["conversations.tasks.notify_owner"]
    assert not Draft.objects.exists()


def test_a_form_that_is_not_a_message_is_a_bad_request(client, twilio_account):
    response = post_signed(client, INBOUND_PATH, {"AccountSid": "AC" + "0" * 32, "Body": "hi"})
    assert response.status_code == 400


def test_only_post_is_allowed(client):
    assert client.get(INBOUND_PATH).status_code == 405
    assert client.get(STATUS_PATH).status_code == 405


def test_the_shared_body_limit_applies(client, settings, twilio_account):
    settings.WEBHOOK_MAX_BYTES = 100
    assert post_signed(client, INBOUND_PATH, fixture_params("text")).status_code == 413


def test_csrf_does_not_apply_to_twilio_webhooks(twilio_account):
    response = post_signed(Client(enforce_csrf_checks=True), INBOUND_PATH, fixture_params("text"))
    assert response.status_code == 200


# -- status callbacks --------------------------------------------------------------------------


def test_receipts_move_our_message_forward_and_never_back(client, twilio_account):
    sid = "SM" + "f" * 32
    sent = outbound(twilio_account, sid=sid)

    def receive(status: str) -> str:
        params = {
            **fixture_params("status_sent"),
            "MessageSid": sid,
            "SmsSid": sid,
            "From": f"whatsapp:{TWILIO_NUMBER}",
        }
        params.update(MessageStatus=status, SmsStatus=status)
        response = post_signed(client, STATUS_PATH, params)
        assert response.status_code == 200 and response.content == EMPTY_TWIML
        sent.refresh_from_db()
        return sent.status

    assert receive("read") == "read"
    assert receive("delivered") == "read", "a late delivered never overwrites read"
    assert receive("sent") == "read"
    assert receive("undelivered") == "read", "a failure cannot undo a delivery"


def test_the_captured_read_receipt_with_event_type_applies(client, owner):
    account = ChannelAccount.objects.create(owner=owner, provider="twilio", address=TWILIO_NUMBER)
    params = fixture_params("status_read")
    sent = outbound(account, sid=params["MessageSid"], contact_address="918489514086")
    assert post_signed(client, STATUS_PATH, params).status_code == 200
    sent.refresh_from_db()
    assert sent.status == "read"


def test_undelivered_fails_the_message_with_twilios_code_and_tells_the_owner(client, twilio_account):
    params = fixture_params("status_undelivered")
    sent = outbound(twilio_account, sid=params["MessageSid"])
    assert post_signed(client, STATUS_PATH, params).status_code == 200
    sent.refresh_from_db()
    assert (sent.status, sent.error_code) == (MessageStatus.FAILED, "63024")
    assert "Invalid message recipient" in sent.error_detail
    escalation = Escalation.objects.get()
    assert escalation.reason == "send_failed" and "63024" in escalation.detail


def test_a_receipt_for_a_message_we_do_not_know_is_acknowledged(client, twilio_account):
    assert post_signed(client, STATUS_PATH, fixture_params("status_sent")).status_code == 200


def test_an_early_status_is_acknowledged_and_changes_nothing(client, twilio_account):
    sid = "SM" + "9" * 32
    sent = outbound(twilio_account, sid=sid, status=MessageStatus.SENT)
    params = {
        **fixture_params("status_sent"),
        "MessageSid": sid,
        "MessageStatus": "queued",
        "SmsStatus": "queued",
    }
    params["From"] = f"whatsapp:{TWILIO_NUMBER}"
    assert post_signed(client, STATUS_PATH, params).status_code == 200
    sent.refresh_from_db()
    assert sent.status == MessageStatus.SENT

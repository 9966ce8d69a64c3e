"""Status callbacks that carry no `From` (seen in real captures) are matched by AccountSid and
MessageSid: the stored message names the account, and a failure reaches it and the owner."""

from __future__ import annotations

import logging

import pytest

from channels_app.twilio.tests.helpers import STATUS_PATH, fixture_params, post_signed
from conversations.models import (
    Author,
    ChannelAccount,
    Contact,
    Conversation,
    Direction,
    EarlyStatus,
    Escalation,
    Message,
    MessageStatus,
)

pytestmark = pytest.mark.django_db


def sent_message(account: ChannelAccount, sid: str) -> Message:
    contact, _ = Contact.objects.get_or_create(owner=account.owner, address="15551230001")
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
        status=MessageStatus.SENT,
    )


def test_a_failure_without_from_reaches_the_message_and_the_owner(client, twilio_account):
    params = fixture_params("status_undelivered_no_from")
    assert "From" not in params
    sent = sent_message(twilio_account, params["MessageSid"])

    assert post_signed(client, STATUS_PATH, params).status_code == 200

    sent.refresh_from_db()
    assert (sent.status, sent.error_code) == (MessageStatus.FAILED, "63024")
    assert "Invalid message recipient" in sent.error_detail
    assert Escalation.objects.get().reason == "send_failed"


def test_a_read_receipt_without_from_moves_the_message_forward(client, twilio_account):
    params = fixture_params("status_read_no_from")
    sent = sent_message(twilio_account, params["MessageSid"])
    assert post_signed(client, STATUS_PATH, params).status_code == 200
    sent.refresh_from_db()
    assert sent.status == MessageStatus.READ


def test_the_stored_message_picks_the_account_among_several(client, twilio_account):
    other = ChannelAccount.objects.create(
        owner=twilio_account.owner, provider="twilio", address="+15557654321"
    )
    params = fixture_params("status_undelivered_no_from")
    sent = sent_message(other, params["MessageSid"])
    assert post_signed(client, STATUS_PATH, params).status_code == 200
    sent.refresh_from_db()
    assert sent.status == MessageStatus.FAILED


def test_a_receipt_before_its_message_is_kept_for_the_only_twilio_account(client, twilio_account):
    params = fixture_params("status_undelivered_no_from")
    assert post_signed(client, STATUS_PATH, params).status_code == 200
    kept = EarlyStatus.objects.get()
    assert (kept.account_id, kept.provider_message_id, kept.status, kept.error_code) == (
        twilio_account.pk,
        params["MessageSid"],
        MessageStatus.FAILED,
        "63024",
    )


def test_a_receipt_nobody_can_place_is_acknowledged_and_explained(client, twilio_account, caplog):
    ChannelAccount.objects.create(owner=twilio_account.owner, provider="twilio", address="+15557654321")
    params = fixture_params("status_undelivered_no_from")
    with caplog.at_level(logging.WARNING, logger="conversations.message_events"):
        assert post_signed(client, STATUS_PATH, params).status_code == 200
    assert not EarlyStatus.objects.exists()
    assert params["MessageSid"] in caplog.text and "no stored message" in caplog.text


def test_a_receipt_without_from_for_another_twilio_account_is_refused(client, twilio_account):
    params = {**fixture_params("status_undelivered_no_from"), "AccountSid": "AC" + "b" * 32}
    sent = sent_message(twilio_account, params["MessageSid"])
    response = post_signed(client, STATUS_PATH, params)
    assert response.status_code == 400
    sent.refresh_from_db()
    assert sent.status == MessageStatus.SENT

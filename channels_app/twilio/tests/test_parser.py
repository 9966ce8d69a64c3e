"""Twilio's inbound forms and status callbacks become the domain's normalized messages and statuses."""

from __future__ import annotations

import logging

import pytest
from django.http import QueryDict

from channels_app.twilio.parser import PayloadError, form_fields, parse_inbound, parse_status
from channels_app.twilio.tests.helpers import ACCOUNT_SID, TWILIO_NUMBER, fixture_names, fixture_params
from conversations.inbound import InboundMessage, Kind, StatusUpdate
from conversations.models import MessageStatus


def only_message(params: dict[str, str]) -> InboundMessage:
    batch = parse_inbound(params)
    assert not batch.statuses and not batch.errors
    (message,) = batch.messages
    return message


def only_status(params: dict[str, str]) -> StatusUpdate:
    batch = parse_status(params)
    assert not batch.messages and not batch.errors
    (status,) = batch.statuses
    return status


@pytest.mark.parametrize("name", [n for n in fixture_names() if not n.startswith("status_")])
def test_every_inbound_fixture_parses_into_one_message_with_every_parameter_kept(name):
    params = fixture_params(name)
    message = only_message(params)
    assert message.provider == "twilio"
    assert message.account_address.startswith("+")
    assert message.raw == params


@pytest.mark.parametrize("name", fixture_names("status_"))
def test_every_status_fixture_parses_into_one_status_update(name):
    params = fixture_params(name)
    update = only_status(params)
    assert update.provider == "twilio"
    assert update.raw == params


def test_a_text_is_fully_normalized():
    params = fixture_params("text")
    assert only_message(params) == InboundMessage(
        provider="twilio",
        account_address=TWILIO_NUMBER,
        provider_message_id="SM" + "1" * 32,
        sender_address="15551230001",
        kind=Kind.TEXT,
        text="Your bill of $42.10 is due on 5 March. Reply YES to confirm autopay.",
        sender_phone="15551230001",
        sender_name="Phone Co Support",
        sent_at=None,
        reply_to_provider_id="",
        metadata={},
        raw=params,
    )


def test_the_sender_is_keyed_like_metas_wa_id_so_one_contact_spans_both_providers():
    params = fixture_params("text")
    del params["WaId"]
    message = only_message(params)
    assert message.sender_address == message.sender_phone == "15551230001"


def test_a_captured_real_request_parses():
    message = only_message(fixture_params("text_captured"))
    assert (message.kind, message.text, message.sender_name) == (Kind.TEXT, "hey", "Ranjit Sankar")
    assert message.sender_address == "91990000000"
    assert message.provider_message_id == "SM45e9b726c0314a5524c3f3cb40000000"


def test_text_is_kept_exactly_as_sent():
    params = {**fixture_params("text"), "Body": "  two spaces, é and 🎉\n"}
    assert only_message(params).text == "  two spaces, é and 🎉\n"


def test_an_image_keeps_its_caption_as_text_and_its_media_in_metadata():
    params = fixture_params("media_image")
    message = only_message(params)
    assert message.kind == Kind.IMAGE
    assert message.text == "Your March bill"
    assert message.metadata == {"media": [{"url": params["MediaUrl0"], "content_type": "image/jpeg"}]}
    assert message.provider_message_id.startswith("MM")


def test_a_voice_note_is_audio_without_text():
    message = only_message(fixture_params("media_voice"))
    assert (message.kind, message.text) == (Kind.AUDIO, "")
    assert message.metadata["media"][0]["content_type"] == "audio/ogg"


def test_every_attachment_is_kept_in_order():
    params = fixture_params("media_two")
    message = only_message(params)
    assert message.kind == Kind.DOCUMENT
    assert [m["url"] for m in message.metadata["media"]] == [params["MediaUrl0"], params["MediaUrl1"]]
    assert [m["content_type"] for m in message.metadata["media"]] == ["application/pdf", "image/png"]


@pytest.mark.parametrize(
    ("content_type", "message_type", "kind"),
    [
        ("video/mp4", "video", Kind.VIDEO),
        ("text/vcard", "", Kind.CONTACTS),
        ("image/webp", "sticker", Kind.STICKER),
        ("application/vnd.ms-excel", "", Kind.DOCUMENT),
        ("audio/mpeg", "", Kind.AUDIO),
    ],
)
def test_media_kinds_follow_the_message_type_then_the_content_type(content_type, message_type, kind):
    params = {**fixture_params("media_image"), "MediaContentType0": content_type, "MessageType": message_type}
    assert only_message(params).kind == kind


def test_media_kinds_are_never_readable_so_the_owner_is_told():
    for name in ("media_image", "media_voice", "media_two"):
        assert only_message(fixture_params(name)).kind not in Kind.READABLE


def test_a_shared_location_has_coordinates_and_a_readable_summary():
    message = only_message(fixture_params("location"))
    assert message.kind == Kind.LOCATION
    assert message.metadata == {
        "latitude": 37.44221496582,
        "longitude": -122.16165924072,
        "name": "Acme Mobile Store",
        "address": "101 Forest Ave, Palo Alto, CA 94301",
    }
    assert "Acme Mobile Store" in message.text and "37.44" in message.text


def test_a_button_tap_reads_as_its_text_and_points_at_the_replied_message():
    message = only_message(fixture_params("button_reply"))
    assert message.kind == Kind.INTERACTIVE
    assert message.text == "Cancel"
    assert message.metadata == {"reply_id": "cancel-button", "reply_to_from": "14155238886"}
    assert message.reply_to_provider_id == "SM" + "b" * 32


def test_a_click_to_whatsapp_referral_and_forwarding_are_kept_flat():
    metadata = only_message(fixture_params("text_from_ad")).metadata
    assert metadata["forwarded"] is True
    assert metadata["referral"]["source_url"] == "https://fb.me/3cr4Wqqkv"
    assert metadata["referral"]["ctwa_clid"].startswith("Aff-")
    assert "num_media" not in metadata["referral"]


def test_a_message_without_any_readable_content_is_unsupported():
    params = {**fixture_params("text"), "Body": "", "MessageType": "reaction"}
    message = only_message(params)
    assert (message.kind, message.metadata) == (Kind.UNSUPPORTED, {"type": "reaction"})


def test_an_sms_to_the_same_number_is_skipped_not_answered_on_whatsapp(caplog):
    params = {**fixture_params("text"), "From": "+15551230001", "To": "+14155238886"}
    with caplog.at_level(logging.WARNING):
        batch = parse_inbound(params)
    assert batch.messages == ()
    assert "not a WhatsApp message" in caplog.text
    assert params["Body"] not in caplog.text


@pytest.mark.parametrize("missing", ["MessageSid", "From", "To"])
def test_a_form_without_sid_sender_or_recipient_is_not_a_message_webhook(missing):
    params = fixture_params("text")
    params.pop(missing)
    if missing == "MessageSid":
        params.pop("SmsMessageSid")
    with pytest.raises(PayloadError):
        parse_inbound(params)


def test_repeated_parameters_are_all_kept_in_raw():
    fields = form_fields(QueryDict("Body=one&Body=two&To=whatsapp%3A%2B14155238886"))
    assert fields == {"Body": ["one", "two"], "To": "whatsapp:+14155238886"}


# -- status callbacks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status"),
    [("status_sent", MessageStatus.SENT), ("status_delivered", "delivered"), ("status_read", "read")],
)
def test_receipts_map_to_our_statuses_and_route_on_our_sender(name, status):
    params = fixture_params(name)
    update = only_status(params)
    assert update.status == status
    assert update.provider_message_id == params["MessageSid"]
    assert update.account_address == params["From"].removeprefix("whatsapp:")
    assert (update.error_code, update.error_detail) == ("", "")


def test_a_failure_outside_the_window_carries_63016_and_says_so():
    update = only_status(fixture_params("status_failed_63016"))
    assert (update.status, update.error_code) == (MessageStatus.FAILED, "63016")
    assert "24-hour" in update.error_detail and "template" in update.error_detail


def test_a_failure_with_63016_is_flagged_as_the_closed_window():
    assert only_status(fixture_params("status_failed_63016")).window_closed


def test_undelivered_with_63016_is_the_closed_window_too():
    params = {**fixture_params("status_undelivered"), "ErrorCode": "63016"}
    assert only_status(params).window_closed


@pytest.mark.parametrize("name", ["status_undelivered", "status_sent", "status_delivered", "status_read"])
def test_other_callbacks_are_not_flagged_as_the_closed_window(name):
    assert not only_status(fixture_params(name)).window_closed


def test_63016_on_a_receipt_that_is_not_a_failure_is_not_the_closed_window():
    params = {**fixture_params("status_delivered"), "ErrorCode": "63016"}
    assert not only_status(params).window_closed


def test_undelivered_is_a_failure_that_keeps_twilios_words():
    update = only_status(fixture_params("status_undelivered"))
    assert (update.status, update.error_code) == (MessageStatus.FAILED, "63024")
    assert update.error_detail == "Twilio reports the message undelivered: Invalid message recipient"


@pytest.mark.parametrize("status", ["queued", "accepted", "sending", "scheduled", "partially_delivered"])
def test_statuses_that_say_nothing_about_delivery_are_ignored(status):
    params = {**fixture_params("status_sent"), "MessageStatus": status, "SmsStatus": status}
    assert parse_status(params).statuses == ()


def test_an_error_code_on_a_receipt_that_is_not_a_failure_is_not_kept():
    params = {**fixture_params("status_delivered"), "ErrorCode": "30008"}
    assert only_status(params).error_code == ""


@pytest.mark.parametrize("missing", ["MessageSid", "MessageStatus", "From"])
def test_a_callback_without_sid_status_or_sender_is_refused(missing):
    params = fixture_params("status_sent")
    params.pop(missing)
    if missing == "From":
        params.pop("AccountSid")  # with it, the stored message names the account
    params.pop({"MessageSid": "SmsSid", "MessageStatus": "SmsStatus"}.get(missing, "-"), None)
    with pytest.raises(PayloadError):
        parse_status(params)


def test_a_callback_without_from_is_matched_by_account_sid_and_message_sid():
    params = fixture_params("status_undelivered_no_from")
    update = only_status(params)
    assert (update.account_address, update.provider_account_id) == ("", ACCOUNT_SID)
    assert (update.provider_message_id, update.status, update.error_code) == (
        params["MessageSid"],
        "failed",
        "63024",
    )


def test_a_callback_without_from_from_another_twilio_account_is_refused():
    params = {**fixture_params("status_undelivered_no_from"), "AccountSid": "AC" + "b" * 32}
    with pytest.raises(PayloadError, match="AccountSid"):
        parse_status(params)

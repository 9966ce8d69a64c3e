"""Meta webhook payloads become the domain's normalized messages, statuses and errors."""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime

import pytest

from channels_app.whatsapp.parser import PayloadError, parse_webhook
from channels_app.whatsapp.tests.helpers import PHONE_NUMBER_ID, fixture_names, fixture_payload
from conversations.inbound import InboundBatch, InboundMessage, Kind, ProviderError, StatusUpdate


def only_message(name: str) -> InboundMessage:
    batch = parse_webhook(fixture_payload(name))
    assert len(batch.messages) == 1
    assert not batch.statuses and not batch.errors
    return batch.messages[0]


def only_status(name: str) -> StatusUpdate:
    batch = parse_webhook(fixture_payload(name))
    assert not batch.messages and not batch.errors
    assert len(batch.statuses) == 1
    return batch.statuses[0]


def first_message_of(payload: dict) -> dict:
    """The first message object inside a single-message payload, to edit it."""
    return payload["entry"][0]["changes"][0]["value"]["messages"][0]


@pytest.mark.parametrize("name", fixture_names())
def test_every_fixture_parses_into_something(name):
    batch = parse_webhook(fixture_payload(name))
    assert isinstance(batch, InboundBatch)
    assert batch.messages or batch.statuses or batch.errors or batch.echoes
    for item in (*batch.messages, *batch.statuses, *batch.errors, *batch.echoes):
        assert item.provider == "whatsapp"
        assert item.account_address


def test_text_message_is_fully_normalized():
    message = only_message("text")
    assert message == InboundMessage(
        provider="whatsapp",
        account_address=PHONE_NUMBER_ID,
        provider_message_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
        sender_address="16505551234",
        kind=Kind.TEXT,
        text="Does it come in another color?",
        sender_phone="16505551234",
        sender_name="Sheena Nelson",
        sent_at=datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC),
        reply_to_provider_id="",
        metadata={},
        raw=first_message_of(fixture_payload("text")),
    )


def test_sent_at_is_an_aware_utc_datetime():
    sent_at = only_message("text").sent_at
    assert sent_at is not None and sent_at.utcoffset().total_seconds() == 0


def test_a_leading_plus_in_from_is_stripped_and_the_contact_still_matches():
    payload = fixture_payload("text")
    first_message_of(payload)["from"] = "+16505551234"
    message = parse_webhook(payload).messages[0]
    assert message.sender_address == "16505551234"
    assert message.sender_phone == "16505551234"
    assert message.sender_name == "Sheena Nelson"


def test_phoneless_sender_is_keyed_on_the_business_scoped_user_id():
    message = only_message("text_bsuid")
    assert message.sender_address == "US.13491208655302741918"
    assert message.sender_phone == ""
    assert message.sender_name == "Sheena Nelson"
    assert message.metadata == {
        "username": "@realsheenanelson",
        "parent_user_id": "US.ENT.11815799212886844830",
    }


def test_user_id_wins_over_from_but_the_phone_is_kept():
    payload = fixture_payload("text_bsuid")
    first_message_of(payload)["from"] = "16505551234"
    message = parse_webhook(payload).messages[0]
    assert message.sender_address == "US.13491208655302741918"
    assert message.sender_phone == "16505551234"


def test_phone_comes_from_the_contact_when_the_message_has_only_a_user_id():
    payload = fixture_payload("text_bsuid")
    payload["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"] = "16505551234"
    message = parse_webhook(payload).messages[0]
    assert message.sender_address == "US.13491208655302741918"
    assert message.sender_phone == "16505551234"


def test_contextual_reply_points_at_the_replied_message():
    message = only_message("text_reply")
    assert message.reply_to_provider_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA"
    assert message.metadata == {"reply_to_from": "15550783881"}


def test_forwarded_flags_and_escaped_unicode_text():
    message = only_message("text_forwarded")
    assert message.text == "Café promo: 50% off 🎉 forward to 10 friends"
    assert message.metadata == {"forwarded": True, "frequently_forwarded": True}
    assert message.reply_to_provider_id == ""


def test_click_to_whatsapp_referral_is_kept_flat_in_metadata():
    referral = only_message("text_from_ad").metadata["referral"]
    assert referral["source_url"] == "https://fb.me/3cr4Wqqkv"
    assert referral["ctwa_clid"].startswith("Aff-")
    assert referral["welcome_message"] == "Hi there! Let us know how we can help!"
    assert all(not isinstance(value, dict | list) for value in referral.values())


def test_image_keeps_caption_as_text_and_media_facts_in_metadata():
    message = only_message("image")
    assert message.kind == Kind.IMAGE
    assert message.text == "Your March bill"
    assert message.sender_name == "Acme Power"
    assert message.metadata == {
        "media_id": "2754859441498128",
        "mime_type": "image/jpeg",
        "sha256": "81d3bd8a8db4868c9520ed47186e8b7c5789e61ff79f7f834be6950b808a90d3",
        "url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=2754859441498128"
        "&ext=1750023600&hash=ATexample",
    }


def test_image_without_caption_or_url_still_parses():
    payload = fixture_payload("image")
    image = first_message_of(payload)["image"]
    del image["caption"], image["url"]
    message = parse_webhook(payload).messages[0]
    assert message.text == ""
    assert "url" not in message.metadata


def test_voice_note_is_audio_flagged_as_voice():
    message = only_message("audio_voice")
    assert message.kind == Kind.AUDIO
    assert message.text == ""
    assert message.metadata["voice"] is True
    assert message.metadata["media_id"] == "1234567890987654321"
    assert message.metadata["mime_type"] == "audio/ogg; codecs=opus"


def test_audio_file_is_not_a_voice_note():
    payload = fixture_payload("audio_voice")
    del first_message_of(payload)["audio"]["voice"]
    assert parse_webhook(payload).messages[0].metadata["voice"] is False


def test_video_document_and_sticker_kinds():
    video = only_message("video")
    assert (video.kind, video.text, video.metadata["mime_type"]) == (
        Kind.VIDEO,
        "How to read your meter",
        "video/mp4",
    )
    document = only_message("document")
    assert document.kind == Kind.DOCUMENT
    assert document.text == "Contract renewal"
    assert document.metadata["filename"] == "renewal-2026.pdf"
    sticker = only_message("sticker")
    assert sticker.kind == Kind.STICKER
    assert sticker.metadata["animated"] is False
    assert sticker.metadata["mime_type"] == "image/webp"


def test_location_has_coordinates_in_metadata_and_a_readable_summary():
    message = only_message("location")
    assert message.kind == Kind.LOCATION
    assert message.metadata == {
        "latitude": 37.44221496582,
        "longitude": -122.16165924072,
        "name": "Philz Coffee",
        "address": "101 Forest Ave, Palo Alto, CA 94301",
        "url": "https://philzcoffee.com/",
    }
    assert "Philz Coffee" in message.text and "101 Forest Ave" in message.text and "37.44" in message.text


def test_shared_contacts_are_normalized_and_summarized():
    message = only_message("contacts")
    assert message.kind == Kind.CONTACTS
    assert message.metadata == {
        "contacts": [
            {
                "name": "Barbara J. Johnson",
                "phones": [{"phone": "+1 (415) 555-0829", "wa_id": "14155550829", "type": "MOBILE"}],
                "emails": ["bjohnson@socialtsunami.example"],
                "organization": "Social Tsunami",
            }
        ]
    }
    assert message.text == "Shared contact: Barbara J. Johnson (+1 (415) 555-0829)"
    # The sender is still the person who shared the card, not the card.
    assert message.sender_name == "Sheena Nelson"


def test_reply_button_tap_reads_as_its_title():
    message = only_message("interactive_button_reply")
    assert message.kind == Kind.INTERACTIVE
    assert message.text == "Cancel"
    assert message.metadata["interactive_type"] == "button_reply"
    assert message.metadata["reply_id"] == "cancel-button"
    assert message.reply_to_provider_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA"


def test_list_row_tap_reads_as_its_title_and_keeps_the_description():
    message = only_message("interactive_list_reply")
    assert message.kind == Kind.INTERACTIVE
    assert message.text == "Priority Mail Express"
    assert message.metadata["interactive_type"] == "list_reply"
    assert message.metadata["reply_id"] == "priority_express"
    assert message.metadata["description"] == "Next Day to 2 Days"


def test_a_flow_answer_without_response_json_is_still_a_flow_reply():
    payload = fixture_payload("interactive_button_reply")
    first_message_of(payload)["interactive"] = {"type": "nfm_reply", "nfm_reply": {"body": "Sent"}}
    message = parse_webhook(payload).messages[0]
    assert message.kind == Kind.FLOW
    assert message.text == "Flow reply (no answers)"
    assert message.metadata["flow"]["answers"] == {}


def test_template_quick_reply_button_reads_as_its_text():
    message = only_message("template_button")
    assert message.kind == Kind.TEMPLATE
    assert message.text == "Unsubscribe"
    assert message.metadata["payload"] == "Unsubscribe"
    assert message.reply_to_provider_id.startswith("wamid.")


def test_reaction_names_the_message_and_the_emoji():
    message = only_message("reaction")
    assert message.kind == Kind.REACTION
    assert message.text == "😮"
    assert message.metadata == {
        "message_id": "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA",
        "emoji": "😮",
        "removed": False,
    }


def test_reaction_without_emoji_means_removed():
    message = only_message("reaction_removed")
    assert message.metadata["removed"] is True
    assert message.metadata["emoji"] == ""
    assert message.text == ""


def test_reaction_with_empty_emoji_also_means_removed():
    payload = fixture_payload("reaction")
    first_message_of(payload)["reaction"]["emoji"] = ""
    assert parse_webhook(payload).messages[0].metadata["removed"] is True


def test_unsupported_message_keeps_its_type_error_and_raw():
    message = only_message("unsupported")
    assert message.kind == Kind.UNSUPPORTED
    assert message.text == ""
    assert message.metadata == {
        "type": "unsupported",
        "subtype": "edit",
        "errors": [
            {"code": "131051", "detail": "Message type unknown: Message type is currently not supported."}
        ],
    }
    assert message.raw == first_message_of(fixture_payload("unsupported"))


@pytest.mark.parametrize("message_type", ["unknown", "system", "brand_new_type", ""])
def test_any_other_type_is_unsupported_with_the_raw_kept(message_type):
    payload = fixture_payload("text")
    first_message_of(payload)["type"] = message_type
    message = parse_webhook(payload).messages[0]
    assert message.kind == Kind.UNSUPPORTED
    assert message.metadata["type"] == (message_type or "unknown")
    assert message.raw["text"] == {"body": "Does it come in another color?"}


def test_sent_status():
    status = only_status("status_sent")
    assert status == StatusUpdate(
        provider="whatsapp",
        account_address=PHONE_NUMBER_ID,
        provider_message_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
        status="sent",
        occurred_at=datetime(2025, 6, 15, 23, 27, 53, tzinfo=UTC),
        error_code="",
        error_detail="",
        raw=fixture_payload("status_sent")["entry"][0]["changes"][0]["value"]["statuses"][0],
    )


@pytest.mark.parametrize(
    ("name", "status"),
    [("status_delivered", "delivered"), ("status_read", "read"), ("status_read_bsuid", "read")],
)
def test_delivery_receipts(name, status):
    update = only_status(name)
    assert update.status == status
    assert update.error_code == ""
    assert update.occurred_at is not None


def test_played_status_is_accepted():
    payload = fixture_payload("status_read")
    payload["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] = "played"
    assert parse_webhook(payload).statuses[0].status == "played"


def test_failed_status_carries_code_title_and_details():
    update = only_status("status_failed_131049")
    assert update.status == "failed"
    assert update.error_code == "131049"
    assert update.error_detail == (
        "This message was not delivered to maintain healthy ecosystem engagement.: "
        "In order to maintain a healthy ecosystem engagement, the message failed to be delivered."
    )


def test_failed_status_for_a_closed_customer_service_window():
    update = only_status("status_failed_131047")
    assert update.error_code == "131047"
    assert update.error_detail.startswith("Re-engagement message: ")
    assert "24 hours" in update.error_detail


def test_a_failed_status_with_131047_is_flagged_as_the_closed_window():
    assert only_status("status_failed_131047").window_closed


@pytest.mark.parametrize("name", ["status_failed_131049", "status_sent", "status_delivered", "status_read"])
def test_other_receipts_are_not_flagged_as_the_closed_window(name):
    assert not only_status(name).window_closed


def test_131047_on_a_status_that_is_not_a_failure_is_not_the_closed_window():
    payload = fixture_payload("status_failed_131047")
    payload["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] = "sent"
    assert not parse_webhook(payload).statuses[0].window_closed


def test_out_of_band_errors_become_provider_errors():
    batch = parse_webhook(fixture_payload("errors_130429"))
    assert not batch.messages and not batch.statuses
    (error,) = batch.errors
    assert isinstance(error, ProviderError)
    assert error.account_address == PHONE_NUMBER_ID
    assert error.code == "130429"
    assert error.detail.startswith(
        "Rate limit hit: Message failed to send because there were too many messages"
    )
    assert error.raw["href"].endswith("error-codes")


def test_batch_with_several_entries_changes_and_messages(caplog):
    with caplog.at_level(logging.INFO, logger="channels_app.whatsapp.parser"):
        batch = parse_webhook(fixture_payload("batch"))
    assert [(m.account_address, m.provider_message_id, m.sender_name) for m in batch.messages] == [
        (PHONE_NUMBER_ID, "wamid.BATCH.A1", "Acme Power"),
        (PHONE_NUMBER_ID, "wamid.BATCH.A2", "Acme Power"),
        (PHONE_NUMBER_ID, "wamid.BATCH.A3", "Bank of Nowhere"),
        ("109876543210987", "wamid.BATCH.B1", "Spam Co"),
    ]
    assert [(s.provider_message_id, s.status) for s in batch.statuses] == [
        ("wamid.OUT.1", "delivered"),
        ("wamid.OUT.1", "read"),
    ]
    assert "message_template_status_update" in caplog.text


def test_a_thousand_updates_in_one_delivery():
    payload = fixture_payload("text")
    value = payload["entry"][0]["changes"][0]["value"]
    template = value["messages"][0]
    value["messages"] = [{**template, "id": f"wamid.{n}"} for n in range(1000)]
    batch = parse_webhook(payload)
    assert len(batch.messages) == 1000
    assert len({m.provider_message_id for m in batch.messages}) == 1000


def test_malformed_pieces_are_skipped_and_logged_without_losing_the_rest(caplog):
    payload = fixture_payload("text")
    good = copy.deepcopy(first_message_of(payload))
    value = payload["entry"][0]["changes"][0]["value"]
    value["messages"] = [
        {**good, "id": None, "text": {"body": "my one-time code is 482913"}},
        "not an object",
        {**good, "id": "wamid.no-sender", "from": None},
        {**good, "id": "wamid.bad-text", "text": {"body": 42}},
        {**good, "id": "wamid.bad-image", "type": "image", "image": "nope"},
        {**good, "id": "wamid.bad-location", "type": "location", "location": {"latitude": "north"}},
        {**good, "id": "wamid.bad-reaction", "type": "reaction", "reaction": {"emoji": "👍"}},
        {**good, "id": "wamid.bad-time", "timestamp": "yesterday"},
        good,
    ]
    value["statuses"] = [
        {"status": "read", "timestamp": "1750030080"},
        {"id": "wamid.x", "status": "deleted", "timestamp": "1750030080"},
        {"id": "wamid.y", "status": "read", "timestamp": "1750030080", "recipient_id": "16505551234"},
    ]
    value["errors"] = ["oops", {}, {"code": 131000, "title": "Something went wrong"}]
    payload["entry"][0]["changes"] += [
        {"field": "messages", "value": "not an object"},
        {"field": "messages", "value": {"messages": [good]}},  # no metadata: nowhere to route it
        "not a change",
    ]
    payload["entry"].append({"id": "1", "changes": "not a list"})
    payload["entry"].append("not an entry")

    with caplog.at_level(logging.WARNING, logger="channels_app.whatsapp.parser"):
        batch = parse_webhook(payload)

    # A message with an id and a sender is kept even when its content cannot be read: the owner
    # must learn the contact wrote (it is stored as unsupported and escalated).
    kept = [m.provider_message_id for m in batch.messages]
    assert kept == [
        "wamid.bad-text",
        "wamid.bad-image",
        "wamid.bad-location",
        "wamid.bad-reaction",
        "wamid.bad-time",
        good["id"],
    ]
    assert all(m.kind == Kind.UNSUPPORTED and m.metadata["problem"] for m in batch.messages[:4])
    assert batch.messages[4].sent_at is None
    assert [s.provider_message_id for s in batch.statuses] == ["wamid.y"]
    assert [e.code for e in batch.errors] == ["131000"]
    assert "wamid.bad-text" in caplog.text and "wamid.bad-reaction" in caplog.text
    # Logs name ids and types, never what people wrote.
    assert "482913" not in caplog.text
    assert "another color" not in caplog.text


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param([], id="a-list"),
        pytest.param("whatsapp", id="a-string"),
        pytest.param(None, id="null"),
        pytest.param({}, id="empty-object"),
        pytest.param({"object": "page", "entry": []}, id="facebook-page-webhook"),
        pytest.param({"object": "whatsapp_business_account"}, id="no-entry"),
        pytest.param({"object": "whatsapp_business_account", "entry": {}}, id="entry-not-a-list"),
    ],
)
def test_a_body_that_is_not_a_whatsapp_webhook_is_a_payload_error(payload):
    with pytest.raises(PayloadError):
        parse_webhook(payload)


def test_payload_error_is_a_value_error():
    assert issubclass(PayloadError, ValueError)


def test_an_empty_delivery_is_an_empty_batch():
    assert parse_webhook({"object": "whatsapp_business_account", "entry": []}) == InboundBatch()

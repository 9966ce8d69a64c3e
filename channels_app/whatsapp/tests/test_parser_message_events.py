"""Parsing the shapes of issue 13: echoes, edits, revokes, errored messages, orders, Flow replies,
welcome requests and legacy voice notes, from the recorded payloads in the fixtures folder."""

from __future__ import annotations

from channels_app.whatsapp.parser import parse_webhook
from channels_app.whatsapp.tests.helpers import fixture_payload
from conversations.inbound import InboundMessage, Kind, OwnerEcho

ORIGINAL_ID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="


def only_message(name: str) -> InboundMessage:
    (message,) = parse_webhook(fixture_payload(name)).messages
    return message


def test_an_echo_is_the_owners_message_to_the_contact_not_a_contacts_message():
    batch = parse_webhook(fixture_payload("echo_text"))
    assert batch.messages == ()
    (echo,) = batch.echoes
    assert isinstance(echo, OwnerEcho)
    assert (echo.account_address, echo.contact_address, echo.contact_phone) == (
        "106540352242922",
        "16505551234",
        "16505551234",
    )
    assert (echo.kind, echo.text) == (Kind.TEXT, "Hi Sheena, I will call you this afternoon.")
    assert echo.sent_at is not None


def test_an_echo_to_a_user_id_is_addressed_to_the_user_id():
    payload = fixture_payload("echo_text")
    echo = payload["entry"][0]["changes"][0]["value"]["message_echoes"][0]
    del echo["to"]
    echo["to_user_id"] = "US.13491208655302741918"
    (parsed,) = parse_webhook(payload).echoes
    assert (parsed.contact_address, parsed.contact_phone) == ("US.13491208655302741918", "")


def test_an_echo_whose_to_is_a_user_id_never_reads_its_digits_as_a_phone():
    payload = fixture_payload("echo_text")
    echo = payload["entry"][0]["changes"][0]["value"]["message_echoes"][0]
    echo["to"] = "US.13491208655302741918"
    (parsed,) = parse_webhook(payload).echoes
    assert (parsed.contact_address, parsed.contact_phone, parsed.contact_user_id) == (
        "US.13491208655302741918",
        "",
        "US.13491208655302741918",
    )


def test_an_edit_names_its_original_and_carries_the_new_content():
    message = only_message("edit_text")
    assert (message.kind, message.text) == (Kind.EDIT, "Does it come in another colour, blue maybe?")
    assert message.metadata == {
        "original_message_id": ORIGINAL_ID,
        "edited_kind": Kind.TEXT,
        "edited_metadata": {},
    }


def test_an_edited_caption_keeps_the_media_details():
    message = only_message("edit_image_caption")
    assert (message.kind, message.text, message.metadata["edited_kind"]) == (
        Kind.EDIT,
        "Updated caption",
        "image",
    )
    assert message.metadata["edited_metadata"]["media_id"] == "2754859441498128"


def test_a_revoke_names_its_original():
    message = only_message("revoke")
    assert (message.kind, message.text, message.metadata) == (
        Kind.REVOKE,
        "",
        {"original_message_id": ORIGINAL_ID},
    )


def test_a_message_with_errors_and_no_type_object_is_kept_as_unsupported():
    message = only_message("message_error_131000")
    assert message.kind == Kind.UNSUPPORTED
    assert message.metadata["type"] == "interactive"
    assert message.metadata["errors"] == [
        {
            "code": "131000",
            "detail": "Something went wrong: Message failed to send because of an unknown error.",
        }
    ]
    assert message.metadata["problem"] == "interactive is not an object"


def test_an_edit_without_its_original_id_is_still_kept():
    payload = fixture_payload("edit_text")
    del payload["entry"][0]["changes"][0]["value"]["messages"][0]["edit"]["original_message_id"]
    (message,) = parse_webhook(payload).messages
    assert message.kind == Kind.UNSUPPORTED and "original_message_id" in message.metadata["problem"]


def test_order_flow_welcome_and_legacy_voice_are_readable_kinds():
    assert only_message("order").kind == Kind.ORDER
    assert only_message("flow_reply").metadata["flow"]["name"] == "flow"
    assert only_message("request_welcome").kind == Kind.WELCOME
    voice = only_message("voice_legacy")
    assert (voice.kind, voice.metadata["voice"]) == (Kind.AUDIO, True)


def test_a_flow_reply_whose_response_json_is_not_json_keeps_no_answers():
    payload = fixture_payload("flow_reply")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"]["nfm_reply"]["response_json"] = (
        "{oops"
    )
    (message,) = parse_webhook(payload).messages
    assert (message.kind, message.metadata["flow"]["answers"]) == (Kind.FLOW, {})

"""The payloads demos and tests build are Meta's recorded ones, field for field."""

from __future__ import annotations

from channels_app.whatsapp.tests.helpers import fixture_payload
from channels_app.whatsapp_payloads import status_payload, text_message_payload


def value_of(payload: dict) -> dict:
    return payload["entry"][0]["changes"][0]["value"]


def test_a_built_text_message_is_metas_recorded_one():
    recorded = fixture_payload("text")
    message, contact = value_of(recorded)["messages"][0], value_of(recorded)["contacts"][0]
    built = text_message_payload(
        phone_number_id=value_of(recorded)["metadata"]["phone_number_id"],
        display_phone_number=value_of(recorded)["metadata"]["display_phone_number"],
        sender=message["from"],
        name=contact["profile"]["name"],
        text=message["text"]["body"],
        message_id=message["id"],
        timestamp=int(message["timestamp"]),
    )
    assert built["object"] == recorded["object"]
    assert value_of(built) == {
        **value_of(recorded),
        "contacts": [{"profile": contact["profile"], "wa_id": contact["wa_id"]}],
    }


def test_a_built_receipt_is_metas_recorded_one_without_its_pricing():
    recorded = fixture_payload("status_delivered")
    receipt = value_of(recorded)["statuses"][0]
    built = status_payload(
        phone_number_id=value_of(recorded)["metadata"]["phone_number_id"],
        display_phone_number=value_of(recorded)["metadata"]["display_phone_number"],
        message_id=receipt["id"],
        status=receipt["status"],
        recipient=receipt["recipient_id"],
        timestamp=int(receipt["timestamp"]),
    )
    without_pricing = {key: value for key, value in receipt.items() if key != "pricing"}
    assert value_of(built) == {**value_of(recorded), "statuses": [without_pricing]}

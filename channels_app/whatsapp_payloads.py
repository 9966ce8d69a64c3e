"""Building webhook deliveries exactly as Meta sends them: for demos and tests."""

from __future__ import annotations

import json
import time
import uuid


def text_message_payload(
    *,
    phone_number_id: str,
    sender: str,
    text: str,
    name: str = "",
    message_id: str | None = None,
    timestamp: int | None = None,
    display_phone_number: str = "15550783881",
) -> dict:
    """One inbound text message in Meta's webhook envelope."""
    message = {
        "from": sender,
        "id": message_id or f"wamid.{uuid.uuid4().hex.upper()}",
        "timestamp": str(timestamp or int(time.time())),
        "type": "text",
        "text": {"body": text},
    }
    return _envelope(
        phone_number_id,
        display_phone_number,
        {"contacts": [{"profile": {"name": name}, "wa_id": sender}], "messages": [message]},
    )


def status_payload(
    *,
    phone_number_id: str,
    message_id: str,
    status: str,
    recipient: str,
    timestamp: int | None = None,
    display_phone_number: str = "15550783881",
) -> dict:
    """One delivery receipt (sent, delivered, read) for a message the business number sent."""
    receipt = {
        "id": message_id,
        "status": status,
        "timestamp": str(timestamp or int(time.time())),
        "recipient_id": recipient,
    }
    return _envelope(phone_number_id, display_phone_number, {"statuses": [receipt]})


def _envelope(phone_number_id: str, display_phone_number: str, value: dict) -> dict:
    metadata = {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id}
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "value": {"messaging_product": "whatsapp", "metadata": metadata, **value},
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def encode(payload: dict) -> bytes:
    """Meta's byte form: compact JSON with non-ASCII escaped as \\uXXXX (what it signs)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()

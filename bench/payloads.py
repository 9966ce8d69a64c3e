"""Signed webhook bodies, written ahead of time so the load generator only replays bytes.

Every message id is unique (a duplicate takes the cheaper idempotent path). Senders come from
a pool of companies that wrote before (`senders`), as most of an owner's traffic does, or are
new each time: a first contact, and one conversation (hence one reply) per message.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from pathlib import Path

from channels_app.whatsapp.signature import sign
from channels_app.whatsapp_payloads import encode, text_message_payload

#: Companies that wrote before: the webhook's usual traffic (a first contact is measured apart).
KNOWN_SENDERS = 2_000
TEXT = "Hello, your bill for November is ready: 42.10 EUR, due on the 30th."


def encode_one(*, phone_number_id: str, sender: str, message_id: str) -> bytes:
    """One message's webhook body, as Meta encodes it."""
    return encode(
        text_message_payload(
            phone_number_id=phone_number_id,
            sender=sender,
            text=TEXT,
            name="Acme Mobile",
            message_id=message_id,
        )
    )


def headers(body: bytes, secret: str) -> dict[str, str]:
    """The headers Meta sends with a body."""
    return {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)}


def batch_payload(
    *, phone_number_id: str, prefix: str, first: int, size: int, sender_offset: int = 0, senders: int = 0
) -> dict:
    """One Meta delivery carrying `size` messages from `size` different senders.

    With `senders`, the senders cycle through that many numbers from `sender_offset`.
    """
    payload = text_message_payload(phone_number_id=phone_number_id, sender="1", text=TEXT, name="Acme Mobile")
    value = payload["entry"][0]["changes"][0]["value"]
    template_message, template_contact = value["messages"][0], value["contacts"][0]
    value["messages"], value["contacts"] = [], []
    for number in range(first, first + size):
        sender = f"4{sender_offset + (number % senders if senders else number):011d}"
        message = copy.deepcopy(template_message)
        message.update({"from": sender, "id": f"wamid.{prefix}.{number}"})
        contact = copy.deepcopy(template_contact)
        contact["wa_id"] = sender
        value["messages"].append(message)
        value["contacts"].append(contact)
    return payload


def signed_webhooks(
    *,
    count: int,
    batch: int,
    prefix: str,
    phone_number_id: str,
    secret: str,
    sender_offset: int = 0,
    senders: int = 0,
) -> Iterator[tuple[str, bytes]]:
    """`count` (signature, body) pairs of `batch` messages each, message ids `wamid.PREFIX.N` never repeated."""
    for index in range(count):
        body = encode(
            batch_payload(
                phone_number_id=phone_number_id,
                prefix=prefix,
                first=index * batch,
                size=batch,
                sender_offset=sender_offset,
                senders=senders,
            )
        )
        yield sign(body, secret), body


def write_webhooks(
    path: Path,
    *,
    target: str,
    count: int,
    batch: int,
    prefix: str,
    phone_number_id: str,
    secret: str,
    sender_offset: int = 0,
    senders: int = 0,
) -> Path:
    """`count` signed POSTs of `batch` messages each, one per line, for bench.loadgen."""
    records = signed_webhooks(
        count=count,
        batch=batch,
        prefix=prefix,
        phone_number_id=phone_number_id,
        secret=secret,
        sender_offset=sender_offset,
        senders=senders,
    )
    with path.open("w") as handle:
        for signature, body in records:
            handle.write(f"POST {target} {signature} {base64.b64encode(body).decode()}\n")
    return path


def write_gets(path: Path, *, target: str, count: int) -> Path:
    """`count` plain GETs."""
    path.write_text(f"GET {target} - -\n" * count)
    return path

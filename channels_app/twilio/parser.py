"""Twilio's WhatsApp webhook forms turned into the domain's one normalized form.

Two forms arrive: an inbound message (`/webhook/twilio`) and a status callback for a message
we sent (`/webhook/twilio/status`). Every parameter is kept in `raw`, since Twilio adds new
ones without notice; only the ones the domain needs are interpreted. Logs name SIDs and
types, never message contents.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from channels_app.twilio.addresses import WHATSAPP_PREFIX, is_whatsapp
from channels_app.twilio.errors import WINDOW_CLOSED_CODE, closes_window
from conversations.inbound import InboundBatch, InboundMessage, Kind, StatusUpdate
from conversations.models import MessageStatus
from conversations.phones import digits, e164

logger = logging.getLogger(__name__)

PROVIDER = "twilio"

#: Twilio's message statuses that say something about delivery, as the domain's statuses.
#: `undelivered` and `canceled` mean the contact never got it, so they are failures.
STATUSES = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "failed": MessageStatus.FAILED,
    "undelivered": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}
#: Statuses before the hand-over to WhatsApp; Twilio sends no callback for the first, others say nothing new.
EARLY_STATUSES = frozenset({"queued", "accepted", "scheduled", "sending", "receiving", "received"})

#: What the common WhatsApp error codes mean, for a callback that carries only the number.
ERROR_TEXTS = {
    str(WINDOW_CLOSED_CODE): "Outside the 24-hour messaging window: only a template message can be sent",
    "63018": "Rate limit exceeded for the WhatsApp sender",
    "63003": "The recipient is not reachable on WhatsApp",
    "63024": "Invalid message recipient",
    "63032": "The recipient cannot receive this message",
}

_MEDIA_TYPE_KINDS = {"image": Kind.IMAGE, "audio": Kind.AUDIO, "video": Kind.VIDEO}
_VCARD_TYPES = frozenset({"text/vcard", "text/x-vcard"})
#: `MessageType` values that name a media kind more precisely than the content type does.
_MESSAGE_TYPE_KINDS = {"sticker": Kind.STICKER, "document": Kind.DOCUMENT, "contacts": Kind.CONTACTS}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
#: A message's SID as Twilio issues it: `SM` (`MM` with media) and exactly 32 lowercase hex digits.
#: The signature concatenates names and values without separators, so characters can be moved
#: from one parameter into its neighbour without breaking it: the format is what pins the SID.
MESSAGE_SID = re.compile(r"(?:SM|MM)[0-9a-f]{32}")
#: A Twilio account's SID: `AC` and 32 lowercase hex digits.
ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}")

Params = Mapping[str, Any]


class PayloadError(ValueError):
    """The form is not the Twilio webhook this endpoint receives; retrying it cannot help."""


def form_fields(params: Any) -> dict[str, str | list[str]]:
    """Every parameter as received (a list only when repeated): what `raw` keeps."""
    if hasattr(params, "lists"):
        return {key: values[0] if len(values) == 1 else list(values) for key, values in params.lists()}
    return {str(key): value for key, value in dict(params).items()}


def parse_inbound(params: Params) -> InboundBatch:
    """The message one inbound webhook carries; a non-WhatsApp (SMS) message is logged and skipped."""
    fields = form_fields(params)
    sid = _message_sid(fields, "MessageSid", "SmsMessageSid")
    sender, to = _value(fields, "From"), _value(fields, "To")
    if not sid or not sender or not to:
        raise PayloadError("not a Twilio message webhook: MessageSid, From and To are required")
    if not is_whatsapp(sender):
        logger.warning("Twilio webhook: %s is not a WhatsApp message (From is not whatsapp:), skipped", sid)
        return InboundBatch()
    phone, user_id = sender_identifiers(fields)
    if not (phone or user_id):
        raise PayloadError("not a Twilio message webhook: From names neither a number nor a user id")
    kind, text, metadata = _content(fields)
    metadata.update(_context(fields))
    message = InboundMessage(
        provider=PROVIDER,
        account_address=e164(to),
        provider_message_id=sid,
        sender_address=user_id or phone,
        kind=kind,
        text=text,
        sender_phone=phone,
        sender_user_id=user_id,
        sender_name=_value(fields, "ProfileName"),
        reply_to_provider_id=_value(fields, "OriginalRepliedMessageSid"),
        metadata=metadata,
        raw=fields,
    )
    return InboundBatch(messages=(message,))


def sender_identifiers(fields: dict) -> tuple[str, str]:
    """The sender's phone digits and WhatsApp business-scoped user id.

    `From=whatsapp:+15551230001` is a number; `From=whatsapp:US.1234` is a user id (so is
    `ExternalUserId`), never read as the number 1234: `US.1234` and `IN.1234` are two people.
    """
    address = _value(fields, "From")
    if address.lower().startswith(WHATSAPP_PREFIX):
        address = address[len(WHATSAPP_PREFIX) :].strip()
    user_id = _value(fields, "ExternalUserId")
    phone = digits(address)  # "" for a user id: `US.1234` is never the number 1234
    if not phone:
        user_id = user_id or address
    wa_id = _value(fields, "WaId").removeprefix("+")
    if wa_id.isdigit():
        phone = wa_id  # WhatsApp's own id of the number, as Meta's wa_id
    elif wa_id and not user_id:
        user_id = wa_id
    return phone, user_id


def parse_status(params: Params) -> InboundBatch:
    """The delivery receipt one status callback carries; early statuses (queued, sending) carry none."""
    fields = form_fields(params)
    sid = _message_sid(fields, "MessageSid", "SmsSid")
    twilio_status = (_value(fields, "MessageStatus") or _value(fields, "SmsStatus")).lower()
    if not sid or not twilio_status:
        raise PayloadError("not a Twilio status callback: MessageSid and MessageStatus are required")
    status = STATUSES.get(twilio_status)
    if status is None:
        log = logger.debug if twilio_status in EARLY_STATUSES else logger.info
        log("Twilio status %.40r for %s ignored", twilio_status, sid)
        return InboundBatch()
    account = e164(_value(fields, "From"))
    account_sid = _value(fields, "AccountSid")
    if not account and not ACCOUNT_SID.fullmatch(account_sid):
        raise PayloadError("not a Twilio status callback: From (our sender) or AccountSid is required")
    if not account and settings.TWILIO_ACCOUNT_SID and account_sid != settings.TWILIO_ACCOUNT_SID:
        raise PayloadError("AccountSid is not this installation's Twilio account")
    code = _value(fields, "ErrorCode") if status == MessageStatus.FAILED else ""
    update = StatusUpdate(
        provider=PROVIDER,
        # Some callbacks carry no From: the stored message names the account (conversations/message_events.py).
        account_address=account,
        provider_account_id="" if account else account_sid,
        provider_message_id=sid,
        status=status,
        error_code=code,
        error_detail=_error_detail(fields, twilio_status, code) if status == MessageStatus.FAILED else "",
        raw=fields,
        window_closed=closes_window(code),
    )
    return InboundBatch(statuses=(update,))


def _message_sid(fields: dict, *names: str) -> str:
    """The first of `names` present, exactly as sent; one that is not a message SID is refused."""
    for name in names:
        value = _value(fields, name, strip=False)
        if value:
            if not MESSAGE_SID.fullmatch(value):
                raise PayloadError(
                    f"{name} is not a Twilio message SID (SM or MM and 32 lowercase hex digits)"
                )
            return value
    return ""


def _content(fields: dict) -> tuple[str, str, dict[str, Any]]:
    """Kind, readable text and metadata: media, a shared location, a button tap, or plain text."""
    body = _value(fields, "Body", strip=False)
    message_type = _value(fields, "MessageType").lower()
    media = _media(fields)
    if media:
        return _media_kind(media[0]["content_type"], message_type), body, {"media": media}
    latitude, longitude = _number(fields, "Latitude"), _number(fields, "Longitude")
    if latitude is not None and longitude is not None:
        return (
            Kind.LOCATION,
            _location_text(fields, latitude, longitude),
            _location(fields, latitude, longitude),
        )
    button_text, payload = _value(fields, "ButtonText"), _value(fields, "ButtonPayload")
    if button_text or payload:
        metadata = {"reply_id": payload}
        if button_type := _value(fields, "ButtonType"):
            metadata["button_type"] = button_type
        return Kind.INTERACTIVE, button_text or body or payload, metadata
    if body.strip():
        return Kind.TEXT, body, {}
    # Nothing readable: a type Twilio delivers without a body (or one we do not know yet).
    return Kind.UNSUPPORTED, "", {"type": message_type or "unknown"}


def _media(fields: dict) -> list[dict[str, str]]:
    try:
        count = int(_value(fields, "NumMedia") or 0)
    except ValueError:
        count = 0
    media = []
    for index in range(max(0, min(count, 10))):
        url = _value(fields, f"MediaUrl{index}")
        if url:
            media.append({"url": url, "content_type": _value(fields, f"MediaContentType{index}")})
    return media


def _media_kind(content_type: str, message_type: str) -> str:
    if message_type in _MESSAGE_TYPE_KINDS:
        return _MESSAGE_TYPE_KINDS[message_type]
    content_type = content_type.split(";", 1)[0].strip().lower()
    if content_type in _VCARD_TYPES:
        return Kind.CONTACTS
    return _MEDIA_TYPE_KINDS.get(content_type.split("/", 1)[0], Kind.DOCUMENT)


def _location(fields: dict, latitude: float, longitude: float) -> dict[str, Any]:
    metadata: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    for source, target in (("Label", "name"), ("Address", "address")):
        if value := _value(fields, source):
            metadata[target] = value
    return metadata


def _location_text(fields: dict, latitude: float, longitude: float) -> str:
    label = ", ".join(value for value in (_value(fields, "Label"), _value(fields, "Address")) if value)
    where = f"({latitude}, {longitude})"
    return f"Shared location: {label} {where}" if label else f"Shared location {where}"


def _context(fields: dict) -> dict[str, Any]:
    """Forwarding flags, the replied message's sender, and Click-to-WhatsApp ad referrals."""
    metadata: dict[str, Any] = {}
    if _value(fields, "Forwarded").lower() == "true":
        metadata["forwarded"] = True
    if _value(fields, "FrequentlyForwarded").lower() == "true":
        metadata["forwarded"] = metadata["frequently_forwarded"] = True
    if replied_from := _value(fields, "OriginalRepliedMessageSender"):
        metadata["reply_to_from"] = digits(replied_from)
    referral = {
        _CAMEL.sub("_", key.removeprefix("Referral")).lower(): value
        for key, value in fields.items()
        if key.startswith("Referral") and isinstance(value, str) and value and key != "ReferralNumMedia"
    }
    if referral:
        metadata["referral"] = referral
    return metadata


def _error_detail(fields: dict, twilio_status: str, code: str) -> str:
    """What the owner reads about a failed delivery: Twilio's or WhatsApp's words, else ours."""
    detail = (
        _value(fields, "ChannelStatusMessage") or _value(fields, "ErrorMessage") or ERROR_TEXTS.get(code, "")
    )
    prefix = "" if twilio_status == "failed" else f"Twilio reports the message {twilio_status}"
    return (
        ": ".join(part for part in (prefix, detail) if part) or f"Twilio reports the message {twilio_status}"
    )


def _value(fields: dict, key: str, *, strip: bool = True) -> str:
    """A parameter's (last) value, or "" when missing; ids and flags are stripped, texts kept as sent."""
    value = fields.get(key)
    if isinstance(value, list):
        value = value[-1] if value else ""
    if not isinstance(value, str):
        return ""
    return value.strip() if strip else value


def _number(fields: dict, key: str) -> float | None:
    try:
        number = float(_value(fields, key))
    except ValueError:
        return None
    return number if -180.0 <= number <= 180.0 else None

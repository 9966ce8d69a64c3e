"""Meta Cloud API webhook payloads turned into the domain's one normalized form.

A delivery may batch many entries, changes and messages. Each malformed piece is logged
and skipped so that one odd message never costs the others; only a body that is not a
WhatsApp Business Account webhook at all is refused. Logs name ids and types, never
message contents.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from channels_app.whatsapp.errors import closes_window
from conversations.inbound import (
    InboundBatch,
    InboundMessage,
    Kind,
    OwnerEcho,
    ProviderError,
    StatusUpdate,
)
from conversations.models import GROUP_ADDRESS_PREFIX

logger = logging.getLogger(__name__)

PROVIDER = "whatsapp"
WABA_OBJECT = "whatsapp_business_account"
STATUSES = frozenset({"sent", "delivered", "read", "failed", "played"})
#: A business-scoped user id: a country code, a dot and up to 128 letters or digits (`US.1349…`).
USER_ID = re.compile(r"[A-Z]{2}\.[A-Za-z0-9.]{1,140}")
#: The change field of coexistence: what the owner typed in the WhatsApp Business app.
ECHO_FIELD = "smb_message_echoes"

_MEDIA_KINDS = {
    "image": Kind.IMAGE,
    "audio": Kind.AUDIO,
    "video": Kind.VIDEO,
    "document": Kind.DOCUMENT,
    "sticker": Kind.STICKER,
}
_MEDIA_FIELDS = {
    "id": "media_id",
    "mime_type": "mime_type",
    "sha256": "sha256",
    "url": "url",
    "filename": "filename",
}


class PayloadError(ValueError):
    """The body is not a WhatsApp Business Account webhook; retrying it cannot help."""


class _Skip(Exception):
    """One piece of a payload is malformed; it is logged and the rest of the batch goes on."""


# What a message handler returns: kind, readable text, normalized metadata.
_Parsed = tuple[str, str, dict[str, Any]]


def read_body(body: bytes) -> InboundBatch:
    """A webhook body as Meta sent it, parsed; ValueError (PayloadError) when it is not one."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise PayloadError("malformed JSON") from None
    return parse_webhook(payload)


def parse_webhook(payload: dict) -> InboundBatch:
    """Every message, status and error of one webhook delivery, normalized."""
    if not isinstance(payload, dict):
        raise PayloadError("payload is not a JSON object")
    if payload.get("object") != WABA_OBJECT:
        raise PayloadError(f"not a WhatsApp webhook: object must be {WABA_OBJECT!r}")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise PayloadError("not a WhatsApp webhook: entry must be a list")
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    errors: list[ProviderError] = []
    echoes: list[OwnerEcho] = []
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            logger.warning("WhatsApp webhook: entry without a changes list skipped")
            continue
        for change in changes:
            if isinstance(change, dict) and change.get("field") == ECHO_FIELD:
                echoes.extend(_parse_echoes(change.get("value")))
                continue
            _parse_change(change, messages, statuses, errors)
    return InboundBatch(
        messages=tuple(messages), statuses=tuple(statuses), errors=tuple(errors), echoes=tuple(echoes)
    )


def _parse_change(
    change: Any, messages: list[InboundMessage], statuses: list[StatusUpdate], errors: list[ProviderError]
) -> None:
    if not isinstance(change, dict):
        logger.warning("WhatsApp webhook: change that is not an object skipped")
        return
    field = change.get("field")
    if field != "messages":
        logger.info("WhatsApp webhook: %.60r change skipped (only 'messages' is handled)", field)
        return
    value = change.get("value")
    metadata = value.get("metadata") if isinstance(value, dict) else None
    account = _string(metadata.get("phone_number_id")) if isinstance(metadata, dict) else ""
    if not account:
        logger.warning("WhatsApp webhook: change without metadata.phone_number_id skipped")
        return
    contacts = _Contacts(value.get("contacts"))
    for raw in _list(value, "messages"):
        try:
            messages.append(_parse_message(raw, account, contacts))
        except _Skip as exc:
            logger.warning("WhatsApp webhook: message skipped on %s: %s", account, exc)
    for raw in _list(value, "statuses"):
        try:
            statuses.append(_parse_status(raw, account))
        except _Skip as exc:
            logger.warning("WhatsApp webhook: status skipped on %s: %s", account, exc)
    for raw in _list(value, "errors"):
        try:
            errors.append(_parse_error(raw, account))
        except _Skip as exc:
            logger.warning("WhatsApp webhook: error report skipped on %s: %s", account, exc)


class _Contacts:
    """The `contacts` of one change, found by wa_id or business-scoped user id."""

    def __init__(self, contacts: Any) -> None:
        self._by_key: dict[str, dict] = {}
        for contact in contacts if isinstance(contacts, list) else ():
            if not isinstance(contact, dict):
                continue
            for key in (_string(contact.get("wa_id")).removeprefix("+"), _string(contact.get("user_id"))):
                if key:
                    self._by_key.setdefault(key, contact)

    def find(self, *keys: str) -> dict:
        """The first contact matching any key, or an empty dict."""
        for key in keys:
            if key and key in self._by_key:
                return self._by_key[key]
        return {}


def _parse_message(raw: Any, account: str, contacts: _Contacts) -> InboundMessage:
    if not isinstance(raw, dict):
        raise _Skip("not an object")
    message_id = _string(raw.get("id"))
    if not message_id:
        raise _Skip("no message id")
    phone, user_id = _identifiers(_string(raw.get("from")), _string(raw.get("from_user_id")))
    if not (user_id or phone):
        raise _Skip(f"{message_id} has neither from nor from_user_id")
    contact = contacts.find(user_id, phone)
    if not phone:
        phone = _identifiers(_string(contact.get("wa_id")), "")[0]
    user_id = user_id or _identifiers("", _string(contact.get("user_id")))[1]
    parent_user_id = _string(raw.get("from_parent_user_id")) or _string(contact.get("parent_user_id"))
    profile = contact.get("profile") if isinstance(contact.get("profile"), dict) else {}

    message_type = _string(raw.get("type"))
    kind, text, metadata = _content(raw, message_type)

    reply_to = ""
    context = raw.get("context")
    if isinstance(context, dict):
        reply_to = _string(context.get("id"))
        metadata.update(_context_metadata(context))
    referral = raw.get("referral")
    if isinstance(referral, dict):
        metadata["referral"] = _scalars(referral)
        welcome = referral.get("welcome_message")
        if isinstance(welcome, dict) and (greeting := _string(welcome.get("text"))):
            metadata["referral"]["welcome_message"] = greeting
    if username := _string(profile.get("username")):
        metadata["username"] = username
    if parent_user_id:
        metadata["parent_user_id"] = parent_user_id
    name = _string(profile.get("name"))
    if group_id := _string(raw.get("group_id")):
        # The conversation is the group's, never the member's: who wrote is kept with the message.
        metadata["group_id"] = group_id
        member = {"phone": phone, "user_id": user_id, "name": name}
        metadata["member"] = {key: value for key, value in member.items() if value}
        metadata["member"]["label"] = name or (f"+{phone}" if phone else user_id)
        return InboundMessage(
            provider=PROVIDER,
            account_address=account,
            provider_message_id=message_id,
            sender_address=GROUP_ADDRESS_PREFIX + group_id,
            kind=kind,
            text=text,
            sent_at=_timestamp(raw.get("timestamp")),
            reply_to_provider_id=reply_to,
            metadata=metadata,
            raw=raw,
        )

    return InboundMessage(
        provider=PROVIDER,
        account_address=account,
        provider_message_id=message_id,
        sender_address=user_id or phone,
        kind=kind,
        text=text,
        sender_phone=phone,
        sender_name=name,
        sender_user_id=user_id,
        sender_parent_user_id=parent_user_id,
        sent_at=_timestamp(raw.get("timestamp")),
        reply_to_provider_id=reply_to,
        metadata=metadata,
        raw=raw,
    )


def _identifiers(phone: str, user_id: str) -> tuple[str, str]:
    """A phone number (digits only) and a business-scoped user id (`US.1349…`), each where it belongs.

    A user id is never read as a phone number: a `from` that is not digits is a user id.
    """
    phone = phone.strip().removeprefix("+")
    if phone and not phone.isdigit():
        user_id = user_id or (phone if USER_ID.fullmatch(phone) else "")
        phone = ""
    return phone, user_id.strip()


def _content(raw: dict, message_type: str) -> _Parsed:
    """Kind, text and metadata; a message whose content cannot be read (an `errors` list such as
    131000 and no type object) is still a message: kept as unsupported, with the reason."""
    handler = _HANDLERS.get(message_type, _unsupported)
    try:
        return handler(raw, message_type)
    except _Skip as exc:
        logger.warning(
            "WhatsApp webhook: message %.80s (%.40r) kept as unsupported: %s",
            _string(raw.get("id")),
            message_type,
            exc,
        )
        kind, text, metadata = _unsupported(raw, message_type)
        metadata["problem"] = str(exc)
        return kind, text, metadata


def _parse_echoes(value: Any) -> list[OwnerEcho]:
    """`message_echoes`: the owner's own messages from the Business app, to one contact each."""
    metadata = value.get("metadata") if isinstance(value, dict) else None
    account = _string(metadata.get("phone_number_id")) if isinstance(metadata, dict) else ""
    if not account:
        logger.warning("WhatsApp webhook: echo change without metadata.phone_number_id skipped")
        return []
    echoes = []
    for raw in _list(value, "message_echoes"):
        if not isinstance(raw, dict):
            raw = {}
        message_id = _string(raw.get("id"))
        # The recipient, read as a sender is: a user id in `to` is never taken for a phone number.
        phone, user_id = _identifiers(_string(raw.get("to")), _string(raw.get("to_user_id")))
        if not message_id or not (phone or user_id):
            logger.warning("WhatsApp webhook: echo without id or recipient skipped on %s", account)
            continue
        kind, text, details = _content(raw, _string(raw.get("type")))
        echoes.append(
            OwnerEcho(
                provider=PROVIDER,
                account_address=account,
                provider_message_id=message_id,
                contact_address=user_id or phone,
                kind=kind,
                text=text,
                contact_phone=phone,
                contact_user_id=user_id,
                sent_at=_timestamp(raw.get("timestamp")),
                metadata=details,
                raw=raw,
            )
        )
    return echoes


def _context_metadata(context: dict) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    if context.get("forwarded") is True:
        metadata["forwarded"] = True
    if context.get("frequently_forwarded") is True:
        metadata["forwarded"] = True
        metadata["frequently_forwarded"] = True
    if replied_from := _string(context.get("from")):
        metadata["reply_to_from"] = replied_from
    product = context.get("referred_product")
    if isinstance(product, dict):
        metadata["referred_product"] = _scalars(product)
    return metadata


def _text_message(raw: dict, _type: str) -> _Parsed:
    body = _object(raw, "text").get("body")
    if not isinstance(body, str):
        raise _Skip("text.body is missing")
    return Kind.TEXT, body, {}


def _interactive(raw: dict, message_type: str) -> _Parsed:
    interactive = _object(raw, "interactive")
    interactive_type = _string(interactive.get("type"))
    if interactive_type == "nfm_reply":
        return _flow_reply(_object(interactive, "nfm_reply"))
    if interactive_type not in ("button_reply", "list_reply"):
        # Newer replies need a human until we support them.
        kind, text, metadata = _unsupported(raw, message_type)
        metadata["interactive_type"] = interactive_type
        return kind, text, metadata
    reply = _object(interactive, interactive_type)
    title = reply.get("title")
    if not isinstance(title, str):
        raise _Skip(f"{interactive_type}.title is missing")
    metadata = {"interactive_type": interactive_type, "reply_id": _string(reply.get("id"))}
    if description := _string(reply.get("description")):
        metadata["description"] = description
    return Kind.INTERACTIVE, title, metadata


def _template_button(raw: dict, _type: str) -> _Parsed:
    button = _object(raw, "button")
    text = button.get("text")
    if not isinstance(text, str):
        raise _Skip("button.text is missing")
    return Kind.TEMPLATE, text, {"payload": _string(button.get("payload"))}


def _media(raw: dict, message_type: str) -> _Parsed:
    media = _object(raw, message_type)
    metadata: dict[str, Any] = {}
    for source, target in _MEDIA_FIELDS.items():
        if value := _string(media.get(source)):
            metadata[target] = value
    if message_type == "audio":
        metadata["voice"] = media.get("voice") is True
    if message_type == "sticker":
        metadata["animated"] = media.get("animated") is True
    return _MEDIA_KINDS[message_type], _string(media.get("caption")), metadata


def _location(raw: dict, _type: str) -> _Parsed:
    location = _object(raw, "location")
    latitude, longitude = location.get("latitude"), location.get("longitude")
    if not (_is_number(latitude) and _is_number(longitude)):
        raise _Skip("location without latitude/longitude")
    metadata: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    for key in ("name", "address", "url"):
        if value := _string(location.get(key)):
            metadata[key] = value
    label = ", ".join(metadata[key] for key in ("name", "address") if key in metadata)
    where = f"({latitude}, {longitude})"
    return (
        Kind.LOCATION,
        f"Shared location: {label} {where}" if label else f"Shared location {where}",
        metadata,
    )


def _shared_contacts(raw: dict, _type: str) -> _Parsed:
    cards = raw.get("contacts")
    if not isinstance(cards, list) or not cards:
        raise _Skip("contacts is not a non-empty list")
    shared = [_contact_card(card) for card in cards if isinstance(card, dict)]
    if not shared:
        raise _Skip("no readable contact card")
    labels = []
    for card in shared:
        phones = ", ".join(phone["phone"] or phone["wa_id"] for phone in card["phones"])
        labels.append(f"{card['name'] or 'unnamed'} ({phones})" if phones else card["name"] or "unnamed")
    prefix = "Shared contact" if len(shared) == 1 else "Shared contacts"
    return Kind.CONTACTS, f"{prefix}: {'; '.join(labels)}", {"contacts": shared}


def _contact_card(card: dict) -> dict[str, Any]:
    name = card.get("name") if isinstance(card.get("name"), dict) else {}
    full_name = _string(name.get("formatted_name")) or " ".join(
        part for part in (_string(name.get("first_name")), _string(name.get("last_name"))) if part
    )
    phones = [
        {"phone": _string(p.get("phone")), "wa_id": _string(p.get("wa_id")), "type": _string(p.get("type"))}
        for p in _list(card, "phones")
        if isinstance(p, dict) and (p.get("phone") or p.get("wa_id"))
    ]
    emails = [
        _string(e.get("email")) for e in _list(card, "emails") if isinstance(e, dict) and e.get("email")
    ]
    org = card.get("org") if isinstance(card.get("org"), dict) else {}
    return {
        "name": full_name,
        "phones": phones,
        "emails": emails,
        "organization": _string(org.get("company")),
    }


def _reaction(raw: dict, _type: str) -> _Parsed:
    reaction = _object(raw, "reaction")
    reacted_to = _string(reaction.get("message_id"))
    if not reacted_to:
        raise _Skip("reaction.message_id is missing")
    # Removing a reaction sends the same webhook with the emoji omitted (or, seen in the wild, empty).
    emoji = _string(reaction.get("emoji"))
    return Kind.REACTION, emoji, {"message_id": reacted_to, "emoji": emoji, "removed": not emoji}


def _flow_reply(reply: dict) -> _Parsed:
    """A WhatsApp Flow's answers: `response_json` is a JSON string of the fields the contact filled."""
    try:
        response = json.loads(_string(reply.get("response_json")) or "{}")
    except ValueError:
        response = {}
    answers = response if isinstance(response, dict) else {}
    flow = {
        "name": _string(reply.get("name")),
        "body": _string(reply.get("body")),
        "flow_token": _string(answers.get("flow_token")),
        "answers": {str(k): v for k, v in answers.items() if k != "flow_token"},
    }
    shown = "; ".join(f"{key}: {_plain(value)}" for key, value in flow["answers"].items())
    return Kind.FLOW, f"Flow reply: {shown}" if shown else "Flow reply (no answers)", {"flow": flow}


def _order(raw: dict, _type: str) -> _Parsed:
    """Catalog items the contact sent as an order: the owner decides, so it is escalated, readably."""
    order = _object(raw, "order")
    items = [
        {
            "product_retailer_id": _string(item.get("product_retailer_id")),
            "quantity": _string(item.get("quantity")),
            "item_price": _string(item.get("item_price")) or _plain(item.get("item_price")),
            "currency": _string(item.get("currency")),
        }
        for item in _list(order, "product_items")
        if isinstance(item, dict)
    ]
    details = {
        "catalog_id": _string(order.get("catalog_id")),
        "note": _string(order.get("text")),
        "items": items,
    }
    lines = [
        f"{item['quantity'] or '?'} x {item['product_retailer_id'] or 'unknown item'}"
        + (f" ({item['item_price']} {item['currency']})".replace(" )", ")") if item["item_price"] else "")
        for item in items
    ]
    text = "Order: " + ("; ".join(lines) if lines else "no items")
    if details["note"]:
        text += f". Note: {details['note']}"
    return Kind.ORDER, text, {"order": details}


def _welcome(_raw: dict, _type: str) -> _Parsed:
    """The contact opened the chat for the first time: nothing to read, nothing to escalate."""
    return Kind.WELCOME, "", {"welcome_request": True}


def _legacy_voice(raw: dict, _type: str) -> _Parsed:
    """Older payloads' `type: "voice"`: a voice note, as `audio` with `voice: true` is today."""
    _kind, text, metadata = _media({**raw, "audio": _object(raw, "voice")}, "audio")
    return Kind.AUDIO, text, {**metadata, "voice": True}


def _edit(raw: dict, _type: str) -> _Parsed:
    """The contact changed a message: the new content, and which message it replaces."""
    edit = _object(raw, "edit")
    original = _string(edit.get("original_message_id"))
    if not original:
        raise _Skip("edit.original_message_id is missing")
    inner = edit.get("message") if isinstance(edit.get("message"), dict) else {}
    kind, text, metadata = _content(inner, _string(inner.get("type")))
    return (
        Kind.EDIT,
        text,
        {"original_message_id": original, "edited_kind": kind, "edited_metadata": metadata},
    )


def _revoke(raw: dict, _type: str) -> _Parsed:
    """The contact deleted a message for everyone."""
    original = _string(_object(raw, "revoke").get("original_message_id"))
    if not original:
        raise _Skip("revoke.original_message_id is missing")
    return Kind.REVOKE, "", {"original_message_id": original}


def _plain(value: Any) -> str:
    """A short readable form of a Flow answer or price (lists joined, objects as compact JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(_plain(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return "" if value is None else str(value)


def _system(raw: dict, message_type: str) -> _Parsed:
    """WhatsApp's notice about the contact: a changed number (moved to the new one) or a changed identity."""
    system = _object(raw, "system")
    system_type = _string(system.get("type"))
    body = _string(system.get("body"))
    metadata: dict[str, Any] = {"system_type": system_type}
    if system_type == "user_changed_number":
        new_phone = (_string(system.get("wa_id")) or _string(system.get("new_wa_id"))).removeprefix("+")
        if not new_phone.isdigit():
            raise _Skip("user_changed_number without the new wa_id")
        metadata["new_phone"] = new_phone
        return Kind.SYSTEM, body or f"The contact changed their number to +{new_phone}", metadata
    if system_type == "customer_identity_changed":
        identity = raw.get("identity") if isinstance(raw.get("identity"), dict) else system.get("identity")
        if isinstance(identity, dict):
            metadata["identity"] = _scalars(identity)
        text = body or "The contact's WhatsApp identity changed (new device or reinstall)"
        return Kind.SYSTEM, text, metadata
    return _unsupported(raw, message_type)


def _unsupported(raw: dict, message_type: str) -> _Parsed:
    metadata: dict[str, Any] = {"type": message_type or "unknown"}
    detail = raw.get(message_type) if message_type else None
    if isinstance(detail, dict) and (subtype := _string(detail.get("type"))):
        metadata["subtype"] = subtype
    problems = [_error_fields(error) for error in _list(raw, "errors") if isinstance(error, dict)]
    if problems:
        metadata["errors"] = [{"code": code, "detail": detail} for code, detail in problems]
    return Kind.UNSUPPORTED, "", metadata


_HANDLERS: dict[str, Callable[[dict, str], _Parsed]] = {
    "text": _text_message,
    "interactive": _interactive,
    "button": _template_button,
    "location": _location,
    "contacts": _shared_contacts,
    "reaction": _reaction,
    "system": _system,
    "order": _order,
    "request_welcome": _welcome,
    "voice": _legacy_voice,
    "edit": _edit,
    "revoke": _revoke,
    **dict.fromkeys(_MEDIA_KINDS, _media),
}


def _parse_status(raw: Any, account: str) -> StatusUpdate:
    if not isinstance(raw, dict):
        raise _Skip("not an object")
    message_id = _string(raw.get("id"))
    if not message_id:
        raise _Skip("no message id")
    status = _string(raw.get("status"))
    if status not in STATUSES:
        raise _Skip(f"{message_id}: unknown status {status[:40]!r}")
    first_error = next((e for e in _list(raw, "errors") if isinstance(e, dict)), None)
    code, detail = _error_fields(first_error) if first_error else ("", "")
    return StatusUpdate(
        provider=PROVIDER,
        account_address=account,
        provider_message_id=message_id,
        status=status,
        occurred_at=_timestamp(raw.get("timestamp")),
        error_code=code,
        error_detail=detail,
        raw=raw,
        window_closed=status == "failed" and closes_window(code),
    )


def _parse_error(raw: Any, account: str) -> ProviderError:
    if not isinstance(raw, dict):
        raise _Skip("not an object")
    code, detail = _error_fields(raw)
    if not code and not detail:
        raise _Skip("neither code nor detail")
    return ProviderError(provider=PROVIDER, account_address=account, code=code, detail=detail, raw=raw)


def _error_fields(error: dict) -> tuple[str, str]:
    """The code and a readable detail of a Graph error object (title plus error_data.details)."""
    code = _string(error.get("code"))
    title = _string(error.get("title")) or _string(error.get("message"))
    error_data = error.get("error_data")
    details = _string(error_data.get("details")) if isinstance(error_data, dict) else ""
    if title and details and details != title:
        return code, f"{title}: {details}"
    return code, title or details


def _timestamp(value: Any) -> datetime | None:
    """Meta's timestamps are Unix seconds, as strings."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _string(value: Any) -> str:
    """A string field, or "" for anything missing or of the wrong type (ids may come as numbers)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _object(container: dict, key: str) -> dict:
    value = container.get(key)
    if not isinstance(value, dict):
        raise _Skip(f"{key} is not an object")
    return value


def _list(container: dict, key: str) -> list:
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        logger.warning("WhatsApp webhook: %s is not a list, ignored", key)
        return []
    return value


def _scalars(mapping: dict) -> dict[str, Any]:
    """A flat copy keeping only plain values, so no provider structure leaks into metadata."""
    return {str(key): value for key, value in mapping.items() if isinstance(value, str | int | float | bool)}

"""The normalized forms every provider edge parses its webhooks into.

Raw provider payloads never cross into the domain except as an opaque `raw` dict kept
for the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


class Kind:
    """Message kinds; anything but text, interactive and template-button replies needs a human."""

    TEXT = "text"
    INTERACTIVE = "interactive"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    REACTION = "reaction"
    TEMPLATE = "template"
    UNSUPPORTED = "unsupported"

    READABLE = frozenset({TEXT, INTERACTIVE, TEMPLATE})


@dataclass(frozen=True)
class InboundMessage:
    """One message a provider's contact sent to an owner's channel account."""

    provider: str
    account_address: str
    provider_message_id: str
    sender_address: str
    kind: str = Kind.TEXT
    text: str = ""
    sender_phone: str = ""
    sender_name: str = ""
    sent_at: datetime | None = None
    reply_to_provider_id: str = ""
    metadata: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery receipt for a message we sent."""

    provider: str
    account_address: str
    provider_message_id: str
    status: str
    occurred_at: datetime | None = None
    error_code: str = ""
    error_detail: str = ""
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderError:
    """An out-of-band error the provider reported about an account, not about one message."""

    provider: str
    account_address: str
    code: str
    detail: str
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class InboundBatch:
    """Everything one webhook delivery carried."""

    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
    errors: tuple[ProviderError, ...] = ()

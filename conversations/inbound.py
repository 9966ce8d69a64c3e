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
    #: Catalog items the contact ordered; details in metadata["order"].
    ORDER = "order"
    #: A WhatsApp Flow's answers; details in metadata["flow"].
    FLOW = "flow"
    #: The contact opened the chat for the first time and wrote nothing yet.
    WELCOME = "request_welcome"
    #: The contact changed one of their messages (metadata["original_message_id"]).
    EDIT = "edit"
    #: The contact deleted one of their messages for everyone (metadata["original_message_id"]).
    REVOKE = "revoke"

    #: A notice from WhatsApp about the contact (metadata["system_type"]): a changed number or
    #: identity. Applied to the contact by conversations/identity.py, never answered.
    SYSTEM = "system"

    READABLE = frozenset({TEXT, INTERACTIVE, TEMPLATE})
    #: Kinds that are recorded without asking the owner for anything: no escalation.
    QUIET = frozenset({REACTION, EDIT, REVOKE, WELCOME, SYSTEM})


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
    #: WhatsApp's business-scoped user id (`US.1349…`) and its parent; never read as a phone number.
    #: `sender_address` is the handle a new contact is created under (the user id when known, else
    #: the phone, or `group:<id>` for a group); existing contacts are found by phone or user id.
    sender_user_id: str = ""
    sender_parent_user_id: str = ""
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
    #: The provider refused the message because WhatsApp's 24-hour window had closed (set by the
    #: provider's parser from its own error code, as `SendFailure.window_closed` is on a send).
    window_closed: bool = False
    #: The provider's account id (Twilio's AccountSid) when the receipt names no sender number:
    #: `account_address` is then "" and the account is found through the stored message.
    provider_account_id: str = ""


@dataclass(frozen=True)
class OwnerEcho:
    """A message the owner sent to a contact from another app on the same number.

    Meta's coexistence (`smb_message_echoes`): what the owner typed in the WhatsApp Business
    app. `contact_address` is who it went to, the same address an `InboundMessage` from them has.
    """

    provider: str
    account_address: str
    provider_message_id: str
    contact_address: str
    kind: str = Kind.TEXT
    text: str = ""
    contact_phone: str = ""
    contact_user_id: str = ""
    sent_at: datetime | None = None
    metadata: dict = field(default_factory=dict)
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
    echoes: tuple[OwnerEcho, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Carries nothing Gatekeeper stores (an update of a field it does not read)."""
        return not (self.messages or self.statuses or self.errors or self.echoes)

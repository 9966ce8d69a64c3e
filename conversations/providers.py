"""The contract between the domain and the channel edges, and the factory that loads them.

`conversations` never imports `channels_app`: the concrete providers are dotted paths in
`settings.CHANNEL_PROVIDERS`, loaded by the shared backend loader (`ai/backends.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from ai.backends import load_backend


@dataclass(frozen=True)
class OutboundText:
    """A text to deliver to a contact, optionally as a contextual reply."""

    account_address: str
    to: str
    text: str
    to_phone: str = ""
    reply_to_provider_id: str = ""
    #: WhatsApp's business-scoped user id: the recipient when no phone number is known.
    to_user_id: str = ""
    #: A WhatsApp group id: the message goes to the group, never to a member privately.
    to_group: str = ""
    conversation_id: int | None = None


@dataclass(frozen=True)
class OutboundTemplate:
    """A pre-approved WhatsApp template: the only kind of message allowed once the 24-hour window closed.

    `template` is a Meta template name (sent with `language`) or a Twilio Content SID (`HX...`);
    `variables` fill the template's placeholders, by position ("1", "2", ...) or by name.
    """

    account_address: str
    to: str
    template: str
    language: str = ""
    to_phone: str = ""
    variables: tuple[tuple[str, str], ...] = ()
    to_user_id: str = ""
    to_group: str = ""
    conversation_id: int | None = None


@dataclass(frozen=True)
class SendReceipt:
    """The provider accepted the message (not yet delivered) under this id."""

    provider_message_id: str


class SendFailure(Exception):
    """A send the provider refused or that could not reach it.

    `retryable` failures (rate limits, outages, timeouts) are tried again with backoff;
    the others fail the message and escalate. `window_closed` marks the WhatsApp 24-hour
    customer-service window.
    """

    def __init__(
        self,
        detail: str,
        *,
        code: str = "",
        retryable: bool = False,
        window_closed: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {detail}" if code else detail)
        self.detail = detail
        self.code = code
        self.retryable = retryable
        self.window_closed = window_closed
        self.retry_after = retry_after


class ChannelProvider:
    """Base class of a provider's outbound side."""

    #: Longest text one provider message may carry; longer replies are split.
    max_text_length = 4096
    #: True for a stand-in that prints instead of sending (no provider configured): its messages
    #: are recorded as printed, never as sent.
    prints = False

    def __init__(self, alias: str, **options) -> None:
        self.alias = alias
        self.options = options

    def send_text(self, message: OutboundText) -> SendReceipt:
        raise NotImplementedError("subclasses of ChannelProvider must provide send_text()")

    def send_template(self, message: OutboundTemplate) -> SendReceipt:
        """Send a pre-approved template; only channels with a messaging window (WhatsApp) have them."""
        raise NotImplementedError(f"the {self.alias!r} provider cannot send templates")

    def mark_read(self, *, account_address: str, provider_message_id: str) -> None:
        """Tell the contact their message was seen; providers without receipts do nothing."""

    def show_typing(self, *, account_address: str, to: str, conversation_id: int | None = None) -> None:
        """Tell the contact a reply is being drafted; channels without an indicator do nothing."""

    def notify_held(self, *, account_address: str, to: str, conversation_id: int | None = None) -> None:
        """Tell the contact their reply waits for the owner's approval; most channels stay silent."""


#: The setting that names each channel's provider class, and the one it replaces (read for one release).
SETTING = "CHANNEL_PROVIDERS"
OLD_SETTING = "GATEKEEPER_PROVIDERS"


def legacy_config(alias: str) -> dict | None:
    """The channel's entry in GATEKEEPER_PROVIDERS, if an install still sets it (check conversations.W001)."""
    return (getattr(settings, OLD_SETTING, None) or {}).get(alias)


def provider_class(alias: str) -> type[ChannelProvider]:
    """The class configured for a channel account's `provider` value; ImproperlyConfigured names the setting."""
    legacy = legacy_config(alias)
    if legacy is not None:
        return load_backend(f"{OLD_SETTING}[{alias!r}]['BACKEND']", legacy.get("BACKEND"))
    configured = settings.CHANNEL_PROVIDERS
    if alias not in configured:
        raise ImproperlyConfigured(
            f"{SETTING} has no provider for the channel {alias!r} (it names {', '.join(sorted(configured))})."
        )
    return load_backend(f"{SETTING}[{alias!r}]", configured[alias])


@cache
def get_provider(alias: str) -> ChannelProvider:
    """The configured provider for a channel account's `provider` value.

    Providers read their credentials and URLs from the WHATSAPP_* and TWILIO_* settings when they
    use them; only an install's old GATEKEEPER_PROVIDERS still hands them OPTIONS.
    """
    legacy = legacy_config(alias) or {}
    return provider_class(alias)(alias, **legacy.get("OPTIONS", {}))


def _reset_providers(*, setting: str, **kwargs) -> None:
    if setting in (SETTING, OLD_SETTING):
        get_provider.cache_clear()


setting_changed.connect(_reset_providers)

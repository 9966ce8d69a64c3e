"""Start-up check of the WhatsApp providers: a channel that is set up but cannot send must not print quietly.

Without credentials a provider falls back to the console, which prints replies instead of
sending them (`channels_app/console.py`): right for a first `make run`, where no number is
configured, and wrong once a real number is linked, since the owner would see approved
replies that never reached anyone. Such a channel is an error with DEBUG off, so every
`manage.py` command (migrate, the server, the workers) refuses to start, and a warning with
DEBUG on.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from conversations.providers import provider_class


@dataclass(frozen=True)
class Channel:
    """A provider alias, the settings that say it is set up, and those it needs to send."""

    alias: str
    name: str
    configured_by: tuple[str, ...]
    needs: str


CHANNELS = (
    Channel("whatsapp", "WhatsApp (Meta Cloud API)", ("WHATSAPP_PHONE_NUMBER_ID",), "WHATSAPP_API_TOKEN"),
    Channel(
        "twilio",
        "WhatsApp (Twilio)",
        ("TWILIO_WHATSAPP_NUMBER", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"),
        "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN",
    ),
)


def prints(alias: str) -> bool:
    """Whether the provider configured for `alias` prints instead of sending."""
    try:
        backend = provider_class(alias)
    except ImproperlyConfigured:
        return False  # a missing or broken provider is its own error (conversations.E002, E003)
    return bool(getattr(backend, "prints", False))


def falls_back_to_printing() -> list[tuple[Channel, list[str]]]:
    """The channels set up in the environment whose replies would only be printed, with what set them up."""
    found = []
    for channel in CHANNELS:
        given = [name for name in channel.configured_by if getattr(settings, name, "")]
        if given and prints(channel.alias):
            found.append((channel, given))
    return found


@register()
def check_providers_send(app_configs=None, **kwargs) -> list[CheckMessage]:
    """An error (a warning with DEBUG on) for each set-up channel that would print its replies."""
    messages: list[CheckMessage] = []
    for channel, given in falls_back_to_printing():
        text = (
            f"{channel.name} is set up ({', '.join(given)}) without {channel.needs}: its replies would be "
            "printed in the log, not sent (they show as 'Printed, not sent')."
        )
        hint = f"Set {channel.needs}, or unset {', '.join(given)} to run without this channel."
        if settings.DEBUG:
            messages.append(Warning(text, hint=hint, id="channels.W001"))
        else:
            messages.append(
                Error(text, hint=f"{hint} With DEBUG=true this is only a warning.", id="channels.E001")
            )
    return messages

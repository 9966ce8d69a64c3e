"""Start-up checks of the web-chat settings, so a typo fails `manage.py check`, not a visitor's message."""

from __future__ import annotations

import ipaddress
import re

from django.conf import settings
from django.core.checks import Error, register

from channels_app.webchat.ratelimit import Rate
from conversations.origins import clean_origins


@register()
def check_webchat_settings(app_configs=None, **kwargs) -> list[Error]:
    """Rates must parse, trusted proxies must be addresses or networks, and limits must be positive."""
    errors = []
    for name in ("WEBCHAT_VISITOR_RATE", "WEBCHAT_ADDRESS_RATE", "WEBCHAT_NEW_VISITOR_RATE"):
        try:
            Rate.parse(getattr(settings, name))
        except ValueError as exc:
            errors.append(Error(f"{name}: {exc}", id="webchat.E001"))
    for entry in settings.TRUSTED_PROXIES:
        try:
            ipaddress.ip_network(entry.strip())
        except ValueError:
            errors.append(
                Error(
                    f"TRUSTED_PROXIES: {entry!r} is not an address or a network (like 10.0.0.0/8).",
                    id="webchat.E004",
                )
            )
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", settings.WEBCHAT_SLUG):
        errors.append(Error("WEBCHAT_SLUG may hold only letters, digits, '-' and '_'.", id="webchat.E003"))
    try:
        clean_origins(list(settings.WEBCHAT_ALLOWED_ORIGINS))
    except ValueError as error:
        errors.extend(
            Error(f"WEBCHAT_ALLOWED_ORIGINS: {reason}", id="webchat.E005") for reason in error.args[0]
        )
    for name in ("WEBCHAT_MAX_TEXT_LENGTH", "WEBCHAT_HISTORY_LIMIT", "WEBCHAT_TOKEN_MAX_AGE"):
        if getattr(settings, name) <= 0:
            errors.append(Error(f"{name} must be a positive number.", id="webchat.E002"))
    return errors

"""The owner's own WhatsApp number: what Gatekeeper sends there, from the owner's gatekeeper number.

Notifications, confirmations of the owner's commands and the daily digest all leave through
`send_to_owner`, so the choice of account and the handling of a closed window live in one place.
"""

from __future__ import annotations

import logging
import re

from django.db.models import Case, When

from conversations.models import ChannelAccount, OwnerSettings, Provider
from conversations.providers import OutboundText, SendFailure, get_provider

logger = logging.getLogger(__name__)

#: Channel providers that can carry a WhatsApp note to the owner, preferred first.
WHATSAPP_PROVIDERS = (Provider.WHATSAPP, Provider.TWILIO)


def owner_number(owner_id: int) -> str:
    """The owner's own WhatsApp number as `+<digits>`, or "" when they gave none."""
    number = OwnerSettings.objects.filter(owner_id=owner_id).values_list("notify_whatsapp", flat=True).first()
    digits = re.sub(r"\D", "", number or "")
    return f"+{digits}" if digits else ""


def owner_account(owner_id: int) -> ChannelAccount | None:
    """The owner's WhatsApp account that writes to their own number: Meta's first, then Twilio's."""
    return (
        ChannelAccount.objects.filter(owner_id=owner_id, provider__in=WHATSAPP_PROVIDERS)
        .order_by(Case(When(provider=Provider.WHATSAPP, then=0), default=1), "id")
        .first()
    )


def send_to_owner(owner_id: int, text: str, *, number: str = "") -> bool:
    """Send `text` to the owner's own number; whether the provider accepted it. Failures are logged."""
    phone = "+" + re.sub(r"\D", "", number) if number else owner_number(owner_id)
    if phone == "+" or not phone:
        return False
    account = owner_account(owner_id)
    if account is None:
        logger.warning("owner %s has no WhatsApp number to send notifications from", owner_id)
        return False
    try:
        get_provider(account.provider).send_text(
            OutboundText(account_address=account.address, to=phone, to_phone=phone, text=text)
        )
    except SendFailure as failure:
        logger.warning(
            "WhatsApp note to owner %s failed: %s%s",
            owner_id,
            failure,
            " (WhatsApp delivers only within 24 hours of your last message to this number)"
            if failure.window_closed
            else "",
        )
        return False
    except Exception:
        logger.exception("WhatsApp note to owner %s failed", owner_id)
        return False
    return True

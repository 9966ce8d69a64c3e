"""Setting an owner up: account, safe default rules, channel accounts. Idempotent."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from rest_framework.authtoken.models import Token

from conversations.models import ChannelAccount, OwnerSettings, Provider, Rule, RuleAction, User

#: The categories a new owner starts with. Nothing is delegated until the owner says so.
DEFAULT_RULES = {
    "cellphone_provider": "Phone company: bills, plan offers, outages. Never accept an upgrade or a new contract.",
    "utilities": "Electricity, gas, water: bills, meter readings, outages. Never agree to a payment plan.",
    "bank": "Banks and card issuers. Never share numbers, codes or passwords; never confirm a transaction.",
    "spam": "Unsolicited offers and prizes. Ask to be removed from their list.",
}


#: The phone_number_id used for demos until a real WhatsApp number is configured.
DEMO_PHONE_NUMBER_ID = "100000000000001"


def configured_accounts() -> dict[str, str]:
    """The channel accounts the environment names; a demo WhatsApp number when it names none.

    The web-chat page is always there, at /chat/<WEBCHAT_SLUG>/; a Twilio WhatsApp sender is
    linked when TWILIO_WHATSAPP_NUMBER names one (stored as +E.164, however it was written).
    """
    accounts = {
        "whatsapp": settings.WHATSAPP_PHONE_NUMBER_ID or DEMO_PHONE_NUMBER_ID,
        "webchat": settings.WEBCHAT_SLUG,
    }
    if twilio_number := _e164(settings.TWILIO_WHATSAPP_NUMBER):
        accounts["twilio"] = twilio_number
    return accounts


def _e164(number: str) -> str:
    """`whatsapp:+1 415-523-8886` as `+14155238886`; "" when there are no digits."""
    digits = re.sub(r"\D", "", number.strip().removeprefix("whatsapp:"))
    return f"+{digits}" if digits else ""


@dataclass
class SetupResult:
    owner: User
    created: bool
    password: str | None
    token: str
    accounts: list[ChannelAccount]


@transaction.atomic
def owner_setup(
    *, username: str, password: str | None = None, email: str = "", accounts: dict[str, str] | None = None
) -> SetupResult:
    """Create or update the owner, their settings and default rules, and the given channel accounts.

    `accounts` maps a provider (e.g. "whatsapp") to its address (e.g. a phone_number_id).
    A new owner without a password gets a generated one; an existing owner keeps theirs.
    """
    owner, created = User.objects.get_or_create(username=username)
    if created and not password:
        password = secrets.token_urlsafe(12)
    if password:
        owner.set_password(password)
    owner.is_staff = owner.is_superuser = True
    if email or not owner.email:
        owner.email = email or f"{username}@localhost"
    owner.save()
    OwnerSettings.objects.get_or_create(owner=owner)
    for category, instructions in DEFAULT_RULES.items():
        Rule.objects.get_or_create(
            owner=owner,
            category=category,
            defaults={"action": RuleAction.DRAFT, "instructions": instructions},
        )
    linked = []
    for provider, address in (accounts or {}).items():
        account, _ = ChannelAccount.objects.update_or_create(
            provider=provider,
            address=address,
            defaults={"owner": owner, "name": f"{Provider(provider).label} {address}"},
        )
        linked.append(account)
        if provider == Provider.WEBCHAT and settings.WEBCHAT_ALLOWED_ORIGINS:
            account.allowed_origins = list(settings.WEBCHAT_ALLOWED_ORIGINS)
            account.save(update_fields=["allowed_origins"])
    token, _ = Token.objects.get_or_create(user=owner)
    return SetupResult(owner=owner, created=created, password=password, token=token.key, accounts=linked)

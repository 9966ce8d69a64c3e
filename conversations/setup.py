"""Setting an owner up: account, permissions, safe default rules, channel accounts. Idempotent.

An owner is staff with the permissions of `OWNER_PERMISSIONS`, never a superuser: every admin page
and API route shows them only their own rows. An operator, who sees everyone's, is a superuser
created apart (`manage.py createsuperuser`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from rest_framework.authtoken.models import Token

from ai import categories
from conversations.models import ChannelAccount, OwnerSettings, Provider, Rule, RuleAction, User
from conversations.origins import clean_origins
from conversations.phones import e164

#: What an owner may do in the admin, on their own rows only (the admin scopes every page to the owner).
#: Not here: adding or deleting channel accounts (an operator or setup links them), users and groups.
OWNER_PERMISSIONS = (
    # The review: read drafts, edit their text, approve or reject them (approving sends).
    "conversations.view_draft",
    "conversations.change_draft",
    "conversations.approve_draft",
    # Conversations: read them; take over, hand back and reply by hand.
    "conversations.view_conversation",
    "conversations.change_conversation",
    # What happened: read only.
    "conversations.view_message",
    "conversations.view_escalation",
    "conversations.view_auditentry",
    # What the assistant does and knows.
    "conversations.view_rule",
    "conversations.add_rule",
    "conversations.change_rule",
    "conversations.delete_rule",
    "conversations.view_fact",
    "conversations.add_fact",
    "conversations.change_fact",
    "conversations.delete_fact",
    "conversations.view_ownersettings",
    "conversations.add_ownersettings",
    "conversations.change_ownersettings",
    # Who writes: pin a contact to a category.
    "conversations.view_contact",
    "conversations.change_contact",
    # Their numbers and chat pages: the re-engagement template and the widget's sites, never the address.
    "conversations.view_channelaccount",
    "conversations.change_channelaccount",
    # Their own API token: see it, and replace it (delete, then add).
    "authtoken.view_tokenproxy",
    "authtoken.add_tokenproxy",
    "authtoken.delete_tokenproxy",
)


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
    if twilio_number := e164(settings.TWILIO_WHATSAPP_NUMBER):
        accounts["twilio"] = twilio_number
    if voice_number := e164(settings.TWILIO_VOICE_NUMBER):
        accounts["voice"] = voice_number  # phone calls (Twilio Voice), see docs/architecture.md
    return accounts


def chosen_accounts(
    *, whatsapp: str = "", twilio: str = "", webchat: str = "", voice: str = ""
) -> dict[str, str]:
    """The channel accounts named on the command line, e.g. for a second owner (Twilio's as +E.164)."""
    chosen = {
        "whatsapp": whatsapp.strip(),
        "twilio": e164(twilio),
        "webchat": webchat.strip(),
        "voice": e164(voice),
    }
    return {provider: address for provider, address in chosen.items() if address}


class ChannelTaken(Exception):
    """Channel accounts named for one owner that belong to another: setup never moves them by itself."""

    def __init__(self, username: str, taken: list[ChannelAccount]) -> None:
        self.username = username
        self.taken = taken
        super().__init__(
            "; ".join(f"{describe(account)} belongs to {account.owner.username}" for account in taken)
        )


def describe(account: ChannelAccount) -> str:
    """An account as the owner knows it, e.g. `Web chat acme-help`."""
    return f"{account.get_provider_display()} {account.address}"


def channels_taken(username: str, accounts: dict[str, str] | None) -> list[ChannelAccount]:
    """Those of `accounts` (provider to address) that exist and belong to someone other than `username`."""
    if not accounts:
        return []
    match = Q()
    for provider, address in accounts.items():
        match |= Q(provider=provider, address=address)
    found = ChannelAccount.objects.filter(match).exclude(owner__username=username).select_related("owner")
    return list(found.order_by("provider", "address"))


def owner_permissions() -> list[Permission]:
    """The permissions of `OWNER_PERMISSIONS`; an error naming those missing (the migrations did not run)."""
    wanted = {tuple(name.split(".", 1)) for name in OWNER_PERMISSIONS}
    candidates = Permission.objects.filter(codename__in={codename for _, codename in wanted})
    found = [
        permission
        for permission in candidates.select_related("content_type")
        if (permission.content_type.app_label, permission.codename) in wanted
    ]
    missing = wanted - {(permission.content_type.app_label, permission.codename) for permission in found}
    if missing:
        names = ", ".join(sorted(".".join(name) for name in missing))
        raise ImproperlyConfigured(f"Permissions missing (run `manage.py migrate` first): {names}")
    return found


#: How setup left the owner's password (`SetupResult.password_source`).
GENERATED, INITIAL, GIVEN, UNCHANGED = "generated", "initial", "given", "unchanged"


@dataclass
class SetupResult:
    owner: User
    created: bool
    #: GENERATED (shown once: `generated_password`), INITIAL (created with `initial_password`),
    #: GIVEN (set to the explicit `password`) or UNCHANGED.
    password_source: str
    #: The password setup made up for a new owner: it exists nowhere else, so it is shown once.
    generated_password: str | None
    token: str
    #: Whether the API token was made now (shown once) or already existed (in the admin, not shown).
    token_created: bool
    accounts: list[ChannelAccount]
    #: Whether the account was a superuser before (as an older Gatekeeper set owners up).
    demoted: bool = False


@transaction.atomic
def owner_setup(
    *,
    username: str,
    password: str | None = None,
    initial_password: str | None = None,
    email: str = "",
    accounts: dict[str, str] | None = None,
    move_channels: bool = False,
) -> SetupResult:
    """Create or update the owner (staff with `OWNER_PERMISSIONS`, never a superuser), their settings,
    default rules and API token, and link the given channel accounts to them.

    Passwords: `password` is an explicit choice and is always set. `initial_password` (the environment's
    GATEKEEPER_PASSWORD) is set only when the owner is created, so a password changed in the admin
    survives every later run; a new owner given neither gets a generated one. Nothing else changes an
    existing owner's password.

    `accounts` maps a provider (e.g. "whatsapp") to its address (e.g. a phone_number_id). An account
    that belongs to another owner is moved only with `move_channels`; otherwise `ChannelTaken` is
    raised and nothing changes. The owner's own accounts are left as they are (an idempotent re-run).
    """
    taken = channels_taken(username, accounts)
    if taken and not move_channels:
        raise ChannelTaken(username, taken)
    owner, created = User.objects.get_or_create(username=username)
    source, generated = UNCHANGED, None
    if password:
        owner.set_password(password)
        source = GIVEN
    elif created and initial_password:
        owner.set_password(initial_password)
        source = INITIAL
    elif created:
        generated = secrets.token_urlsafe(12)
        owner.set_password(generated)
        source = GENERATED
    demoted = owner.is_superuser
    owner.is_staff, owner.is_superuser = True, False
    if email or not owner.email:
        owner.email = email or f"{username}@localhost"
    owner.save()
    owner.user_permissions.add(*owner_permissions())
    OwnerSettings.objects.get_or_create(owner=owner)
    # One rule per built-in category (ai/categories.py). Nothing is delegated until the owner says so.
    for category in categories.BUILTIN:
        Rule.objects.get_or_create(
            owner=owner,
            category=category.name,
            defaults={"action": RuleAction.DRAFT, "instructions": category.default_instructions},
        )
    linked = [
        _link(owner, provider, address, move=move_channels) for provider, address in (accounts or {}).items()
    ]
    token, token_created = Token.objects.get_or_create(user=owner)
    return SetupResult(
        owner=owner,
        created=created,
        password_source=source,
        generated_password=generated,
        token=token.key,
        token_created=token_created,
        accounts=linked,
        demoted=demoted,
    )


def startup_setup(*, warn: Callable[[str], object]) -> SetupResult:
    """The set-up `make run` repeats on every start: GATEKEEPER_OWNER with the environment's channels.

    GATEKEEPER_PASSWORD only creates the owner, so a password changed in the admin stays; a channel
    that another owner holds stays theirs (`warn` is told), so a restart never takes it back.
    """
    accounts = configured_accounts()
    for account in channels_taken(settings.GATEKEEPER_OWNER, accounts):
        warn(
            f"Not linked to {settings.GATEKEEPER_OWNER}: {describe(account)} belongs to "
            f"{account.owner.username} (`manage.py gatekeeper_setup --move-channels` moves it)."
        )
        accounts.pop(account.provider)
    return owner_setup(
        username=settings.GATEKEEPER_OWNER,
        initial_password=settings.GATEKEEPER_PASSWORD or None,
        accounts=accounts,
    )


def _link(owner: User, provider: str, address: str, *, move: bool) -> ChannelAccount:
    """The account, created for `owner`, or theirs already; another owner's only when `move` says so."""
    account, created = ChannelAccount.objects.select_for_update().get_or_create(
        provider=provider,
        address=address,
        defaults={"owner": owner, "name": f"{Provider(provider).label} {address}"},
    )
    if not created and account.owner_id != owner.pk:
        if not move:
            raise ChannelTaken(owner.username, [account])
        account.owner = owner
        account.save(update_fields=["owner"])
    if provider == Provider.WEBCHAT and address == settings.WEBCHAT_SLUG and settings.WEBCHAT_ALLOWED_ORIGINS:
        try:
            account.allowed_origins = clean_origins(list(settings.WEBCHAT_ALLOWED_ORIGINS))
        except ValueError as error:
            raise ImproperlyConfigured(f"WEBCHAT_ALLOWED_ORIGINS: {'; '.join(error.args[0])}") from None
        account.save(update_fields=["allowed_origins"])
    return account


def password_shown(result: SetupResult) -> str:
    """What a run may print about the password: the password only when setup made it up, else where it is."""
    if result.password_source == GENERATED and result.generated_password:
        return result.generated_password
    if result.password_source == INITIAL:
        return "GATEKEEPER_PASSWORD in .env"
    if result.password_source == GIVEN:
        return "the one given with --password (not shown)"
    return f"unchanged, not shown (change it in the admin: {_admin_url('admin:password_change')})"


def token_shown(result: SetupResult) -> str:
    """What a run may print about the API token: the key only when setup made it, else where it is."""
    if result.token_created:
        return result.token
    return f"not shown again (in the admin, Tokens: {_admin_url('admin:authtoken_tokenproxy_changelist')})"


def _admin_url(name: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{reverse(name)}"

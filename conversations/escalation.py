"""Telling the owner: flag the conversation, record why, notify them off the request path.

The notification job emails the owner with a link straight to the conversation and, when
they gave their own WhatsApp number, sends it there too from their gatekeeper's number.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Case, When
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator

from conversations import jobs
from conversations.models import (
    ChannelAccount,
    Conversation,
    ConversationStatus,
    Escalation,
    EscalationReason,
    OwnerSettings,
    Provider,
)
from conversations.providers import OutboundText, SendFailure, get_provider

logger = logging.getLogger(__name__)

#: The same reason on the same conversation within this window notifies once.
REPEAT_WINDOW = timedelta(minutes=10)

#: Channel providers that can carry a WhatsApp note to the owner, preferred first.
WHATSAPP_PROVIDERS = (Provider.WHATSAPP, Provider.TWILIO)


def escalate(conversation: Conversation, *, reason: EscalationReason, detail: str = "") -> Escalation | None:
    """Flag the conversation as needing the owner and schedule their notification on commit."""
    if conversation.status != ConversationStatus.NEEDS_ATTENTION:
        conversation.status = ConversationStatus.NEEDS_ATTENTION
        Conversation.objects.filter(pk=conversation.pk).update(
            status=ConversationStatus.NEEDS_ATTENTION, updated_at=timezone.now()
        )
    recent = Escalation.objects.filter(
        conversation=conversation, reason=reason, created_at__gte=timezone.now() - REPEAT_WINDOW
    )
    if recent.exists():
        return None
    escalation = Escalation.objects.create(conversation=conversation, reason=reason, detail=detail[:2000])
    logger.info("conversation %s escalated: %s", conversation.pk, reason)
    jobs.schedule("conversations.tasks.notify_owner", escalation.pk)
    return escalation


def conversation_admin_url(conversation_id: int) -> str:
    """The absolute link to the conversation's page in the review dashboard."""
    path = reverse("admin:conversations_conversation_change", args=[conversation_id])
    return f"{settings.PUBLIC_BASE_URL}{path}"


@dataclass(frozen=True)
class WhatsAppNotice:
    """A note to the owner's own WhatsApp number, decided inside the claim and sent after it."""

    owner_id: int
    number: str
    text: str


def notify_owner(escalation_id: int) -> None:
    """Tell the owner once per escalation: email with a link, then WhatsApp when they gave a number."""
    notice = _email_owner(escalation_id)
    if notice is not None:
        _whatsapp_owner(notice)


def _email_owner(escalation_id: int) -> WhatsAppNotice | None:
    """Email the owner and mark the escalation notified; returns the WhatsApp note still to send, if any."""
    with transaction.atomic():
        escalation = (
            Escalation.objects.select_for_update()
            .select_related("conversation__owner", "conversation__contact", "conversation__account")
            .filter(pk=escalation_id, notified_at__isnull=True)
            .first()
        )
        if escalation is None:
            return None
        conversation = escalation.conversation
        owner = conversation.owner
        owner_settings = OwnerSettings.objects.filter(owner=owner).first()
        address = (owner_settings and owner_settings.notify_email) or owner.email
        link = conversation_admin_url(conversation.pk)
        if address:
            send_mail(
                subject=f"Gatekeeper needs you: {conversation.contact}",
                message=(
                    f"{conversation.contact} on {conversation.account} needs your attention.\n\n"
                    f"Why: {escalation.get_reason_display()}\n{escalation.detail}\n\n"
                    f"Open the conversation: {link}\n"
                ),
                from_email=None,
                recipient_list=[address],
            )
        else:
            logger.warning(
                "owner %s has no email address; escalation %s not emailed", owner.pk, escalation.pk
            )
        escalation.notified_at = timezone.now()
        escalation.save(update_fields=["notified_at"])
        number = owner_settings.notify_whatsapp.strip() if owner_settings else ""
        if not number:
            return None
        contact = Truncator(str(conversation.contact)).chars(60)
        return WhatsAppNotice(
            owner_id=owner.pk,
            number=number,
            text=f"Gatekeeper needs you: {contact} ({escalation.get_reason_display().lower()}).\n{link}",
        )


def _whatsapp_owner(notice: WhatsAppNotice) -> None:
    """Send the note from the owner's own WhatsApp number; a failure is logged, the email already went."""
    account = (
        ChannelAccount.objects.filter(owner_id=notice.owner_id, provider__in=WHATSAPP_PROVIDERS)
        .order_by(Case(When(provider=Provider.WHATSAPP, then=0), default=1), "id")
        .first()
    )
    if account is None:
        logger.warning("owner %s has no WhatsApp number to send notifications from", notice.owner_id)
        return
    phone = "+" + re.sub(r"\D", "", notice.number)
    try:
        get_provider(account.provider).send_text(
            OutboundText(account_address=account.address, to=phone, to_phone=phone, text=notice.text)
        )
    except SendFailure as failure:
        logger.warning(
            "WhatsApp notification to owner %s failed: %s%s",
            notice.owner_id,
            failure,
            " (WhatsApp delivers only within 24 hours of your last message to this number)"
            if failure.window_closed
            else "",
        )
    except Exception:
        logger.exception("WhatsApp notification to owner %s failed", notice.owner_id)

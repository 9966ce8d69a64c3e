"""Telling the owner: flag the conversation, record why, notify them off the request path."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from conversations import jobs
from conversations.models import Conversation, ConversationStatus, Escalation, EscalationReason, OwnerSettings

logger = logging.getLogger(__name__)

#: The same reason on the same conversation within this window notifies once.
REPEAT_WINDOW = timedelta(minutes=10)


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
    path = reverse("admin:conversations_conversation_change", args=[conversation_id])
    return f"{settings.PUBLIC_BASE_URL}{path}"


def notify_owner(escalation_id: int) -> None:
    """Email the owner once per escalation, with a link straight to the conversation."""
    with transaction.atomic():
        escalation = (
            Escalation.objects.select_for_update()
            .select_related("conversation__owner", "conversation__contact")
            .filter(pk=escalation_id, notified_at__isnull=True)
            .first()
        )
        if escalation is None:
            return
        conversation = escalation.conversation
        owner = conversation.owner
        owner_settings = OwnerSettings.objects.filter(owner=owner).first()
        address = (owner_settings and owner_settings.notify_email) or owner.email
        if address:
            send_mail(
                subject=f"Gatekeeper needs you: {conversation.contact}",
                message=(
                    f"{conversation.contact} on {conversation.account} needs your attention.\n\n"
                    f"Why: {escalation.get_reason_display()}\n{escalation.detail}\n\n"
                    f"Open the conversation: {conversation_admin_url(conversation.pk)}\n"
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

"""Finds work whose job vanished (Redis restarted, a worker was killed) and schedules it again.

Pending work lives in the database: a webhook delivery not ingested yet, a due reply, a queued
message, an unsent notification. Anything overdue by more than STALLED_WORK_SECONDS gets a fresh job; jobs are idempotent,
so a duplicate costs nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from conversations import daily_digest, deliveries, escalation, followups, jobs, owner_commands, promises
from conversations.escalation import owners_with_overdue_notifications
from conversations.models import Conversation, Direction, Message, MessageStatus
from conversations.receipts import apply_early_statuses
from conversations.sending import fail_message

logger = logging.getLogger(__name__)


@dataclass
class SweepResult:
    deliveries: int = 0
    replies: int = 0
    sends: int = 0
    notifications: int = 0
    interrupted_sends: int = 0
    early_statuses: int = 0
    followups: int = 0
    promises: int = 0
    digests: int = 0
    owner_phone: int = 0


def sweep_stalled_work(now: datetime | None = None) -> SweepResult:
    """Re-schedule overdue work; report sends interrupted mid-flight as of unknown outcome.

    `now` is for tests that move the clock (due follow-ups and promises); it defaults to the time.
    """
    now = now or timezone.now()
    stalled = now - timedelta(seconds=settings.STALLED_WORK_SECONDS)
    result = SweepResult()

    # Webhook deliveries stored but not ingested: their job was lost, or a try failed.
    result.deliveries = deliveries.reschedule_stalled(stalled, now)

    for conversation_id in Conversation.objects.filter(reply_due_at__lt=stalled).values_list("id", flat=True):
        jobs.enqueue_now("conversations.tasks.draft_reply", conversation_id)
        result.replies += 1

    # A send may take up to the HTTP timeout; one `sending` far past it was cut off mid-call.
    cut_off = stalled - timedelta(seconds=settings.OUTBOUND_HTTP_TIMEOUT * 2)
    for message in Message.objects.filter(
        direction=Direction.OUT, status=MessageStatus.SENDING, updated_at__lt=cut_off
    ).select_related("conversation"):
        with transaction.atomic(durable=True):
            locked = (
                Message.objects.select_for_update()
                .filter(pk=message.pk, status=MessageStatus.SENDING)
                .first()
            )
            if locked is None:
                continue
            locked.conversation = message.conversation
            fail_message(
                locked,
                code="interrupted",
                detail="The send was interrupted; it may or may not have reached the contact. "
                "Gatekeeper did not resend it, to avoid a duplicate.",
            )
        jobs.enqueue_now("conversations.tasks.send_pending", message.conversation_id)
        result.interrupted_sends += 1

    queued = Message.objects.filter(direction=Direction.OUT, status=MessageStatus.QUEUED).filter(
        Q(next_attempt_at__lt=stalled) | Q(next_attempt_at__isnull=True, updated_at__lt=stalled)
    )
    for conversation_id in queued.values_list("conversation_id", flat=True).distinct():
        jobs.enqueue_now("conversations.tasks.send_pending", conversation_id)
        result.sends += 1

    # Notifications are batched per owner: one digest job per owner whose batch is overdue, never
    # one per escalation (an escalation waiting for its owner's digest is not stalled).
    for owner_id in owners_with_overdue_notifications(stalled):
        jobs.enqueue_now("conversations.tasks.notify_owner_digest", owner_id)
        result.notifications += 1
    # Notifications claimed by a worker that stopped before the owner was told.
    result.notifications += escalation.finish_stranded(now)

    # Daily digests that are due, found in the database: a restart or a lost job only delays one.
    for owner_id in daily_digest.due_owners(now):
        jobs.enqueue_now(daily_digest.DIGEST_JOB, owner_id)
        result.digests += 1

    # The owner's commands not yet acted on, and notes to their number not yet sent.
    result.owner_phone = owner_commands.reschedule_stalled(stalled)

    # Receipts that raced their message's id being stored.
    result.early_statuses = apply_early_statuses()

    # Due promises and follow-ups are found in the database, not in the queue: each fires once.
    result.promises = promises.chase_due(now=now)
    result.followups = followups.fire_due(now=now)

    if any(vars(result).values()):
        logger.info("sweeper re-scheduled stalled work: %s", result)
    return result

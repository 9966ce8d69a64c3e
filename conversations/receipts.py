"""Delivery receipts: an outbound message's status moves forward, whatever order receipts come in.

A provider may report on a message before the send job has committed the id it was
given (Twilio's first callback, a fast failure): such a receipt is kept as an
`EarlyStatus` and applied once the id is stored, by the send job or by the sweeper,
instead of being dropped with the failure the owner needed to hear about.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from conversations import dashboard_events, window
from conversations.escalation import escalate
from conversations.inbound import StatusUpdate
from conversations.models import (
    ChannelAccount,
    Direction,
    EarlyStatus,
    EscalationReason,
    Message,
    MessageStatus,
)

logger = logging.getLogger(__name__)

#: The statuses of a message that left: each has a `sent_at`.
_SENT_OR_LATER = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.PLAYED)

# A status only moves forward along this order; FAILED is final and cannot undo a delivery.
_STATUS_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.READ: 4,
    MessageStatus.PLAYED: 5,
}
#: How long a receipt waits for its message; receipts for messages sent by other apps expire.
EARLY_STATUS_TTL = timedelta(hours=1)


def status_may_advance(current: str, new: str) -> bool:
    """Whether a delivery receipt may replace the stored status (receipts arrive in any order)."""
    # A printed message never left the machine: no receipt can make it delivered.
    if current in (MessageStatus.FAILED, MessageStatus.PRINTED) or current == new:
        return False
    if new == MessageStatus.FAILED:
        return _STATUS_RANK.get(current, 0) < _STATUS_RANK[MessageStatus.DELIVERED]
    return _STATUS_RANK.get(new, -1) > _STATUS_RANK.get(current, 0)


def apply_status(account: ChannelAccount, update: StatusUpdate) -> int:
    """Move an outbound message's status forward; failures keep their code and tell the owner.

    Returns 1 when the status changed. A receipt for an id not (yet) stored is kept.
    """
    message = _locked_outbound(account.pk, update.provider_message_id)
    if message is None:
        EarlyStatus.objects.create(
            account=account,
            provider_message_id=update.provider_message_id,
            status=update.status,
            occurred_at=update.occurred_at,
            error_code=update.error_code,
            error_detail=update.error_detail,
            window_closed=update.window_closed,
        )
        logger.info(
            "status %s for unknown message %s kept until its id is stored",
            update.status,
            update.provider_message_id,
        )
        return 0
    return _advance(message, update)


def apply_early_statuses(*, account_id: int | None = None, provider_message_id: str | None = None) -> int:
    """Apply the kept receipts whose message id is now stored (all, or one message's); drop expired ones."""
    kept = EarlyStatus.objects.all()
    if provider_message_id is not None:
        kept = kept.filter(account_id=account_id, provider_message_id=provider_message_id)
    else:
        EarlyStatus.objects.filter(received_at__lt=timezone.now() - EARLY_STATUS_TTL).delete()
        kept = kept.filter(
            Exists(
                Message.objects.filter(
                    account_id=OuterRef("account_id"),
                    provider_message_id=OuterRef("provider_message_id"),
                    direction=Direction.OUT,
                )
            )
        )
    applied = 0
    receipts = sorted(kept.select_related("account"), key=lambda r: _STATUS_RANK.get(r.status, 99))
    for receipt in receipts:
        update = StatusUpdate(
            provider=receipt.account.provider,
            account_address=receipt.account.address,
            provider_message_id=receipt.provider_message_id,
            status=receipt.status,
            occurred_at=receipt.occurred_at,
            error_code=receipt.error_code,
            error_detail=receipt.error_detail,
            window_closed=receipt.window_closed,
        )
        with transaction.atomic():
            message = _locked_outbound(receipt.account_id, receipt.provider_message_id)
            if message is not None:
                applied += _advance(message, update)
                receipt.delete()
    return applied


def _locked_outbound(account_id: int, provider_message_id: str) -> Message | None:
    return (
        Message.objects.select_for_update()
        .select_related("conversation")
        .filter(account_id=account_id, provider_message_id=provider_message_id, direction=Direction.OUT)
        .first()
    )


def _advance(message: Message, update: StatusUpdate) -> int:
    if not status_may_advance(message.status, update.status):
        return 0
    message.status = update.status
    fields = ["status", "updated_at"]
    if update.status == MessageStatus.SENT and update.occurred_at:
        message.sent_at = update.occurred_at
        fields.append("sent_at")
    elif update.status in _SENT_OR_LATER and message.sent_at is None:
        message.sent_at = update.occurred_at or timezone.now()  # it was sent by then at the latest
        fields.append("sent_at")
    if update.status == MessageStatus.FAILED:
        message.error_code = update.error_code
        message.error_detail = update.error_detail
        fields += ["error_code", "error_detail"]
    message.save(update_fields=fields)
    dashboard_events.receipt_applied(message.conversation)  # an open conversation page shows the tick
    if update.status == MessageStatus.FAILED:
        detail = f"Message #{message.pk} failed: {update.error_code} {update.error_detail}".strip()
        if update.window_closed:  # the provider's parser read its own code (channels_app)
            window.report_refused(message, detail=detail)
        else:
            escalate(message.conversation, reason=EscalationReason.SEND_FAILED, detail=detail)
    return 1

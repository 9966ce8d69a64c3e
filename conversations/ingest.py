"""Storing what providers deliver: one transaction per webhook, idempotent, work scheduled on commit.

The webhook answers 200 only after `ingest_batch` returns, i.e. after the commit; a
redelivered message hits the unique (account, provider message id) constraint and
changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from conversations import jobs, window
from conversations.escalation import escalate
from conversations.inbound import InboundBatch, InboundMessage, Kind, ProviderError, StatusUpdate
from conversations.models import (
    Author,
    ChannelAccount,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    EscalationReason,
    Message,
    MessageStatus,
)
from conversations.storable import storable_batch

logger = logging.getLogger(__name__)

# A status only moves forward along this order; FAILED is final and cannot undo a delivery.
_STATUS_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.READ: 4,
    MessageStatus.PLAYED: 5,
}
WINDOW_CLOSED_CODES = frozenset({"131047", "63016"})


@dataclass
class IngestResult:
    created: int = 0
    duplicates: int = 0
    statuses_applied: int = 0
    unknown_accounts: set[tuple[str, str]] = field(default_factory=set)


def status_may_advance(current: str, new: str) -> bool:
    """Whether a delivery receipt may replace the stored status (receipts arrive in any order)."""
    if current == MessageStatus.FAILED or current == new:
        return False
    if new == MessageStatus.FAILED:
        return _STATUS_RANK.get(current, 0) < _STATUS_RANK[MessageStatus.DELIVERED]
    return _STATUS_RANK.get(new, -1) > _STATUS_RANK.get(current, 0)


def ingest_batch(batch: InboundBatch) -> IngestResult:
    """Store one webhook delivery atomically and schedule the work it creates."""
    batch = storable_batch(batch)
    result = IngestResult()
    wanted = {(m.provider, m.account_address) for m in batch.messages}
    wanted |= {(s.provider, s.account_address) for s in batch.statuses}
    with transaction.atomic():
        accounts = _load_accounts(wanted)
        due: dict[int, Conversation] = {}
        for inbound in batch.messages:
            account = accounts.get((inbound.provider, inbound.account_address))
            if account is None:
                result.unknown_accounts.add((inbound.provider, inbound.account_address))
                continue
            conversation = _store_inbound(account, inbound, result)
            if conversation is not None and inbound.kind in Kind.READABLE:
                due[conversation.pk] = conversation
        for conversation in due.values():
            _schedule_reply(conversation)
        for update in batch.statuses:
            account = accounts.get((update.provider, update.account_address))
            if account is None:
                result.unknown_accounts.add((update.provider, update.account_address))
                continue
            result.statuses_applied += apply_status(account, update)
        for error in batch.errors:
            _log_provider_error(error)
    for provider, address in result.unknown_accounts:
        logger.warning(
            "webhook for unknown %s account %r ignored (no ChannelAccount has it)", provider, address
        )
    return result


def _load_accounts(keys: set[tuple[str, str]]) -> dict[tuple[str, str], ChannelAccount]:
    if not keys:
        return {}
    addresses = {address for _, address in keys}
    return {
        (account.provider, account.address): account
        for account in ChannelAccount.objects.filter(address__in=addresses)
        if (account.provider, account.address) in keys
    }


def _store_inbound(
    account: ChannelAccount, inbound: InboundMessage, result: IngestResult
) -> Conversation | None:
    """Claim the provider message id; returns the conversation when the message is new."""
    if Message.objects.filter(account=account, provider_message_id=inbound.provider_message_id).exists():
        result.duplicates += 1
        return None
    contact = _contact_for(account, inbound)
    conversation, _ = Conversation.objects.get_or_create(
        account=account, contact=contact, defaults={"owner_id": account.owner_id}
    )
    try:
        with transaction.atomic():
            message = Message.objects.create(
                conversation=conversation,
                account=account,
                direction=Direction.IN,
                author=Author.CONTACT,
                kind=inbound.kind,
                text=inbound.text,
                provider_message_id=inbound.provider_message_id,
                status=MessageStatus.RECEIVED,
                metadata=inbound.metadata,
                raw=inbound.raw,
                sent_at=inbound.sent_at,
                reply_to=_local_message(account, inbound.reply_to_provider_id),
            )
    except IntegrityError:
        # A concurrent delivery of the same message committed first.
        result.duplicates += 1
        return None
    result.created += 1
    now = timezone.now()
    conversation.last_inbound_at = max(filter(None, [conversation.last_inbound_at, inbound.sent_at or now]))
    if conversation.status == ConversationStatus.CLOSED:
        conversation.status = ConversationStatus.OPEN
    conversation.save(update_fields=["last_inbound_at", "status", "updated_at"])
    if inbound.kind not in Kind.READABLE and inbound.kind != Kind.REACTION:
        escalate(
            conversation,
            reason=EscalationReason.UNREADABLE,
            detail=f"{contact} sent a {message.kind} message the assistant cannot read.",
        )
    return conversation


def _contact_for(account: ChannelAccount, inbound: InboundMessage) -> Contact:
    contact, created = Contact.objects.get_or_create(
        owner_id=account.owner_id,
        address=inbound.sender_address,
        defaults={"name": inbound.sender_name, "phone": inbound.sender_phone},
    )
    changed = {}
    if inbound.sender_name and not contact.name:
        changed["name"] = inbound.sender_name
    if inbound.sender_phone and not contact.phone:
        changed["phone"] = inbound.sender_phone
    if changed and not created:
        for key, value in changed.items():
            setattr(contact, key, value)
        contact.save(update_fields=list(changed))
    return contact


def _local_message(account: ChannelAccount, provider_message_id: str) -> Message | None:
    if not provider_message_id:
        return None
    return Message.objects.filter(account=account, provider_message_id=provider_message_id).first()


def _schedule_reply(conversation: Conversation) -> None:
    """(Re)start the burst window: messages arriving within it are answered together."""
    burst = settings.REPLY_BURST_SECONDS
    due = timezone.now() + timedelta(seconds=burst)
    Conversation.objects.filter(pk=conversation.pk).update(reply_due_at=due)
    jobs.schedule("conversations.tasks.draft_reply", conversation.pk, delay=burst)


def apply_status(account: ChannelAccount, update: StatusUpdate) -> int:
    """Move an outbound message's status forward; failures keep their code and tell the owner."""
    message = (
        Message.objects.select_for_update()
        .select_related("conversation")
        .filter(account=account, provider_message_id=update.provider_message_id, direction=Direction.OUT)
        .first()
    )
    if message is None:
        logger.info("status %s for unknown message %s ignored", update.status, update.provider_message_id)
        return 0
    if not status_may_advance(message.status, update.status):
        return 0
    message.status = update.status
    fields = ["status", "updated_at"]
    if update.status == MessageStatus.SENT and update.occurred_at:
        message.sent_at = update.occurred_at
        fields.append("sent_at")
    if update.status == MessageStatus.FAILED:
        message.error_code = update.error_code
        message.error_detail = update.error_detail
        fields += ["error_code", "error_detail"]
    message.save(update_fields=fields)
    if update.status == MessageStatus.FAILED:
        detail = f"Message #{message.pk} failed: {update.error_code} {update.error_detail}".strip()
        if update.error_code in WINDOW_CLOSED_CODES:
            # Offer the re-engagement template, unless the template itself is what failed.
            window.report_window_closed(
                message.conversation, detail=detail, offer=message.kind != Kind.TEMPLATE
            )
        else:
            escalate(message.conversation, reason=EscalationReason.SEND_FAILED, detail=detail)
    return 1


def _log_provider_error(error: ProviderError) -> None:
    logger.error(
        "%s reported error %s for account %s: %s",
        error.provider,
        error.code,
        error.account_address,
        error.detail,
    )

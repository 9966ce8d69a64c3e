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
from django.db import transaction
from django.db.models import Case, DateTimeField, Expression, F, Q, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from conversations import jobs, window
from conversations.bulk import insert_skipping_conflicts
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
    """Store one webhook delivery atomically and schedule the work it creates.

    Set-based, so a delivery of 100 messages costs what one costs: from senders who wrote
    before, one SELECT of their conversations (with accounts and contacts), one INSERT of
    the messages (`ON CONFLICT DO NOTHING`) and one UPDATE of the conversations.
    """
    batch = storable_batch(batch)
    result = IngestResult()
    wanted = {(m.provider, m.account_address) for m in batch.messages}
    wanted |= {(s.provider, s.account_address) for s in batch.statuses}
    with transaction.atomic():
        known = _conversations_of_senders(batch.messages)
        accounts = {(c.account.provider, c.account.address): c.account for c in known.values()}
        accounts |= _load_accounts(wanted - accounts.keys())
        arrivals = []
        for inbound in batch.messages:
            account = accounts.get((inbound.provider, inbound.account_address))
            if account is None:
                result.unknown_accounts.add((inbound.provider, inbound.account_address))
            else:
                arrivals.append((account, inbound))
        if arrivals:
            _store_messages(arrivals, known, result)
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


Arrival = tuple[ChannelAccount, InboundMessage]
#: A sender's conversation on one account: (account id, sender address).
SenderKey = tuple[int, str]


def _conversations_of_senders(messages: tuple[InboundMessage, ...]) -> dict[SenderKey, Conversation]:
    """The senders' existing conversations, with their accounts and contacts, in one query."""
    senders: dict[tuple[str, str], set[str]] = {}
    for inbound in messages:
        senders.setdefault((inbound.provider, inbound.account_address), set()).add(inbound.sender_address)
    match = Q()
    for (provider, account_address), addresses in senders.items():
        match |= Q(
            account__provider=provider, account__address=account_address, contact__address__in=addresses
        )
    return _conversations_matching(match) if senders else {}


def _conversations_matching(match: Q) -> dict[SenderKey, Conversation]:
    return {
        (conversation.account_id, conversation.contact.address): conversation
        for conversation in Conversation.objects.select_related("account", "contact").filter(match)
    }


def _store_messages(
    arrivals: list[Arrival], known: dict[SenderKey, Conversation], result: IngestResult
) -> None:
    """Insert the messages no earlier delivery stored; advance the conversations they belong to."""
    conversations = _conversations_for(arrivals, known)
    reply_targets = _reply_targets(arrivals)
    rows = [
        _message_row(inbound, account, conversations[account.pk, inbound.sender_address], reply_targets)
        for account, inbound in arrivals
    ]
    inserted = {
        (account_id, provider_id)
        for account_id, provider_id in insert_skipping_conflicts(
            rows, returning=["account", "provider_message_id"]
        )
    }
    result.created += len(inserted)
    result.duplicates += len(arrivals) - len(inserted)
    fresh: dict[Conversation, list[InboundMessage]] = {}
    for account, inbound in arrivals:
        if (account.pk, inbound.provider_message_id) in inserted:
            fresh.setdefault(conversations[account.pk, inbound.sender_address], []).append(inbound)
    if fresh:
        _advance(fresh)


def _conversations_for(
    arrivals: list[Arrival], known: dict[SenderKey, Conversation]
) -> dict[SenderKey, Conversation]:
    """Each sender's conversation (with its contact): `known` plus those created for first messages."""
    first_seen: dict[SenderKey, Arrival] = {}
    for account, inbound in arrivals:
        first_seen.setdefault((account.pk, inbound.sender_address), (account, inbound))
    found = {key: known[key] for key in first_seen.keys() & known.keys()}
    missing = [arrival for key, arrival in first_seen.items() if key not in found]
    if missing:
        _create_conversations(missing)
        match = Q()
        for account, inbound in missing:
            match |= Q(account_id=account.pk, contact__address=inbound.sender_address)
        found |= _conversations_matching(match)
    for key, conversation in found.items():
        _fill_contact_details(conversation.contact, first_seen[key][1])
    return found


def _create_conversations(arrivals: list[Arrival]) -> None:
    """Contacts, then conversations; a concurrent delivery creating the same ones is no conflict."""
    Contact.objects.bulk_create(
        [
            Contact(
                owner_id=account.owner_id,
                address=inbound.sender_address,
                name=inbound.sender_name,
                phone=inbound.sender_phone,
            )
            for account, inbound in arrivals
        ],
        ignore_conflicts=True,
    )
    match = Q()
    for account, inbound in arrivals:
        match |= Q(owner_id=account.owner_id, address=inbound.sender_address)
    contact_ids = {(c.owner_id, c.address): c.pk for c in Contact.objects.filter(match)}
    Conversation.objects.bulk_create(
        [
            Conversation(
                owner_id=account.owner_id,
                account=account,
                contact_id=contact_ids[account.owner_id, inbound.sender_address],
            )
            for account, inbound in arrivals
        ],
        ignore_conflicts=True,
    )


def _fill_contact_details(contact: Contact, inbound: InboundMessage) -> None:
    """A name or number the provider now tells us fills a blank; it never overwrites the owner's."""
    changed = {}
    if inbound.sender_name and not contact.name:
        changed["name"] = inbound.sender_name
    if inbound.sender_phone and not contact.phone:
        changed["phone"] = inbound.sender_phone
    if changed:
        Contact.objects.filter(pk=contact.pk).update(**changed)
        for key, value in changed.items():
            setattr(contact, key, value)


def _reply_targets(arrivals: list[Arrival]) -> dict[tuple[int, str], int]:
    """Local ids of the messages the arrivals quote, by (account, provider message id)."""
    quoted = {
        (account.pk, inbound.reply_to_provider_id)
        for account, inbound in arrivals
        if inbound.reply_to_provider_id
    }
    if not quoted:
        return {}
    rows = Message.objects.filter(
        account_id__in={account_id for account_id, _ in quoted},
        provider_message_id__in={provider_id for _, provider_id in quoted},
    ).values_list("account_id", "provider_message_id", "pk")
    return {(account_id, provider_id): pk for account_id, provider_id, pk in rows}


def _message_row(
    inbound: InboundMessage,
    account: ChannelAccount,
    conversation: Conversation,
    reply_targets: dict[tuple[int, str], int],
) -> Message:
    return Message(
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
        reply_to_id=reply_targets.get((account.pk, inbound.reply_to_provider_id)),
    )


def _advance(fresh: dict[Conversation, list[InboundMessage]]) -> None:
    """One UPDATE for the whole delivery: latest inbound times, closed conversations reopened,
    burst windows restarted; then each conversation with something readable gets its draft job."""
    now = timezone.now()
    readable = [c for c, new in fresh.items() if any(m.kind in Kind.READABLE for m in new)]
    burst = settings.REPLY_BURST_SECONDS
    due = now + timedelta(seconds=burst)
    latest = _per_conversation({c.pk: max(m.sent_at or now for m in new) for c, new in fresh.items()})
    Conversation.objects.filter(pk__in=[c.pk for c in fresh]).update(
        last_inbound_at=Greatest(Coalesce("last_inbound_at", latest), latest),
        status=Case(
            When(status=ConversationStatus.CLOSED, then=Value(ConversationStatus.OPEN)),
            default=F("status"),
        ),
        # Messages arriving within the burst window are answered together.
        reply_due_at=_per_conversation({c.pk: due if c in readable else F("reply_due_at") for c in fresh}),
        updated_at=now,
    )
    jobs.schedule_each("conversations.tasks.draft_reply", [(c.pk,) for c in readable], delay=burst)
    for conversation, new in fresh.items():
        if conversation.status == ConversationStatus.CLOSED:
            conversation.status = ConversationStatus.OPEN
        for inbound in new:
            if inbound.kind not in Kind.READABLE and inbound.kind != Kind.REACTION:
                escalate(
                    conversation,
                    reason=EscalationReason.UNREADABLE,
                    detail=f"{conversation.contact} sent a message the assistant cannot read ({inbound.kind}).",
                )


def _per_conversation(values: dict[int, object]) -> Expression:
    """An UPDATE's value for each conversation: a constant when all share it (the usual case), else a CASE."""
    distinct = set(values.values())
    if len(distinct) == 1:
        (value,) = distinct
        return value if isinstance(value, F) else Value(value, DateTimeField())
    return Case(
        *[
            When(pk=pk, then=value if isinstance(value, F) else Value(value, DateTimeField()))
            for pk, value in values.items()
        ]
    )


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

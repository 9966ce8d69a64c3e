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
from django.db.models import F, Q
from django.utils import timezone

from conversations import jobs
from conversations.bulk import (
    ConversationAdvance,
    advance_conversations,
    insert_new,
    insert_skipping_conflicts,
)
from conversations.escalation import escalate
from conversations.inbound import InboundBatch, InboundMessage, Kind, ProviderError
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
from conversations.receipts import apply_status
from conversations.storable import storable_batch

logger = logging.getLogger(__name__)


@dataclass
class IngestResult:
    created: int = 0
    duplicates: int = 0
    statuses_applied: int = 0
    unknown_accounts: set[tuple[str, str]] = field(default_factory=set)


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


#: Conversations one draft job answers: a delivery from 100 senders makes 10 jobs (enqueueing
#: one RQ job costs about as much as storing a message), still spread over every worker.
DRAFTS_PER_JOB = 10

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
    # Naming the contact's owner lets PostgreSQL find the contact by its unique (owner, address)
    # index instead of scanning every conversation of the account.
    match &= Q(contact__owner=F("account__owner"))
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
        found |= _create_conversations(missing)
    for key, conversation in found.items():
        _fill_contact_details(conversation.contact, first_seen[key][1])
    return found


def _create_conversations(arrivals: list[Arrival]) -> dict[SenderKey, Conversation]:
    """First messages: one INSERT of conversations, returning what it created; one that a
    concurrent delivery created first is read back. Never a conflict, never a duplicate."""
    contacts = _contacts_of(arrivals)
    wanted = {
        (account.pk, inbound.sender_address): Conversation(
            owner_id=account.owner_id,
            account=account,
            contact=contacts[account.owner_id, inbound.sender_address],
        )
        for account, inbound in arrivals
    }
    left_out = insert_new(list(wanted.values()), unique=["account", "contact"])
    found = {key: conversation for key, conversation in wanted.items() if conversation.pk is not None}
    if left_out:
        match = Q()
        for conversation in left_out:
            match |= Q(account_id=conversation.account_id, contact_id=conversation.contact_id)
        found |= _conversations_matching(match)
    return found


def _contacts_of(arrivals: list[Arrival]) -> dict[tuple[int, str], Contact]:
    """The senders' contacts by (owner, address): new ones inserted in one statement; those the
    owner already has (from another channel, or a concurrent delivery) read back."""
    wanted = {
        (account.owner_id, inbound.sender_address): Contact(
            owner_id=account.owner_id,
            address=inbound.sender_address,
            name=inbound.sender_name,
            phone=inbound.sender_phone,
        )
        for account, inbound in arrivals
    }
    left_out = insert_new(list(wanted.values()), unique=["owner", "address"])
    found = {key: contact for key, contact in wanted.items() if contact.pk is not None}
    if left_out:
        match = Q()
        for contact in left_out:
            match |= Q(owner_id=contact.owner_id, address=contact.address)
        found |= {(contact.owner_id, contact.address): contact for contact in Contact.objects.filter(match)}
    return found


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
    """Latest inbound times, closed conversations reopened, burst windows restarted; then each
    conversation with something readable gets its draft job."""
    now = timezone.now()
    readable = {c for c, new in fresh.items() if any(m.kind in Kind.READABLE for m in new)}
    burst = settings.REPLY_BURST_SECONDS
    # Messages arriving within the burst window are answered together.
    due = now + timedelta(seconds=burst)
    advance_conversations(
        [
            ConversationAdvance(
                pk=conversation.pk,
                latest_inbound=max(m.sent_at or now for m in new),
                reply_due=due if conversation in readable else None,
                now=now,
            )
            for conversation, new in fresh.items()
        ]
    )
    ids = sorted(c.pk for c in readable)
    chunks = [tuple(ids[start : start + DRAFTS_PER_JOB]) for start in range(0, len(ids), DRAFTS_PER_JOB)]
    jobs.schedule_each("conversations.tasks.draft_reply", chunks, delay=burst)
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


def _log_provider_error(error: ProviderError) -> None:
    logger.error(
        "%s reported error %s for account %s: %s",
        error.provider,
        error.code,
        error.account_address,
        error.detail,
    )

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
from django.db.models import Q
from django.utils import timezone

from conversations import (
    dashboard_events,
    identity,
    jobs,
    message_events,
    owner_commands,
    sender_conversations,
)
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
    """Store one webhook delivery atomically and schedule the work it creates."""
    with transaction.atomic(durable=True):
        result = store_batch(batch)
    log_unknown_accounts(result)
    return result


def store_batch(batch: InboundBatch) -> IngestResult:
    """`ingest_batch` inside the caller's transaction (conversations/deliveries.py holds its row lock).

    Set-based, so a delivery of 100 messages costs what one costs: from senders who wrote
    before, one SELECT of their conversations (with accounts and contacts), one INSERT of
    the messages (`ON CONFLICT DO NOTHING`) and one UPDATE of the conversations.
    """
    batch = storable_batch(batch)
    batch = message_events.resolve_status_accounts(batch)
    result = IngestResult()
    wanted = {(m.provider, m.account_address) for m in batch.messages}
    wanted |= {(s.provider, s.account_address) for s in batch.statuses}
    known = _conversations_of_senders(batch.messages)
    accounts = {(c.account.provider, c.account.address): c.account for c in known}
    # The owners' own numbers come with the accounts (`own_number`), read in the same queries.
    own_numbers = {c.account.owner_id: c.own_number for c in known}
    loaded = _load_accounts(wanted - accounts.keys())
    own_numbers |= {account.owner_id: account.own_number for account in loaded.values()}
    accounts |= loaded
    arrivals = []
    for inbound in batch.messages:
        account = accounts.get((inbound.provider, inbound.account_address))
        if account is None:
            result.unknown_accounts.add((inbound.provider, inbound.account_address))
        else:
            arrivals.append((account, inbound))
    # The owner's own number is a console, never a company: its messages are commands.
    arrivals = owner_commands.take_commands(arrivals, numbers=own_numbers)
    if arrivals:
        _store_messages(arrivals, known, result)
    for update in batch.statuses:
        account = accounts.get((update.provider, update.account_address))
        if account is None:
            result.unknown_accounts.add((update.provider, update.account_address))
            continue
        result.statuses_applied += apply_status(account, update)
    result.created += message_events.store_echoes(batch.echoes)
    for error in batch.errors:
        _log_provider_error(error)
    return result


def log_unknown_accounts(result: IngestResult) -> None:
    """One warning per account address no ChannelAccount has: a misrouted or forgotten number."""
    for provider, address in sorted(result.unknown_accounts):
        logger.warning(
            "webhook for unknown %s account %r ignored (no ChannelAccount has it)", provider, address
        )


def _load_accounts(keys: set[tuple[str, str]]) -> dict[tuple[str, str], ChannelAccount]:
    """The accounts no known conversation brought along, each with its owner's `own_number`."""
    if not keys:
        return {}
    addresses = {address for _, address in keys}
    return {
        (account.provider, account.address): account
        for account in ChannelAccount.objects.filter(address__in=addresses).annotate(
            own_number=owner_commands.own_number_of()
        )
        if (account.provider, account.address) in keys
    }


#: Conversations one draft job answers: a delivery from 100 senders makes 10 jobs (enqueueing
#: one RQ job costs about as much as storing a message), still spread over every worker.
DRAFTS_PER_JOB = 10

Arrival = tuple[ChannelAccount, InboundMessage]


def _conversations_of_senders(messages: tuple[InboundMessage, ...]) -> list[Conversation]:
    """Conversations whose contact may be one of the senders, with accounts, contacts and the owner's
    own number (`own_number`), in one query.

    A contact is found by its address, its phone number or its WhatsApp user id
    (conversations/identity.py); which candidate a sender is gets decided in memory.
    """
    senders: dict[tuple[str, str], list[identity.Sender]] = {}
    for inbound in messages:
        senders.setdefault((inbound.provider, inbound.account_address), []).append(
            identity.sender_of(inbound)
        )
    return sender_conversations.conversations_of(senders)


def _store_messages(arrivals: list[Arrival], known: list[Conversation], result: IngestResult) -> None:
    """Insert the messages no earlier delivery stored; advance the conversations they belong to."""
    # A message twice in one batch (a body that repeats it, or redeliveries ingested together) counts once.
    unique: dict[tuple[int, str], Arrival] = {}
    for account, inbound in arrivals:
        unique.setdefault((account.pk, inbound.provider_message_id), (account, inbound))
    result.duplicates += len(arrivals) - len(unique)
    arrivals = list(unique.values())
    conversations = _conversations_for(arrivals, known)
    reply_targets = _reply_targets(arrivals)
    rows = [
        _message_row(inbound, account, conversation, reply_targets)
        for (account, inbound), conversation in zip(arrivals, conversations, strict=True)
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
    for (account, inbound), conversation in zip(arrivals, conversations, strict=True):
        if (account.pk, inbound.provider_message_id) in inserted:
            fresh.setdefault(conversation, []).append(inbound)
    fresh = message_events.apply_edits_and_revokes(fresh)
    if fresh:
        _apply_notices(fresh)
        _advance(fresh)


def _conversations_for(arrivals: list[Arrival], known: list[Conversation]) -> list[Conversation]:
    """Each arrival's conversation (with its contact): a known one, or one created for a first message."""
    directories: dict[int, identity.Directory] = {}
    of_contact: dict[int, Conversation] = {}
    for conversation in known:
        directories.setdefault(conversation.account_id, identity.Directory()).add(conversation.contact)
        of_contact[id(conversation.contact)] = conversation
    chosen: list[Conversation | None] = []
    missing: list[int] = []
    for index, (account, inbound) in enumerate(arrivals):
        sender = identity.sender_of(inbound)
        directory = directories.get(account.pk)
        contact = directory.find(sender) if directory else None
        if contact is None:
            chosen.append(None)
            missing.append(index)
            continue
        identity.record_identifiers(contact, sender)
        directory.add(contact)
        chosen.append(of_contact[id(contact)])
    if missing:
        created = _create_conversations([arrivals[index] for index in missing])
        for index, conversation in zip(missing, created, strict=True):
            chosen[index] = conversation
    return chosen  # type: ignore[return-value]  # every None was filled above


def _create_conversations(arrivals: list[Arrival]) -> list[Conversation]:
    """First messages: one INSERT of conversations, returning what it created; one that a
    concurrent delivery created first is read back. Never a conflict, never a duplicate."""
    contacts = _contacts_of(arrivals)
    wanted: dict[tuple[int, int], Conversation] = {}
    for (account, _inbound), contact in zip(arrivals, contacts, strict=True):
        wanted.setdefault(
            (account.pk, contact.pk),
            Conversation(owner_id=account.owner_id, account=account, contact=contact),
        )
    left_out = insert_new(list(wanted.values()), unique=["account", "contact"])
    if left_out:
        match = Q()
        for conversation in left_out:
            match |= Q(account_id=conversation.account_id, contact_id=conversation.contact_id)
        for conversation in Conversation.objects.select_related("account", "contact").filter(match):
            wanted[conversation.account_id, conversation.contact_id] = conversation
    return [wanted[account.pk, contact.pk] for (account, _), contact in zip(arrivals, contacts, strict=True)]


def _contacts_of(arrivals: list[Arrival]) -> list[Contact]:
    """Each arrival's contact: one the owner already has (by address, phone or user id, from another
    channel or a concurrent delivery), else a new one; new ones inserted in one statement."""
    senders = [identity.sender_of(inbound) for _, inbound in arrivals]
    owners = {account.owner_id for account, _ in arrivals}
    existing = {owner: identity.Directory() for owner in owners}
    for contact in Contact.objects.filter(Q(owner_id__in=owners) & identity.lookup(senders)):
        existing[contact.owner_id].add(contact)
    pending = {owner: identity.Directory() for owner in owners}
    chosen: list[Contact] = []
    new: list[Contact] = []
    for (account, _), sender in zip(arrivals, senders, strict=True):
        contact = existing[account.owner_id].find(sender)
        if contact is not None:
            identity.record_identifiers(contact, sender)
            existing[account.owner_id].add(contact)
        elif (contact := pending[account.owner_id].find(sender)) is not None:
            identity.absorb(contact, sender)
            pending[account.owner_id].add(contact)
        else:
            contact = identity.new_contact(account.owner_id, sender)
            pending[account.owner_id].add(contact)
            new.append(contact)
        chosen.append(contact)
    left_out = insert_new(new, unique=["owner", "address"])
    if left_out:
        # A concurrent delivery created them first (same address, or the same user id).
        match = Q()
        for contact in left_out:
            match |= Q(owner_id=contact.owner_id, address=contact.address)
            if contact.user_id:
                match |= Q(owner_id=contact.owner_id, user_id=contact.user_id)
        stored = {owner: identity.Directory() for owner in owners}
        for contact in Contact.objects.filter(match):
            stored[contact.owner_id].add(contact)
        found = {id(contact): stored[contact.owner_id].same_as(contact) for contact in left_out}
        for index, sender in enumerate(senders):
            if (contact := found.get(id(chosen[index]))) is not None:
                identity.record_identifiers(contact, sender)
                chosen[index] = contact
    return chosen


def _apply_notices(fresh: dict[Conversation, list[InboundMessage]]) -> None:
    """System notices (a changed number, a changed identity) change the conversation's contact."""
    for conversation, new in fresh.items():
        for inbound in new:
            if inbound.kind == Kind.SYSTEM:
                identity.apply_notice(conversation, inbound)


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
    # A group is never answered automatically (nor privately): its messages wait for the owner.
    groups = {c for c in readable if c.contact.is_group}
    readable -= groups
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
    dashboard_events.changed(*fresh)  # open admin pages refresh on commit
    for conversation, new in fresh.items():
        if conversation.status == ConversationStatus.CLOSED:
            conversation.status = ConversationStatus.OPEN
        for inbound in new:
            if inbound.kind not in Kind.READABLE and inbound.kind not in Kind.QUIET:
                escalate(
                    conversation,
                    reason=EscalationReason.UNREADABLE,
                    detail=f"{conversation.contact} sent a message the assistant cannot read ({inbound.kind}).",
                )
    for conversation in groups:
        escalate(
            conversation,
            reason=EscalationReason.GROUP,
            detail=f"New message in {conversation.contact}: the assistant never answers a group by itself "
            "(and never a member privately); reply on the conversation page if you want to.",
        )


def _log_provider_error(error: ProviderError) -> None:
    logger.error(
        "%s reported error %s for account %s: %s",
        error.provider,
        error.code,
        error.account_address,
        error.detail,
    )

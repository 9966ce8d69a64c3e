"""What a delivery says about other messages: the owner's echoes, a contact's edits and revokes,
and receipts that name no sender number.

Called from `ingest_batch`, inside its transaction, so each of these is as atomic and
idempotent as the message it came with:

- An echo (Meta coexistence, `smb_message_echoes`) is what the owner typed in the WhatsApp
  Business app on the same number: it is stored as an outbound message authored by the owner
  (unique by provider message id, so a redelivery changes nothing) and the conversation is
  taken over exactly as when the owner replies by hand, so the assistant never talks over them.
- An edit changes the original message's text; the earlier text is kept in
  `metadata["history"]`. The edit itself is stored too (nothing a contact sends is lost):
  quietly when the original still waits for its answer, since the draft then answers the new
  text; as a turn of its own (its new kind and text) when the original was already answered
  or was never received, so the corrected words are answered or escalated like any message.
- A revoke marks the original as revoked (`revoked_at`); its text stays for the owner's
  record, the assistant no longer answers it, and nobody is escalated.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable

from django.utils import timezone

from conversations import identity
from conversations.inbound import InboundBatch, InboundMessage, Kind, OwnerEcho, StatusUpdate
from conversations.models import (
    Author,
    ChannelAccount,
    Contact,
    Conversation,
    Direction,
    Message,
    MessageStatus,
)
from conversations.services import conversation_answered_elsewhere

logger = logging.getLogger(__name__)

Fresh = dict[Conversation, list[InboundMessage]]


# -- receipts without a sender number ------------------------------------------------------------


def resolve_status_accounts(batch: InboundBatch) -> InboundBatch:
    """Receipts that name no account address (Twilio callbacks without `From`) get the account of
    the message they report on; with no such message yet, the provider's only account keeps them
    as an early status. One that cannot be placed is logged with the reason, never guessed."""
    orphans = [s for s in batch.statuses if not s.account_address and s.provider_account_id]
    if not orphans:
        return batch
    stored = {
        (provider, provider_id): address
        for provider, provider_id, address in Message.objects.filter(
            direction=Direction.OUT,
            account__provider__in={s.provider for s in orphans},
            provider_message_id__in={s.provider_message_id for s in orphans},
        ).values_list("account__provider", "provider_message_id", "account__address")
    }
    statuses: list[StatusUpdate] = []
    for update in batch.statuses:
        if update.account_address or not update.provider_account_id:
            statuses.append(update)
            continue
        address = stored.get((update.provider, update.provider_message_id)) or _only_account(update.provider)
        if not address:
            logger.warning(
                "%s status %s for %s ignored: it names no sender number, no stored message has this id "
                "and there is more than one %s account to keep it for",
                update.provider,
                update.status,
                update.provider_message_id,
                update.provider,
            )
            continue
        statuses.append(dataclasses.replace(update, account_address=address))
    return dataclasses.replace(batch, statuses=tuple(statuses))


def _only_account(provider: str) -> str:
    addresses = list(ChannelAccount.objects.filter(provider=provider).values_list("address", flat=True)[:2])
    return addresses[0] if len(addresses) == 1 else ""


# -- the owner's echoes --------------------------------------------------------------------------


def store_echoes(echoes: Iterable[OwnerEcho]) -> int:
    """Store each new echo as the owner's outbound message and take its conversation over.

    Returns how many were new. An echo of a message already stored (a redelivery, or one this
    install sent itself) changes nothing.
    """
    created = 0
    for echo in echoes:
        account = ChannelAccount.objects.filter(provider=echo.provider, address=echo.account_address).first()
        if account is None:
            logger.warning(
                "echo %s for unknown %s account %r ignored (no ChannelAccount has it)",
                echo.provider_message_id,
                echo.provider,
                echo.account_address,
            )
            continue
        if Message.objects.filter(account=account, provider_message_id=echo.provider_message_id).exists():
            continue
        conversation = _conversation_with(account, echo)
        now = timezone.now()
        message = Message.objects.create(
            conversation=conversation,
            account=account,
            direction=Direction.OUT,
            author=Author.OWNER,
            kind=echo.kind,
            text=echo.text,
            provider_message_id=echo.provider_message_id,
            status=MessageStatus.SENT,
            metadata={**echo.metadata, "echo": True},
            raw=echo.raw,
            sent_at=echo.sent_at or now,
            accepted_at=echo.sent_at or now,
        )
        conversation_answered_elsewhere(conversation_id=conversation.pk, message=message)
        created += 1
    return created


def _conversation_with(account: ChannelAccount, echo: OwnerEcho) -> Conversation:
    """The conversation with the echo's recipient, found as a sender is (phone or user id), or new."""
    sender = identity.Sender(
        address=echo.contact_address, phone=echo.contact_phone, user_id=echo.contact_user_id
    )
    contact = identity.best(
        Contact.objects.filter(identity.lookup([sender]), owner_id=account.owner_id), sender
    )
    if contact is None:
        contact, _ = Contact.objects.get_or_create(
            owner_id=account.owner_id,
            address=sender.address,
            defaults={"phone": sender.phone, "user_id": sender.user_id},
        )
    identity.record_identifiers(contact, sender)
    conversation, _ = Conversation.objects.get_or_create(
        account=account, contact=contact, defaults={"owner_id": account.owner_id}
    )
    return conversation


# -- a contact's edits and revokes ---------------------------------------------------------------


def apply_edits_and_revokes(fresh: Fresh) -> Fresh:
    """Apply the newly stored edits and revokes to their originals.

    Returns `fresh` with each edit that stands as a turn of its own given its new kind, so the
    caller schedules a draft for it or escalates it like any other message.
    """
    if not any(m.kind in (Kind.EDIT, Kind.REVOKE) for new in fresh.values() for m in new):
        return fresh
    result: Fresh = {}
    for conversation, new in fresh.items():
        result[conversation] = []
        for inbound in new:
            if inbound.kind == Kind.EDIT:
                inbound = _apply_edit(conversation, inbound)
            elif inbound.kind == Kind.REVOKE:
                _apply_revoke(conversation, inbound)
            result[conversation].append(inbound)
    return result


def _original(conversation: Conversation, inbound: InboundMessage) -> Message | None:
    """The message an edit or revoke refers to: only ever one this contact sent in this conversation."""
    return (
        Message.objects.select_for_update()
        .filter(
            conversation=conversation,
            direction=Direction.IN,
            provider_message_id=inbound.metadata.get("original_message_id", ""),
        )
        .first()
    )


def _event_row(conversation: Conversation, inbound: InboundMessage) -> Message:
    return Message.objects.get(
        account_id=conversation.account_id, provider_message_id=inbound.provider_message_id
    )


def _apply_edit(conversation: Conversation, inbound: InboundMessage) -> InboundMessage:
    original = _original(conversation, inbound)
    row = _event_row(conversation, inbound)
    when = inbound.sent_at or timezone.now()
    if original is not None:
        history = list(original.metadata.get("history") or [])
        history.append(
            {
                "text": original.text,
                "replaced_at": when.isoformat(),
                "edit_message_id": inbound.provider_message_id,
            }
        )
        original.text = inbound.text
        original.metadata = {**original.metadata, "history": history}
        original.edited_at = when
        original.save(update_fields=["text", "metadata", "edited_at", "updated_at"])
        row.metadata = {**row.metadata, "applied_to": original.pk}
    handled_through = Conversation.objects.filter(pk=conversation.pk).values_list(
        "handled_through", flat=True
    )
    waiting = (
        original is not None and original.revoked_at is None and original.pk > (handled_through.first() or 0)
    )
    if waiting:
        # The draft due for the original answers its new text: the edit itself stays quiet.
        row.save(update_fields=["metadata", "updated_at"])
        return inbound
    # Already answered, revoked or never received: the corrected words are a turn of their own.
    kind = inbound.metadata.get("edited_kind") or Kind.UNSUPPORTED
    metadata = {
        **(inbound.metadata.get("edited_metadata") or {}),
        **{k: v for k, v in row.metadata.items() if k not in ("edited_kind", "edited_metadata")},
        "edit_of": inbound.metadata.get("original_message_id", ""),
    }
    if original is None:
        metadata["original_unknown"] = True
        logger.info(
            "edit %s of a message never received (%s) kept as a message of its own",
            inbound.provider_message_id,
            metadata["edit_of"],
        )
    row.kind, row.metadata = kind, metadata
    row.save(update_fields=["kind", "metadata", "updated_at"])
    return dataclasses.replace(inbound, kind=kind, metadata=metadata)


def _apply_revoke(conversation: Conversation, inbound: InboundMessage) -> None:
    original = _original(conversation, inbound)
    row = _event_row(conversation, inbound)
    if original is None:
        row.metadata = {**row.metadata, "original_unknown": True}
        logger.info(
            "revoke %s of a message never received (%s) recorded",
            inbound.provider_message_id,
            inbound.metadata.get("original_message_id", ""),
        )
    else:
        original.revoked_at = inbound.sent_at or timezone.now()
        original.metadata = {**original.metadata, "revoked_by": inbound.provider_message_id}
        original.save(update_fields=["revoked_at", "metadata", "updated_at"])
        row.metadata = {**row.metadata, "applied_to": original.pk}
    row.save(update_fields=["metadata", "updated_at"])

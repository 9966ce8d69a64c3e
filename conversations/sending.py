"""Outbound delivery: one message in flight per conversation, oldest first, never twice.

A message is marked `sending` in its own committed transaction before the provider is
called. A crash during the call leaves it `sending`; the sweeper then reports the outcome
as unknown to the owner instead of risking a second copy.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from conversations import dashboard_events, jobs, window
from conversations.escalation import escalate
from conversations.inbound import Kind
from conversations.models import (
    Author,
    Conversation,
    Direction,
    Draft,
    DraftKind,
    DraftStatus,
    EscalationReason,
    Message,
    MessageStatus,
)
from conversations.providers import (
    ChannelProvider,
    OutboundTemplate,
    OutboundText,
    SendFailure,
    SendReceipt,
    get_provider,
)
from conversations.receipts import apply_early_statuses

logger = logging.getLogger(__name__)

#: Seconds to wait before each retry of a retryable send failure.
SEND_BACKOFF = (2, 10, 30, 60, 180, 600)


def split_text(text: str, limit: int) -> list[str]:
    """Split at paragraph, line, sentence or word boundaries so each part fits the provider's limit."""
    text = text.strip()
    parts = []
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        if cut < limit // 2:
            sentence_ends = [m.end() for m in re.finditer(r"[.!?](?=\s)", window)]
            cut = (
                sentence_ends[-1] if sentence_ends and sentence_ends[-1] >= limit // 2 else window.rfind(" ")
            )
        if cut < limit // 4:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts


def queue_outbound(
    conversation: Conversation,
    text: str,
    *,
    author: str,
    draft: Draft | None = None,
    schedule: bool = True,
) -> list[Message]:
    """Store a reply as queued messages (split to the provider's limit) and schedule delivery.

    `schedule=False` is for a caller that sends them itself right after its commit.
    """
    limit = get_provider(conversation.account.provider).max_text_length
    messages = [
        Message.objects.create(
            conversation=conversation,
            account_id=conversation.account_id,
            direction=Direction.OUT,
            author=author,
            text=part,
            status=MessageStatus.QUEUED,
            draft=draft,
            reply_to=draft.reply_to if draft else None,
        )
        for part in split_text(text, limit)
    ]
    if schedule:
        jobs.schedule("conversations.tasks.send_pending", conversation.pk)
    return messages


def queue_reply(draft: Draft, *, schedule: bool = True) -> list[Message]:
    """Queue an approved draft as the assistant's reply: its text, or the re-engagement template."""
    if draft.kind == DraftKind.TEMPLATE:
        return queue_template(draft, schedule=schedule)
    return queue_outbound(
        draft.conversation, draft.text, author=Author.ASSISTANT, draft=draft, schedule=schedule
    )


def queue_template(draft: Draft, *, schedule: bool = True) -> list[Message]:
    """Queue an approved template draft as one template message naming the account's configured template."""
    conversation = draft.conversation
    account = conversation.account
    message = Message.objects.create(
        conversation=conversation,
        account_id=conversation.account_id,
        direction=Direction.OUT,
        author=Author.ASSISTANT,
        kind=Kind.TEMPLATE,
        text=window.template_description(account),
        status=MessageStatus.QUEUED,
        draft=draft,
        metadata={
            "template": account.reengagement_template.strip(),
            "language": account.reengagement_language.strip(),
        },
    )
    if schedule:
        jobs.schedule("conversations.tasks.send_pending", conversation.pk)
    return [message]


def _next_to_send(conversation_id: int) -> Message | None:
    """Claim the oldest queued message of the conversation, unless one is already in flight."""
    with transaction.atomic(durable=True):
        conversation = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
        if conversation is None:
            return None
        outbound = Message.objects.filter(conversation=conversation, direction=Direction.OUT)
        if outbound.filter(status=MessageStatus.SENDING).exists():
            return None
        message = (
            outbound.filter(status=MessageStatus.QUEUED)
            .select_related("account", "conversation__contact", "reply_to")
            .order_by("id")
            .first()
        )
        if message is None:
            return None
        if message.next_attempt_at and message.next_attempt_at > timezone.now():
            wait = (message.next_attempt_at - timezone.now()).total_seconds()
            jobs.schedule("conversations.tasks.send_pending", conversation_id, delay=wait)
            return None
        message.status = MessageStatus.SENDING
        message.attempts += 1
        message.save(update_fields=["status", "attempts", "updated_at"])
        return message


def send_pending(conversation_id: int) -> None:
    """Deliver the conversation's queued messages in order, one at a time."""
    while (message := _next_to_send(conversation_id)) is not None:
        if window.refuses(message):
            _refuse_outside_window(message)
            continue
        provider = get_provider(message.account.provider)
        try:
            receipt = _deliver(provider, message)
        except SendFailure as failure:
            if not _record_failure(message, failure):
                return
            continue
        except Exception as exc:  # a bug or an unexpected library error: retry like a transient failure
            logger.exception("unexpected error sending message %s", message.pk)
            if not _record_failure(message, SendFailure(str(exc), retryable=True)):
                return
            continue
        _record_accepted(message, receipt.provider_message_id, printed=provider.prints)


def _deliver(provider: ChannelProvider, message: Message) -> SendReceipt:
    """Hand one claimed message to its provider, as a template or as free-form text."""
    contact = message.conversation.contact
    if message.kind == Kind.TEMPLATE:
        outbound = OutboundTemplate(
            account_address=message.account.address,
            to=contact.address,
            to_phone=contact.phone,
            to_user_id=contact.user_id,
            to_group=contact.group_id,
            template=str(message.metadata.get("template", "")),
            language=str(message.metadata.get("language", "")),
            conversation_id=message.conversation_id,
        )
        try:
            return provider.send_template(outbound)
        except NotImplementedError as exc:
            raise SendFailure(str(exc), code="templates_unsupported") from exc
    return provider.send_text(
        OutboundText(
            account_address=message.account.address,
            to=contact.address,
            to_phone=contact.phone,
            to_user_id=contact.user_id,
            to_group=contact.group_id,
            text=message.text,
            reply_to_provider_id=(message.reply_to.provider_message_id or "") if message.reply_to else "",
            conversation_id=message.conversation_id,
        )
    )


def _refuse_outside_window(message: Message) -> None:
    """The window closed: fail the free-form message without attempting it, and offer the template."""
    logger.info("message %s not sent: the 24-hour window of its conversation has closed", message.pk)
    with transaction.atomic(durable=True):
        fail_message(
            message,
            code=window.CLOSED_CODE,
            detail=window.closed_detail(message.conversation),
            window_closed=True,
        )


def _record_accepted(message: Message, provider_message_id: str, *, printed: bool = False) -> None:
    """The provider took the message; without a configured provider it was only printed, and says so."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        dashboard_events.changed(message.conversation)
        Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
            status=MessageStatus.PRINTED if printed else MessageStatus.SENT,
            provider_message_id=provider_message_id,
            error_code="",
            error_detail="",
            next_attempt_at=None,
            accepted_at=now,
            # Sent means sent at some time: the provider's acceptance, unless a receipt said already.
            sent_at=None if printed else Coalesce(F("sent_at"), now),
            updated_at=now,
        )
        # The provider may have reported on this id already (a fast failure): apply it now.
        apply_early_statuses(account_id=message.account_id, provider_message_id=provider_message_id)
        if (
            message.draft_id
            and not Message.objects.filter(
                draft_id=message.draft_id, status__in=[MessageStatus.QUEUED, MessageStatus.SENDING]
            ).exists()
        ):
            Draft.objects.filter(pk=message.draft_id, status=DraftStatus.APPROVED).update(
                status=DraftStatus.PRINTED if printed else DraftStatus.SENT
            )


def _record_failure(message: Message, failure: SendFailure) -> bool:
    """Schedule a retry or fail the message and tell the owner; True when the next message may go."""
    with transaction.atomic(durable=True):
        if failure.retryable and message.attempts <= len(SEND_BACKOFF):
            delay = max(SEND_BACKOFF[message.attempts - 1], failure.retry_after or 0)
            Message.objects.filter(pk=message.pk).update(
                status=MessageStatus.QUEUED,
                error_code=failure.code,
                error_detail=failure.detail[:2000],
                next_attempt_at=timezone.now() + timedelta(seconds=delay),
                updated_at=timezone.now(),
            )
            logger.warning("send of message %s failed (%s), retrying in %ss", message.pk, failure, delay)
            jobs.schedule("conversations.tasks.send_pending", message.conversation_id, delay=delay)
            return False
        fail_message(message, code=failure.code, detail=failure.detail, window_closed=failure.window_closed)
        return True


def fail_message(message: Message, *, code: str, detail: str, window_closed: bool = False) -> None:
    """Fail a message (and the rest of its draft), and escalate with the provider's reason.

    A closed window is escalated as such and offers the re-engagement template instead.
    """
    siblings = Message.objects.filter(pk=message.pk)
    if message.draft_id:
        siblings = (
            Message.objects.filter(
                draft_id=message.draft_id, status__in=[MessageStatus.QUEUED, MessageStatus.SENDING]
            )
            | siblings
        )
    siblings.update(
        status=MessageStatus.FAILED, error_code=code, error_detail=detail[:2000], updated_at=timezone.now()
    )
    if message.draft_id:
        Draft.objects.filter(pk=message.draft_id).update(status=DraftStatus.FAILED)
    if code == window.CLOSED_CODE:
        summary = f"Message #{message.pk} was not sent: {detail}"
    else:
        summary = f"Message #{message.pk} could not be delivered: {code} {detail}".strip()
    if window_closed:
        window.report_refused(message, detail=summary)
    else:
        escalate(message.conversation, reason=EscalationReason.SEND_FAILED, detail=summary)

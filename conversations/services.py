"""What the owner does: approve, edit, reject, take over, release, reply by hand.

Each is one transaction with a state guard: a draft is sent only from `pending`, so a
double click or two tabs send once. Sending is never a side effect of editing.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from conversations.models import (
    Author,
    Conversation,
    ConversationStatus,
    Direction,
    Draft,
    DraftStatus,
    Message,
    User,
)
from conversations.sending import queue_outbound, queue_reply


class ActionRefused(Exception):
    """The object is not in a state that allows this action; the message says why."""


def _locked_draft(draft_id: int) -> Draft:
    draft = (
        Draft.objects.select_for_update().select_related("conversation__account").filter(pk=draft_id).first()
    )
    if draft is None:
        raise ActionRefused("This draft no longer exists.")
    if draft.status != DraftStatus.PENDING:
        raise ActionRefused(f"This draft is already {draft.get_status_display().lower()}.")
    return draft


def draft_approve(*, draft_id: int, by: User, text: str | None = None) -> Draft:
    """Approve a pending draft, optionally with edited text, and queue it for sending."""
    with transaction.atomic():
        draft = _locked_draft(draft_id)
        if text is not None:
            if not text.strip():
                raise ActionRefused("The reply text cannot be empty.")
            draft.text = text.strip()
        draft.status = DraftStatus.APPROVED
        draft.decided_by = by
        draft.decided_at = timezone.now()
        draft.save(update_fields=["text", "status", "decided_by", "decided_at"])
        queue_reply(draft)
        return draft


def draft_reject(*, draft_id: int, by: User) -> Draft:
    """Reject a pending draft; nothing is sent."""
    with transaction.atomic():
        draft = _locked_draft(draft_id)
        draft.status = DraftStatus.REJECTED
        draft.decided_by = by
        draft.decided_at = timezone.now()
        draft.save(update_fields=["status", "decided_by", "decided_at"])
        return draft


def _withdraw_pending_drafts(conversation: Conversation, by: User) -> None:
    Draft.objects.filter(conversation=conversation, status=DraftStatus.PENDING).update(
        status=DraftStatus.WITHDRAWN, decided_by=by, decided_at=timezone.now()
    )


def _locked_conversation(conversation_id: int) -> Conversation:
    return Conversation.objects.select_for_update().select_related("account").get(pk=conversation_id)


def conversation_take_over(*, conversation_id: int, by: User) -> Conversation:
    """The owner answers from now on: the assistant stays silent and its pending drafts are withdrawn."""
    with transaction.atomic():
        conversation = _locked_conversation(conversation_id)
        conversation.bot_paused = True
        conversation.save(update_fields=["bot_paused", "updated_at"])
        _withdraw_pending_drafts(conversation, by)
        return conversation


def conversation_release(*, conversation_id: int, by: User) -> Conversation:
    """Hand the conversation back; what came in while the owner held it counts as answered."""
    with transaction.atomic():
        conversation = _locked_conversation(conversation_id)
        latest = (
            Message.objects.filter(conversation=conversation, direction=Direction.IN)
            .order_by("-id")
            .values_list("id", flat=True)
            .first()
        )
        conversation.bot_paused = False
        conversation.status = ConversationStatus.OPEN
        conversation.handled_through = max(conversation.handled_through, latest or 0)
        conversation.reply_due_at = None
        conversation.save(
            update_fields=["bot_paused", "status", "handled_through", "reply_due_at", "updated_at"]
        )
        return conversation


def conversation_reply(*, conversation_id: int, by: User, text: str) -> list[Message]:
    """Send the owner's own words; answering by hand also takes the conversation over."""
    if not text.strip():
        raise ActionRefused("The reply text cannot be empty.")
    with transaction.atomic():
        conversation = _locked_conversation(conversation_id)
        conversation.bot_paused = True
        conversation.status = ConversationStatus.OPEN
        conversation.save(update_fields=["bot_paused", "status", "updated_at"])
        _withdraw_pending_drafts(conversation, by)
        return queue_outbound(conversation, text, author=Author.OWNER)

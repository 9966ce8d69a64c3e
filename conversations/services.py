"""What the owner does: approve, edit, reject, take over, release, reply by hand.

Each is one transaction with a state guard and an audit entry: a draft is sent only from
`pending`, so a double click or two tabs send once; a draft whose conversation moved on is
sent only when the caller confirms it saw the newest message. Sending is never a side effect
of editing, and always happens in a job after the commit.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from conversations import audit, window
from conversations.models import (
    AuditAction,
    Author,
    Conversation,
    ConversationStatus,
    Direction,
    Draft,
    DraftKind,
    DraftStatus,
    Message,
    User,
)
from conversations.selectors import Staleness, draft_staleness
from conversations.sending import queue_outbound, queue_reply


class ActionRefused(Exception):
    """The object is not in a state that allows this action; the message says why."""


class StaleDraft(ActionRefused):
    """The draft's conversation moved on; approving needs `seen_through` of at least `newest_message_id`."""

    def __init__(self, staleness: Staleness) -> None:
        self.staleness = staleness
        super().__init__(f"{staleness.describe()} Read them, then approve again to confirm.")

    @property
    def newest_message_id(self) -> int:
        """The id to pass back as `seen_through` once the newer messages were read."""
        return self.staleness.newest_message_id


def _locked_draft(draft_id: int) -> Draft:
    draft = (
        Draft.objects.select_for_update().select_related("conversation__account").filter(pk=draft_id).first()
    )
    if draft is None:
        raise ActionRefused("This draft no longer exists.")
    if draft.status != DraftStatus.PENDING:
        raise ActionRefused(f"This draft is already {draft.get_status_display().lower()}.")
    return draft


def _clean_text(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise ActionRefused("The reply text cannot be empty.")
    return cleaned


def _record_edit(draft: Draft, by: User, text: str) -> bool:
    """Replace the draft's text and record before/after; False when the text did not change."""
    if text == draft.text:
        return False
    audit.record(
        actor=by,
        action=AuditAction.EDIT,
        owner_id=draft.conversation.owner_id,
        conversation=draft.conversation,
        draft=draft,
        summary=f"Edited draft #{draft.pk}",
        before={"text": draft.text},
        after={"text": text},
    )
    draft.text = text
    return True


def draft_approve(
    *, draft_id: int, by: User, text: str | None = None, seen_through: int | None = None
) -> Draft:
    """Approve a pending draft, optionally with edited text, and queue it for sending.

    A stale draft (a newer provider message or an owner reply since it was written) is
    refused with `StaleDraft` unless `seen_through` names the newest of those messages.
    """
    with transaction.atomic(durable=True):
        draft = _locked_draft(draft_id)
        staleness = draft_staleness(draft)
        if staleness.stale and (seen_through is None or seen_through < staleness.newest_message_id):
            raise StaleDraft(staleness)
        edited = text is not None and _record_edit(draft, by, _clean_text(text))
        draft.status = DraftStatus.APPROVED
        draft.decided_by = by
        draft.decided_at = timezone.now()
        draft.save(update_fields=["text", "status", "decided_by", "decided_at"])
        withdrawn = withdraw_superseded_drafts(draft, by=by)
        audit.record(
            actor=by,
            action=AuditAction.APPROVE,
            owner_id=draft.conversation.owner_id,
            conversation=draft.conversation,
            draft=draft,
            summary=f"Approved draft #{draft.pk}"
            + (" with edits" if edited else "")
            + (" after reading the newer messages" if staleness.stale else "")
            + _superseded_note(withdrawn),
            after={"text": draft.text, **({"withdrawn_drafts": withdrawn} if withdrawn else {})},
        )
        audit.record_disclosure(draft, actor=by)
        _settle_attention(draft.conversation)
        queue_reply(draft)
        return draft


def draft_edit(*, draft_id: int, by: User, text: str) -> Draft:
    """Change a pending draft's text without sending it."""
    with transaction.atomic():
        draft = _locked_draft(draft_id)
        if _record_edit(draft, by, _clean_text(text)):
            draft.save(update_fields=["text"])
        return draft


def draft_reject(*, draft_id: int, by: User) -> Draft:
    """Reject a pending draft; nothing is sent."""
    with transaction.atomic(durable=True):
        draft = _locked_draft(draft_id)
        draft.status = DraftStatus.REJECTED
        draft.decided_by = by
        draft.decided_at = timezone.now()
        draft.save(update_fields=["status", "decided_by", "decided_at"])
        audit.record(
            actor=by,
            action=AuditAction.REJECT,
            owner_id=draft.conversation.owner_id,
            conversation=draft.conversation,
            draft=draft,
            summary=f"Rejected draft #{draft.pk}",
            before={"text": draft.text},
        )
        return draft


def _settle_attention(conversation: Conversation) -> None:
    """Approving the last held draft answers what the owner was needed for."""
    if conversation.status != ConversationStatus.NEEDS_ATTENTION:
        return
    if Draft.objects.filter(conversation=conversation, status=DraftStatus.PENDING).exists():
        return
    Conversation.objects.filter(pk=conversation.pk).update(status=ConversationStatus.OPEN)
    conversation.status = ConversationStatus.OPEN


def _withdraw_pending_drafts(conversation: Conversation, by: User | None) -> int:
    return Draft.objects.filter(conversation=conversation, status=DraftStatus.PENDING).update(
        status=DraftStatus.WITHDRAWN, decided_by=by, decided_at=timezone.now()
    )


def withdraw_superseded_drafts(draft: Draft, *, by: User | None) -> list[int]:
    """A text reply going out answers the turns before it: withdraw the older pending text drafts.

    Call it in the transaction that approves `draft` (by the owner, or `by=None` when the
    assistant sends it by itself); returns the ids withdrawn, oldest first.
    """
    if draft.kind != DraftKind.TEXT:
        return []
    older = Draft.objects.filter(
        conversation_id=draft.conversation_id,
        kind=DraftKind.TEXT,
        status=DraftStatus.PENDING,
        id__lt=draft.pk,
    )
    ids = sorted(older.select_for_update().values_list("id", flat=True))
    if ids:
        Draft.objects.filter(pk__in=ids, status=DraftStatus.PENDING).update(
            status=DraftStatus.WITHDRAWN, decided_by=by, decided_at=timezone.now()
        )
    return ids


def _superseded_note(ids: list[int]) -> str:
    if not ids:
        return ""
    return "; withdrew the older draft(s) " + ", ".join(f"#{pk}" for pk in ids)


def _locked_conversation(conversation_id: int) -> Conversation:
    conversation = (
        Conversation.objects.select_for_update().select_related("account").filter(pk=conversation_id).first()
    )
    if conversation is None:
        raise ActionRefused("This conversation no longer exists.")
    return conversation


def _withdrawn_note(count: int) -> str:
    return f"; {count} pending draft(s) withdrawn" if count else ""


def conversation_take_over(*, conversation_id: int, by: User) -> Conversation:
    """The owner answers from now on: the assistant stays silent and its pending drafts are withdrawn."""
    with transaction.atomic(durable=True):
        conversation = _locked_conversation(conversation_id)
        if conversation.bot_paused:
            return conversation
        conversation.bot_paused = True
        conversation.save(update_fields=["bot_paused", "updated_at"])
        withdrawn = _withdraw_pending_drafts(conversation, by)
        audit.record(
            actor=by,
            action=AuditAction.TAKE_OVER,
            owner_id=conversation.owner_id,
            conversation=conversation,
            summary="Took the conversation over" + _withdrawn_note(withdrawn),
            before={"bot_paused": False},
            after={"bot_paused": True},
        )
        return conversation


def conversation_release(*, conversation_id: int, by: User) -> Conversation:
    """Hand the conversation back, or mark it handled; what came in while the owner held it counts as answered."""
    with transaction.atomic(durable=True):
        conversation = _locked_conversation(conversation_id)
        before = {"bot_paused": conversation.bot_paused, "status": conversation.status}
        if not conversation.bot_paused and conversation.status == ConversationStatus.OPEN:
            return conversation
        fields = ["bot_paused", "status", "updated_at"]
        if conversation.bot_paused:
            latest = (
                Message.objects.filter(conversation=conversation, direction=Direction.IN)
                .order_by("-id")
                .values_list("id", flat=True)
                .first()
            )
            conversation.handled_through = max(conversation.handled_through, latest or 0)
            conversation.reply_due_at = None
            fields += ["handled_through", "reply_due_at"]
        conversation.bot_paused = False
        conversation.status = ConversationStatus.OPEN
        conversation.save(update_fields=fields)
        audit.record(
            actor=by,
            action=AuditAction.RELEASE,
            owner_id=conversation.owner_id,
            conversation=conversation,
            summary="Handed the conversation back to the assistant"
            if before["bot_paused"]
            else "Marked the conversation as handled",
            before=before,
            after={"bot_paused": False, "status": conversation.status},
        )
        return conversation


def conversation_answered_elsewhere(*, conversation_id: int, message: Message) -> Conversation:
    """The owner wrote to the contact from another app on the same number (a WhatsApp Business
    app echo): a reply by hand, so the conversation is taken over as `conversation_reply` does."""
    with transaction.atomic():
        conversation = _locked_conversation(conversation_id)
        was_paused = conversation.bot_paused
        conversation.bot_paused = True
        conversation.status = ConversationStatus.OPEN
        conversation.save(update_fields=["bot_paused", "status", "updated_at"])
        withdrawn = _withdraw_pending_drafts(conversation, None)
        audit.record(
            actor=None,
            action=AuditAction.MANUAL_REPLY,
            owner_id=conversation.owner_id,
            conversation=conversation,
            summary="Replied in the WhatsApp Business app"
            + ("" if was_paused else " and took the conversation over")
            + _withdrawn_note(withdrawn),
            after={"text": message.text, "messages": [message.pk]},
        )
        return conversation


def conversation_reply(*, conversation_id: int, by: User, text: str) -> list[Message]:
    """Send the owner's own words; answering by hand also takes the conversation over."""
    text = _clean_text(text)
    with transaction.atomic(durable=True):
        conversation = _locked_conversation(conversation_id)
        was_paused = conversation.bot_paused
        conversation.bot_paused = True
        conversation.status = ConversationStatus.OPEN
        conversation.save(update_fields=["bot_paused", "status", "updated_at"])
        withdrawn = _withdraw_pending_drafts(conversation, by)
        messages = queue_outbound(conversation, text, author=Author.OWNER)
        audit.record(
            actor=by,
            action=AuditAction.MANUAL_REPLY,
            owner_id=conversation.owner_id,
            conversation=conversation,
            summary="Replied by hand"
            + ("" if was_paused else " and took the conversation over")
            + _withdrawn_note(withdrawn),
            after={"text": text, "messages": [message.pk for message in messages]},
        )
        return messages


def conversation_reengage(*, conversation_id: int) -> tuple[Draft, bool]:
    """The owner asks to reach a contact whose window closed: the template draft to approve, and whether it is new.

    Refused (`window.ReengagementRefused`) on channels without a window, while the window is
    open (a normal reply works), and when the channel account names no template.
    """
    with transaction.atomic(durable=True):
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("account", "contact")
            .get(pk=conversation_id)
        )
        refusal = window.reengage_refusal(conversation)
        if refusal is not None:
            raise window.ReengagementRefused(refusal)
        existed = window.has_live_offer(conversation)
        draft = window.offer_reengagement(conversation)
        if draft is None:  # cannot happen under this lock; kept so the contract holds if it ever does
            raise window.ReengagementRefused(f"{conversation.account} has no re-engagement template.")
        return draft, not existed

"""WhatsApp's 24-hour customer-service window: whether a free-form reply may still go out, and what instead.

WhatsApp accepts free-form messages only within 24 hours of the contact's last message;
after that only a pre-approved template gets through. The window is tracked per conversation
from `Conversation.last_inbound_at`. Once it has closed, Gatekeeper never attempts a free-form
send: it tells the owner why and offers the channel account's re-engagement template as a
draft (`Draft.kind = template`), which waits for the owner's approval and is sent through the
same approve service as any reply.

Every window decision is made here: whether the send job may attempt a message, what a
refusal tells the owner (refused before the attempt, by the provider on the send, or later in
a delivery receipt), which of a draft's findings is the window's, and what a recorded turn
does to template offers. The providers' own error codes stay with their parsers and senders
in `channels_app`; the domain sees only the normalized flag `window_closed` on a
`SendFailure` or a `StatusUpdate`.

Nothing here sends: approving a template draft queues it (`conversations.sending`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from conversations.escalation import escalate
from conversations.inbound import Kind
from conversations.models import (
    ChannelAccount,
    Conversation,
    Direction,
    Draft,
    DraftKind,
    DraftStatus,
    EscalationReason,
    Message,
    Provider,
)
from conversations.trust import guards

#: How long after the contact's last message a free-form reply is allowed (WhatsApp's rule).
WINDOW = timedelta(hours=24)
#: Channels whose transport is WhatsApp, whichever company delivers it.
WINDOWED_PROVIDERS = frozenset({Provider.WHATSAPP, Provider.TWILIO})
#: The name the window check carries among a draft's guards, and the error code of a message
#: Gatekeeper refused to attempt (a provider's refusal keeps the provider's own code).
GUARD = "window_closed"
CLOSED_CODE = "window_closed"

TEMPLATE_DECISION = (
    "held: a re-engagement template always waits for your approval "
    "(it starts a new, business-initiated WhatsApp conversation)"
)
#: Template drafts still in play: a second one is never offered while one of these exists.
_LIVE = (DraftStatus.PENDING, DraftStatus.APPROVED)


class ReengagementRefused(Exception):
    """The conversation cannot be re-engaged with a template now; the message says why."""


@dataclass(frozen=True)
class WindowState:
    """Where a conversation stands with the window, for the dashboard and the API."""

    applies: bool
    open: bool
    last_inbound_at: datetime | None
    closes_at: datetime | None
    template: str
    language: str

    @property
    def template_configured(self) -> bool:
        """Whether the channel account names a re-engagement template."""
        return bool(self.template)


def applies_to(account: ChannelAccount) -> bool:
    """Whether the account's channel has a messaging window (WhatsApp does; web chat does not)."""
    return account.provider in WINDOWED_PROVIDERS


def closes_at(conversation: Conversation) -> datetime | None:
    """When free-form replies stop being allowed; None when the contact never wrote."""
    if conversation.last_inbound_at is None:
        return None
    return conversation.last_inbound_at + WINDOW


def is_open(conversation: Conversation, *, now: datetime | None = None) -> bool:
    """Whether a free-form reply may go out now (always, on channels without a window)."""
    if not applies_to(conversation.account):
        return True
    closing = closes_at(conversation)
    return closing is not None and (now or timezone.now()) < closing


def window_state(conversation: Conversation, *, now: datetime | None = None) -> WindowState:
    """The conversation's window and the template that could reopen it, in one read."""
    account = conversation.account
    applies = applies_to(account)
    return WindowState(
        applies=applies,
        open=is_open(conversation, now=now),
        last_inbound_at=conversation.last_inbound_at,
        closes_at=closes_at(conversation) if applies else None,
        template=account.reengagement_template.strip() if applies else "",
        language=account.reengagement_language.strip() if applies else "",
    )


def closed_detail(conversation: Conversation) -> str:
    """Why a free-form reply cannot reach the contact, in words the owner reads in the dashboard."""
    contact = conversation.contact
    closing = closes_at(conversation)
    if closing is None:
        return (
            f"{contact} has never written to this WhatsApp number, so no 24-hour window is open: "
            "only an approved template can reach them."
        )
    return (
        f"WhatsApp's 24-hour window closed at {_when(closing)} ({contact} last wrote at "
        f"{_when(conversation.last_inbound_at)}): a free-form reply can no longer reach them, "
        "only an approved template can, until they write again."
    )


def closed_findings(conversation: Conversation, *, now: datetime | None = None) -> list[guards.Finding]:
    """A guard finding that holds and escalates a reply when the window has closed, else nothing."""
    if is_open(conversation, now=now):
        return []
    return [guards.Finding(guard=GUARD, effect=guards.ESCALATE, words=(), detail=closed_detail(conversation))]


def closed_in(findings: list[guards.Finding]) -> bool:
    """Whether one of a draft's findings is the closed window."""
    return any(finding.guard == GUARD for finding in findings)


def other_findings(findings: list[guards.Finding]) -> list[guards.Finding]:
    """A draft's findings without the window's, which reports itself (`report_held_reply`)."""
    return [finding for finding in findings if finding.guard != GUARD]


def refuses(message: Message, *, now: datetime | None = None) -> bool:
    """Whether the send job must not attempt this message: free-form after the window closed.

    A template is the one kind of message WhatsApp takes outside the window, so it is always tried.
    """
    return message.kind != Kind.TEMPLATE and not is_open(message.conversation, now=now)


def report_refused(message: Message, *, detail: str) -> Draft | None:
    """A message the window stopped (before the attempt, on the send, or in a receipt): tell the owner.

    The template is offered, unless the template itself is what failed: it is not answered with another.
    """
    return report_window_closed(message.conversation, detail=detail, offer=message.kind != Kind.TEMPLATE)


def settle_offers(conversation: Conversation, *, now: datetime | None = None) -> int:
    """After a turn is recorded: an open window needs no template, so pending offers are withdrawn."""
    if applies_to(conversation.account) and is_open(conversation, now=now):
        return withdraw_offers(conversation)
    return 0


def report_held_reply(
    conversation: Conversation, findings: list[guards.Finding], *, replied: bool, detail: str
) -> Draft | None:
    """A reply the closed window held: tell the owner and offer the template; nothing when it did not."""
    if replied and closed_in(findings):
        return report_window_closed(conversation, detail=detail)
    return None


def template_description(account: ChannelAccount) -> str:
    """How a re-engagement template is shown as a draft's and a message's text."""
    template = account.reengagement_template.strip()
    if account.provider == Provider.TWILIO:
        return f"Re-engagement template {template} (Twilio Content SID)"
    language = account.reengagement_language.strip() or "en_US"
    return f"Re-engagement template “{template}” ({language})"


def offer_reengagement(conversation: Conversation) -> Draft | None:
    """The conversation's live template draft, created pending if there is none; None without a template.

    Called inside the caller's transaction (a failed send, a held reply, the owner's request);
    the conversation row is locked so two callers never offer two templates.
    """
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("account", "contact")
            .get(pk=conversation.pk)
        )
        account = conversation.account
        if not applies_to(account) or not account.reengagement_template.strip():
            return None
        live = conversation.drafts.filter(kind=DraftKind.TEMPLATE, status__in=_LIVE).order_by("id").first()
        if live is not None:
            return live
        # It re-opens the conversation after the newest inbound message; only text drafts claim a turn.
        newest = conversation.messages.filter(direction=Direction.IN).aggregate(newest=Max("id"))["newest"]
        return Draft.objects.create(
            conversation=conversation,
            kind=DraftKind.TEMPLATE,
            status=DraftStatus.PENDING,
            text=template_description(account),
            category=conversation.category,
            confidence=1.0,
            reason=closed_detail(conversation),
            decision=TEMPLATE_DECISION,
            answers_through=newest or 0,
        )


def report_window_closed(conversation: Conversation, *, detail: str, offer: bool = True) -> Draft | None:
    """Tell the owner a reply cannot go out free-form, and offer the template (unless it was the template)."""
    draft = offer_reengagement(conversation) if offer else None
    escalate(
        conversation,
        reason=EscalationReason.WINDOW_CLOSED,
        detail=f"{detail} {_next_step(conversation.account, draft, offered=offer)}".strip(),
    )
    return draft


def withdraw_offers(conversation: Conversation) -> int:
    """Withdraw pending template drafts once the contact wrote again (the window is open: reply normally)."""
    return conversation.drafts.filter(kind=DraftKind.TEMPLATE, status=DraftStatus.PENDING).update(
        status=DraftStatus.WITHDRAWN, decided_at=timezone.now()
    )


def reengage_refusal(conversation: Conversation) -> str | None:
    """Why the owner cannot ask for the template now (no window, still open, no template), or None."""
    account = conversation.account
    if not applies_to(account):
        return "Only WhatsApp conversations have a 24-hour window to reopen."
    if is_open(conversation):
        return f"The 24-hour window is open until {_when(closes_at(conversation))}: reply normally."
    if not account.reengagement_template.strip():
        return (
            f"{account} has no re-engagement template: set one on the channel account "
            "(a Meta template name and language, or a Twilio Content SID)."
        )
    return None


def has_live_offer(conversation: Conversation) -> bool:
    """Whether a template draft is already pending or on its way for this conversation."""
    return conversation.drafts.filter(kind=DraftKind.TEMPLATE, status__in=_LIVE).exists()


def _next_step(account: ChannelAccount, draft: Draft | None, *, offered: bool) -> str:
    if draft is not None and draft.status == DraftStatus.PENDING:
        return f"Approve the re-engagement template draft #{draft.pk} to reach them."
    if draft is not None:
        return f"The re-engagement template (draft #{draft.pk}) is already on its way."
    if offered and applies_to(account):
        return (
            f"Set a re-engagement template on {account} (a Meta template name and language, or a "
            "Twilio Content SID) to reach them, or wait until they write again."
        )
    return ""


def _when(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z") if moment else "an unknown time"

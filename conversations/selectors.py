"""Reads for the review dashboard and the API: owner scoping, staleness, the queue, a conversation's thread.

Every selector runs a fixed number of queries, however many rows there are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    FloatField,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from conversations.models import (
    AuditEntry,
    Author,
    Conversation,
    ConversationStatus,
    Direction,
    Draft,
    DraftStatus,
    Escalation,
    Message,
    MessageStatus,
    OwnerSettings,
    User,
)

#: The newest messages a conversation page shows; older ones are counted and linked.
THREAD_LIMIT = 200


def owned(queryset: QuerySet, user: User, owner_path: str) -> QuerySet:
    """The rows `user` may see: all for a superuser, else those whose `owner_path` is the user."""
    if user.is_superuser:
        return queryset
    if not user.is_authenticated:
        return queryset.none()
    return queryset.filter(**{owner_path: user.pk})


# -- staleness -------------------------------------------------------------------------------


def _moved_on(conversation_ref: Any, answers_through: Any, written_at: Any) -> Q:
    """Messages that make a draft stale: a newer provider message, or an owner reply after it was written."""
    return Q(conversation=conversation_ref) & (
        Q(direction=Direction.IN, id__gt=answers_through) | Q(author=Author.OWNER, created_at__gt=written_at)
    )


def with_staleness(drafts: QuerySet[Draft]) -> QuerySet[Draft]:
    """Annotate `is_stale`: a pending draft whose conversation moved on since it was written."""
    moved_on = Message.objects.filter(
        _moved_on(OuterRef("conversation_id"), OuterRef("answers_through"), OuterRef("created_at"))
    )
    return drafts.annotate(
        is_stale=ExpressionWrapper(
            Q(status=DraftStatus.PENDING) & Q(Exists(moved_on)), output_field=BooleanField()
        )
    )


def with_threshold(drafts: QuerySet[Draft]) -> QuerySet[Draft]:
    """Annotate `owner_threshold`: the confidence the draft's owner asks for (the default without settings)."""
    threshold = OwnerSettings.objects.filter(owner=OuterRef("conversation__owner")).values(
        "confidence_threshold"
    )[:1]
    default = OwnerSettings._meta.get_field("confidence_threshold").get_default()
    return drafts.annotate(
        owner_threshold=Coalesce(Subquery(threshold), Value(default), output_field=FloatField())
    )


def for_review(drafts: QuerySet[Draft]) -> QuerySet[Draft]:
    """Drafts with what a reviewer sees at a glance: staleness, the owner's threshold, the conversation."""
    return with_threshold(with_staleness(drafts)).select_related(
        "conversation__contact", "conversation__account", "conversation__rule", "decided_by"
    )


@dataclass(frozen=True)
class Staleness:
    """How a conversation moved on since a draft was written."""

    newer_inbound: int = 0
    owner_replies: int = 0
    newest_message_id: int = 0

    @property
    def stale(self) -> bool:
        """Whether the draft answers a conversation that is no longer as it was."""
        return bool(self.newer_inbound or self.owner_replies)

    def describe(self) -> str:
        """The reason in plain words, for a refusal or a banner."""
        parts = []
        if self.newer_inbound:
            parts.append(f"{self.newer_inbound} newer message(s) from the provider")
        if self.owner_replies:
            parts.append(f"{self.owner_replies} reply(ies) you wrote by hand")
        return "The conversation moved on since this draft was written: " + " and ".join(parts) + "."


def draft_staleness(draft: Draft) -> Staleness:
    """Measure, in one query, what happened in the draft's conversation after it was written."""
    found = Message.objects.filter(
        _moved_on(draft.conversation_id, draft.answers_through, draft.created_at)
    ).aggregate(
        inbound=Count("id", filter=Q(direction=Direction.IN)),
        owner=Count("id", filter=Q(author=Author.OWNER)),
        newest=Max("id"),
    )
    return Staleness(
        newer_inbound=found["inbound"], owner_replies=found["owner"], newest_message_id=found["newest"] or 0
    )


# -- the review queue ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewCounts:
    """What waits for the owner, for the admin index."""

    pending_drafts: int
    stale_drafts: int
    needs_attention: int
    taken_over: int


def review_counts(user: User) -> ReviewCounts:
    """Counts of pending and stale drafts and of conversations needing the owner; two queries."""
    drafts = with_staleness(
        owned(Draft.objects.filter(status=DraftStatus.PENDING), user, "conversation__owner")
    ).aggregate(pending=Count("id"), stale=Count("id", filter=Q(is_stale=True)))
    conversations = owned(Conversation.objects.all(), user, "owner").aggregate(
        attention=Count("id", filter=Q(status=ConversationStatus.NEEDS_ATTENTION)),
        taken_over=Count("id", filter=Q(bot_paused=True)),
    )
    return ReviewCounts(
        pending_drafts=drafts["pending"],
        stale_drafts=drafts["stale"],
        needs_attention=conversations["attention"],
        taken_over=conversations["taken_over"],
    )


def pending_drafts(user: User) -> QuerySet[Draft]:
    """The drafts waiting for `user`, newest first, with what a queue row shows."""
    drafts = owned(Draft.objects.filter(status=DraftStatus.PENDING), user, "conversation__owner")
    return for_review(drafts).order_by("-created_at", "-id")


def conversations_for_review(conversations: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Annotate `pending_count` and `urgency` (0 needs attention, 1 drafts waiting, 2 neither)."""
    return conversations.annotate(
        pending_count=Count("drafts", filter=Q(drafts__status=DraftStatus.PENDING), distinct=True),
    ).annotate(
        urgency=Case(
            When(status=ConversationStatus.NEEDS_ATTENTION, then=Value(0)),
            When(pending_count__gt=0, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
    )


def conversations_needing_attention(user: User) -> QuerySet[Conversation]:
    """Escalated conversations, newest first, each with its latest escalation's reason."""
    latest = Escalation.objects.filter(conversation=OuterRef("pk")).order_by("-id")
    return (
        owned(Conversation.objects.filter(status=ConversationStatus.NEEDS_ATTENTION), user, "owner")
        .select_related("contact", "account", "rule")
        .annotate(escalation_reason=Subquery(latest.values("reason")[:1]))
        .order_by("-updated_at", "-id")
    )


# -- one conversation ------------------------------------------------------------------------


@dataclass
class ThreadEntry:
    """One line of the chat: a message, a draft that produced no message, or an escalation."""

    kind: str
    at: datetime
    order: int
    message: Message | None = None
    draft: Draft | None = None
    escalation: Escalation | None = None
    #: Words to highlight in the message text (a guard's findings in what the provider wrote).
    highlight: tuple[str, ...] = ()
    #: Whether this message is the first of its draft (the draft's details show once).
    first_of_draft: bool = False


@dataclass
class Thread:
    """A conversation as the owner reads it, oldest first, with its audit trail."""

    entries: list[ThreadEntry]
    hidden_older: int
    newest_message_id: int
    pending: list[Draft] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    #: Whether a reply is still on its way (the page refreshes to show its delivery).
    in_flight: bool = False


def _guard_words(drafts: list[Draft], guard_effect: str) -> list[tuple[int, int, tuple[str, ...]]]:
    """(after id, through id, words) of each draft's guards with the given effect, by inbound range."""
    ranges = []
    previous = 0
    for draft in sorted(drafts, key=lambda d: d.answers_through):
        words = tuple(
            word
            for finding in draft.guards or []
            if isinstance(finding, dict) and finding.get("effect") == guard_effect
            for word in finding.get("words") or []
            if isinstance(word, str) and word
        )
        if words:
            ranges.append((previous, draft.answers_through, words))
        previous = draft.answers_through
    return ranges


def conversation_thread(conversation: Conversation, *, limit: int = THREAD_LIMIT) -> Thread:
    """Messages, undelivered drafts and escalations in order, and the audit trail; five queries."""
    messages_qs = Message.objects.filter(conversation=conversation)
    total = messages_qs.count()
    messages = list(
        reversed(
            messages_qs.select_related("draft__decided_by").order_by("-id")[:limit],
        )
    )
    drafts = list(
        with_threshold(with_staleness(Draft.objects.filter(conversation=conversation)))
        .select_related("decided_by")
        .annotate(has_messages=Exists(Message.objects.filter(draft=OuterRef("pk"))))
        .order_by("id")
    )
    escalations = list(Escalation.objects.filter(conversation=conversation).order_by("id"))
    audit = list(
        AuditEntry.objects.filter(conversation=conversation).select_related("actor", "draft").order_by("-id")
    )

    inbound_words = _guard_words(drafts, "escalate")
    entries: list[ThreadEntry] = []
    seen_drafts: set[int] = set()
    running: datetime | None = None
    for message in messages:
        # Messages keep their id order even if the clock stepped back between two of them.
        running = message.created_at if running is None else max(running, message.created_at)
        highlight = ()
        if message.direction == Direction.IN:
            highlight = tuple(
                word
                for after, through, words in inbound_words
                if after < message.pk <= through
                for word in words
            )
        first = message.draft_id is not None and message.draft_id not in seen_drafts
        if message.draft_id is not None:
            seen_drafts.add(message.draft_id)
        entries.append(
            ThreadEntry("message", running, 0, message=message, highlight=highlight, first_of_draft=first)
        )
    oldest_shown = messages[0].created_at if messages and total > len(messages) else None
    for draft in drafts:
        if not draft.has_messages and (oldest_shown is None or draft.created_at >= oldest_shown):
            entries.append(ThreadEntry("draft", draft.created_at, 1, draft=draft))
    for escalation in escalations:
        if oldest_shown is None or escalation.created_at >= oldest_shown:
            entries.append(ThreadEntry("escalation", escalation.created_at, 2, escalation=escalation))
    entries.sort(key=lambda entry: (entry.at, entry.order))
    return Thread(
        entries=entries,
        hidden_older=total - len(messages),
        newest_message_id=messages[-1].pk if messages else 0,
        pending=[draft for draft in drafts if draft.status == DraftStatus.PENDING],
        audit=audit,
        in_flight=any(
            m.direction == Direction.OUT and m.status in (MessageStatus.QUEUED, MessageStatus.SENDING)
            for m in messages
        ),
    )

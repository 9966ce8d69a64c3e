"""Promises: what a company said it would do by a time, and the follow-up when it did not.

The engines read promises from the company's messages (`ai.promises`: the rules engine reads
the words itself, the openai engine lists them in its JSON); the draft job records them here.
When a promise is due, the sweeper chases it (`chase_due`):

- kept: a message from the company since the promise says the thing happened ("has been sent",
  "we called", "reembolsado", "erledigt", ...). That is the company's word, and believing it
  only means not chasing; the owner still sees the promise as kept in the timeline;
- otherwise a follow-up is drafted in the company's own words ("You wrote: ... That was due by
  14 March, and it has not happened yet.") and fired through the policy and trust checks like any
  assistant reply (`conversations.followups`), so the owner's rules send it or hold it. Any
  other message from the company does not count as kept: it is still chased.

The owner may dismiss an open promise; it is then never chased.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from ai.base import AIReply
from ai.promises import PromiseSeen, zone
from ai.replies import promise_reply
from conversations import followups
from conversations.context import owner_zone
from conversations.models import (
    Conversation,
    Direction,
    FollowUp,
    FollowUpSource,
    Message,
    Promise,
    PromiseStatus,
    User,
)
from conversations.services import ActionRefused

logger = logging.getLogger(__name__)

#: How many due promises one sweep chases.
SWEEP_BATCH = 5000

#: Words by which a company says the promised thing happened, in the six languages.
_DONE = re.compile(
    r"\b(?:has been|have been|was|were)\s+(?:sent|processed|issued|refunded|credited|completed|done|resolved|"
    r"fixed|paid|delivered|shipped)|\b(?:we|i)\s+(?:called|sent|processed|refunded|credited|fixed|resolved)|"
    r"\b(?:already|now)\s+(?:sent|processed|refunded|done|resolved|fixed)|"
    r"\b(?:ha sido|fue|hemos)\s+\w+(?:ado|ido)|\breembolsad[oa]|\bprocesad[oa]|"
    r"\ba été\s+\w+|\bavons\s+\w+(?:é|i)\b|\brembours[ée]|"
    r"\b(?:wurde|wurden|haben)\b.*\b(?:erstattet|gesendet|bearbeitet|erledigt|überwiesen|angerufen)|\berledigt|"
    r"\bfoi\s+\w+(?:ado|ido)|\b(?:já|ja)\s+\w+(?:ado|ido)|"
    r"\bè stat[oa]\s+\w+|\babbiamo\s+\w+(?:ato|uto|ito)|\brimborsat[oa]",
    re.IGNORECASE,
)


def looks_kept(texts: list[str]) -> bool:
    """Whether the company's later messages say the thing happened."""
    return any(_DONE.search(text or "") for text in texts)


def record(
    conversation: Conversation,
    seen: tuple[PromiseSeen, ...],
    *,
    message: Message,
    source: str,
    confidence: float,
) -> list[Promise]:
    """Store the promises an engine read in the company's message; the same one twice is stored once."""
    stored = []
    for promise in seen:
        try:
            with transaction.atomic():
                stored.append(
                    Promise.objects.create(
                        conversation=conversation,
                        what=promise.what,
                        due_at=promise.due_at,
                        words=str(promise.words)[:300],
                        message=message,
                        source=source,
                        confidence=confidence,
                    )
                )
        except IntegrityError:
            continue  # a retried draft job read the same promise in the same message
    return stored


def note_engine_reply(
    conversation: Conversation, reply: AIReply, *, answering: Message, through: int, replied: bool
) -> None:
    """In the draft job's transaction: store what the company promised; schedule the engine's follow-up.

    The follow-up only when a reply was drafted (sent or held); it is checked again when it fires.
    """
    if reply.promises:
        record(
            conversation,
            reply.promises,
            message=answering,
            source=str(reply.extra.get("engine", "")),
            confidence=reply.confidence,
        )
    if reply.follow_up is not None and replied:
        followups.schedule_from_engine(
            conversation, reply.follow_up, confidence=reply.confidence, through=through
        )


def dismiss(*, promise_id: int, by: User) -> Promise:
    """The owner says this promise needs no chasing; only an open promise can be dismissed."""
    with transaction.atomic(durable=True):
        promise = Promise.objects.select_for_update().filter(pk=promise_id).first()
        if promise is None:
            raise ActionRefused("This promise no longer exists.")
        if promise.status != PromiseStatus.OPEN:
            raise ActionRefused(f"This promise is already {promise.get_status_display().lower()}.")
        promise.status = PromiseStatus.DISMISSED
        promise.settled_at = timezone.now()
        promise.save(update_fields=["status", "settled_at"])
        return promise


def due_text(promise: Promise, time_zone: str) -> str:
    """When the promise was due, as the owner (and the company) read it: "14 March, around 9 am".

    No year and no minutes: four digits in a row ("2026", "09:00") read as an identifier to the
    trust checks, and would hold every such follow-up.
    """
    local = promise.due_at.astimezone(zone(time_zone))
    hour = local.hour % 12 or 12
    return f"{local.day} {local:%B}, around {hour} {'am' if local.hour < 12 else 'pm'}"


def chase_due(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> int:
    """Settle every open promise due at `now`: kept, or chased with one follow-up; returns how many."""
    now = now or timezone.now()
    ids = list(
        Promise.objects.filter(status=PromiseStatus.OPEN, due_at__lte=now)
        .order_by("due_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    settled = 0
    for promise_id in ids:
        try:
            followup = _chase(promise_id, now)
        except Exception:
            logger.exception("promise %s could not be chased; the next sweep tries again", promise_id)
            continue
        settled += followup is not False
        if followup:
            followups.fire(followup.pk, now=now)
    return settled


def _chase(promise_id: int, now: datetime) -> FollowUp | bool | None:
    """Under the conversation's lock: the follow-up drafted, None when kept, False when someone else settled it."""
    conversation_id = (
        Promise.objects.filter(pk=promise_id, status=PromiseStatus.OPEN)
        .values_list("conversation_id", flat=True)
        .first()
    )
    if conversation_id is None:
        return False
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("owner")
            .get(pk=conversation_id)
        )
        promise = Promise.objects.select_for_update().filter(pk=promise_id, status=PromiseStatus.OPEN).first()
        if promise is None:
            return False
        later = Message.objects.filter(conversation=conversation, direction=Direction.IN)
        if promise.message_id:
            later = later.filter(id__gt=promise.message_id)
        else:
            later = later.filter(created_at__gt=promise.created_at)
        promise.settled_at = now
        if looks_kept(list(later.values_list("text", flat=True))):
            promise.status = PromiseStatus.KEPT
            promise.save(update_fields=["status", "settled_at"])
            return None
        promise.status = PromiseStatus.FOLLOWED_UP
        promise.save(update_fields=["status", "settled_at"])
        text = promise_reply(
            promise.what,
            due_text(promise, owner_zone(conversation.owner_id)),
            conversation.owner.get_full_name(),
        )
        return FollowUp.objects.create(
            conversation=conversation,
            due_at=now,
            text=text,
            unless_reply=False,
            source=FollowUpSource.PROMISE,
            why=f"The company promised: {promise.what}",
            confidence=promise.confidence,
            promise=promise,
            answered_through=0,
            created_at=now,
        )

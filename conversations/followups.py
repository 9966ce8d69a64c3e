"""Follow-ups: a message to send in a conversation later, fired exactly once when due.

A follow-up is scheduled by the owner (REST, admin), by the engine (its optional `follow_up`)
or by a promise the company did not keep (`conversations.promises`). The database is the
schedule: a job is enqueued for the due time, and the sweeper fires whatever is due, so a lost
job or a flushed Redis delays nothing by more than a sweep.

Firing takes the conversation's row lock (the lock the draft job and the sender take), then
re-reads the follow-up under its own lock and acts only on `scheduled`: a second worker, a
duplicated job or a restarted sweeper finds it decided and does nothing. What it does:

- skipped: `unless_reply` and the company wrote since it was scheduled; or the owner took the
  conversation over (an assistant's follow-up never goes out in a conversation the owner holds;
  the owner's own follow-up is skipped when they took over or replied by hand after writing it);
- held: WhatsApp's 24-hour window has closed (the re-engagement template is offered as a draft);
  or the policy and trust checks hold the assistant's text (it waits as a pending draft);
- sent: queued through `conversations.sending` like any reply. Text the owner wrote goes out as
  the owner's own words, unchecked; anything else goes through `judge()` as any engine reply.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from ai.promises import FollowUpRequest
from ai.replies import follow_up_reply
from conversations import audit, jobs, live, owner_phone, policy, window
from conversations.context import owner_policy
from conversations.escalation import escalate
from conversations.inbound import Kind
from conversations.models import (
    AuditAction,
    AuditEntry,
    Author,
    CategorySource,
    Conversation,
    Direction,
    Draft,
    DraftKind,
    DraftStatus,
    EscalationReason,
    FollowUp,
    FollowUpSource,
    FollowUpStatus,
    Message,
    User,
)
from conversations.sending import queue_outbound, queue_reply
from conversations.services import ActionRefused
from conversations.trust import guards, senders
from conversations.trust.verdict import judge

logger = logging.getLogger(__name__)

#: The longest text a follow-up may carry (longer is refused); what exceeds the channel's limit is split.
TEXT_LIMIT = 10_000
#: How far ahead a follow-up may be scheduled.
LONGEST = timedelta(days=365)
#: How many due follow-ups one sweep fires; the rest wait for the next sweep.
SWEEP_BATCH = 20000
#: How many follow-ups one transaction of a sweep decides.
FIRE_BATCH = 100
#: The company's recent messages the trust checks read beside a follow-up's text.
INBOUND_CONTEXT = 5


class FollowUpRefused(ActionRefused):
    """The follow-up cannot be scheduled or changed; the message says why (a 400 or 409 in the API)."""


def _newest_inbound(conversation_id: int) -> int:
    newest = (
        Message.objects.filter(conversation_id=conversation_id, direction=Direction.IN)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return newest or 0


def _enqueue(followup: FollowUp, now: datetime) -> None:
    """A job at the due time, after the commit; the sweeper fires it anyway should the job be lost."""
    delay = max((followup.due_at - now).total_seconds(), 0)
    jobs.schedule("conversations.tasks.fire_followup", followup.pk, delay=delay)


def schedule_by_owner(
    *,
    conversation: Conversation,
    by: User,
    text: str,
    due_at: datetime,
    unless_reply: bool = True,
    fire_now: bool = False,
    now: datetime | None = None,
) -> FollowUp:
    """The owner asks to write again at `due_at`; their text goes out as their own words.

    A `due_at` in the past is refused unless `fire_now`, which fires it at once. An empty text
    sends the assistant's standard follow-up, checked like any assistant reply.
    """
    now = now or timezone.now()
    text = (text or "").strip()
    if len(text) > TEXT_LIMIT:
        raise FollowUpRefused(f"The text is {len(text)} characters long; at most {TEXT_LIMIT} are allowed.")
    if due_at <= now and not fire_now:
        raise FollowUpRefused(
            f"due_at {due_at.isoformat()} is in the past (it is {now.isoformat()}): "
            'choose a later time, or send "now": true to send it at once.'
        )
    if due_at - now > LONGEST:
        raise FollowUpRefused(f"due_at is more than {LONGEST.days} days ahead.")
    with transaction.atomic(durable=True):
        followup = FollowUp.objects.create(
            conversation=conversation,
            due_at=min(due_at, now) if fire_now else due_at,
            text=text,
            unless_reply=unless_reply,
            source=FollowUpSource.OWNER,
            why="Scheduled by you.",
            confidence=1.0,
            answered_through=_newest_inbound(conversation.pk),
            created_by=by,
            created_at=now,
        )
        _enqueue(followup, now)
    return followup


def schedule_from_engine(
    conversation: Conversation, request: FollowUpRequest, *, confidence: float, through: int
) -> FollowUp:
    """The engine asked to write again if the company stays silent; called in the draft job's transaction."""
    now = timezone.now()
    followup = FollowUp.objects.create(
        conversation=conversation,
        due_at=request.at,
        text=request.text[:TEXT_LIMIT],
        unless_reply=True,
        source=FollowUpSource.ENGINE,
        why=request.why,
        confidence=confidence,
        answered_through=through,
        created_at=now,
    )
    _enqueue(followup, now)
    return followup


def cancel(*, followup_id: int, by: User) -> FollowUp:
    """The owner cancels a scheduled follow-up; one already fired or cancelled is refused."""
    with transaction.atomic(durable=True):
        followup = FollowUp.objects.select_for_update().filter(pk=followup_id).first()
        if followup is None:
            raise FollowUpRefused("This follow-up no longer exists.")
        if followup.status != FollowUpStatus.SCHEDULED:
            raise FollowUpRefused(f"This follow-up is already {followup.get_status_display().lower()}.")
        followup.status = FollowUpStatus.CANCELLED
        followup.why = f"Cancelled by {by}."
        followup.save(update_fields=["status", "why"])
        return followup


def due_ids(now: datetime, *, limit: int = SWEEP_BATCH) -> list[int]:
    """The follow-ups due at `now`, oldest first."""
    return list(
        FollowUp.objects.filter(status=FollowUpStatus.SCHEDULED, due_at__lte=now)
        .order_by("due_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def seconds_until_due(followup_id: int, *, now: datetime | None = None) -> float:
    """How long a still scheduled follow-up waits; 0 when it is due, decided or gone."""
    due_at = (
        FollowUp.objects.filter(pk=followup_id, status=FollowUpStatus.SCHEDULED)
        .values_list("due_at", flat=True)
        .first()
    )
    if due_at is None:
        return 0.0
    return max((due_at - (now or timezone.now())).total_seconds(), 0.0)


def fire_due(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> int:
    """Fire every follow-up due at `now`; returns how many this call decided (others may race it).

    In batches of FIRE_BATCH per transaction: the follow-ups and their conversations are locked
    with SKIP LOCKED (on PostgreSQL), so a second sweeper takes other rows instead of waiting, and
    a conversation busy with a draft job is left for the next sweep. Each follow-up is decided in
    a savepoint with a conditional UPDATE of its status, so it is decided once on any database.
    The send jobs of a batch go to the queue together after its commit.
    """
    now = now or timezone.now()
    ids = due_ids(now, limit=limit)
    fired = 0
    for start in range(0, len(ids), FIRE_BATCH):
        chunk = ids[start : start + FIRE_BATCH]
        try:
            fired += _fire_batch(chunk, now)
        except Exception:
            logger.exception(
                "follow-ups %s..%s failed to fire; the next sweep tries again", chunk[0], chunk[-1]
            )
    return fired


def _fire_batch(ids: list[int], now: datetime) -> int:
    """Decide the due follow-ups among `ids` in one transaction; returns how many were decided."""
    decided = 0
    sends: list[tuple[int]] = []
    with transaction.atomic():
        batch = list(
            FollowUp.objects.select_for_update(skip_locked=True)
            .filter(pk__in=ids, status=FollowUpStatus.SCHEDULED, due_at__lte=now)
            .order_by("id")
        )
        conversations = Conversation.objects.select_for_update(skip_locked=True, of=("self",)).select_related(
            "owner", "contact", "account"
        )
        locked = {c.pk: c for c in conversations.filter(pk__in={f.conversation_id for f in batch})}
        for followup in batch:
            conversation = locked.get(followup.conversation_id)
            if conversation is None:
                continue  # busy (a draft job, a send): the next sweep takes it
            try:
                with transaction.atomic():
                    status = _settle(followup, conversation, now, schedule=False)
            except _AlreadyDecided:
                continue
            except Exception:
                logger.exception("follow-up %s failed to fire; the next sweep tries again", followup.pk)
                continue
            decided += 1
            if status == FollowUpStatus.SENT:
                sends.append((conversation.pk,))
        jobs.schedule_each("conversations.tasks.send_pending", sends)
    return decided


class _AlreadyDecided(Exception):
    """Another worker decided the follow-up first: what this one queued is rolled back."""


def _settle(followup: FollowUp, conversation: Conversation, now: datetime, *, schedule: bool = True) -> str:
    """Decide the follow-up and store the decision only if it is still scheduled (else roll back)."""
    followup.conversation = conversation
    status, why = _decide(followup, conversation, now, schedule=schedule)
    claimed = FollowUp.objects.filter(pk=followup.pk, status=FollowUpStatus.SCHEDULED).update(
        status=status, why=why or followup.why, fired_at=now, draft=followup.draft
    )
    if not claimed:
        raise _AlreadyDecided(followup.pk)
    followup.status = status
    return status


def fire(followup_id: int, *, now: datetime | None = None) -> str | None:
    """Decide one due follow-up exactly once; returns its new status, or None when there was nothing to do."""
    now = now or timezone.now()
    conversation_id = (
        FollowUp.objects.filter(pk=followup_id, status=FollowUpStatus.SCHEDULED)
        .values_list("conversation_id", flat=True)
        .first()
    )
    if conversation_id is None:
        return None
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("owner", "contact", "account")
            .get(pk=conversation_id)
        )
        followup = (
            FollowUp.objects.select_for_update()
            .filter(pk=followup_id, status=FollowUpStatus.SCHEDULED, due_at__lte=now)
            .first()
        )
        if followup is None:
            return None  # another worker decided it, it was cancelled, or it is not due yet
        try:
            with transaction.atomic():
                return _settle(followup, conversation, now)
        except _AlreadyDecided:
            return None


def _decide(
    followup: FollowUp, conversation: Conversation, now: datetime, *, schedule: bool
) -> tuple[str, str]:
    """What to do with a due follow-up, done inside the caller's transaction."""
    if (
        followup.unless_reply
        and Message.objects.filter(
            conversation=conversation, direction=Direction.IN, id__gt=followup.answered_through
        ).exists()
    ):
        return FollowUpStatus.SKIPPED, "Skipped: the company wrote before it was due."
    owners_words = followup.source == FollowUpSource.OWNER and bool(followup.text)
    if not owners_words and conversation.bot_paused:
        return FollowUpStatus.SKIPPED, "Skipped: you took the conversation over."
    if owners_words and _owner_stepped_in(conversation, since=followup.created_at):
        return FollowUpStatus.SKIPPED, "Skipped: you took the conversation over or replied by hand since."
    if not window.is_open(conversation, now=now):
        detail = f"Follow-up #{followup.pk} could not go out: {window.closed_detail(conversation)}"
        followup.draft = window.report_window_closed(conversation, detail=detail)
        return FollowUpStatus.HELD, "Held: WhatsApp's 24-hour window has closed; a template draft is offered."
    if owners_words:
        messages = queue_outbound(conversation, followup.text, author=Author.OWNER, schedule=schedule)
        audit.record(
            actor=followup.created_by,
            action=AuditAction.MANUAL_REPLY,
            owner_id=conversation.owner_id,
            conversation=conversation,
            summary=f"Sent the follow-up #{followup.pk} you scheduled",
            after={"text": followup.text, "messages": [message.pk for message in messages]},
        )
        return FollowUpStatus.SENT, ""
    return _through_policy(followup, conversation, schedule=schedule)


def _owner_stepped_in(conversation: Conversation, *, since: datetime) -> bool:
    return AuditEntry.objects.filter(
        conversation=conversation,
        action__in=[AuditAction.TAKE_OVER, AuditAction.MANUAL_REPLY],
        created_at__gt=since,
    ).exists()


def _who_is_asking(conversation: Conversation) -> list[guards.Finding]:
    """A follow-up is automatic only where the owner's own data says who the company is."""
    findings = []
    if conversation.category_source not in (
        CategorySource.CONTACT,
        CategorySource.SENDER,
        CategorySource.KEYWORD,
    ):
        findings.append(
            guards.Finding(
                guard=senders.CATEGORY,
                effect=guards.HOLD,
                words=(),
                detail="the conversation's category is not established by your own data",
            )
        )
    if conversation.claims_to_be:
        findings.append(
            guards.Finding(
                guard=senders.UNVERIFIED_SENDER,
                effect=guards.HOLD,
                words=(conversation.claims_to_be,),
                detail=f"the sender claims to be {conversation.claims_to_be}, unverified",
            )
        )
    return findings


def _through_policy(followup: FollowUp, conversation: Conversation, *, schedule: bool) -> tuple[str, str]:
    """The assistant's follow-up: the trust checks and the owner's rules send it or hold it as a draft."""
    owner = owner_policy(conversation.owner_id)
    text = followup.text or follow_up_reply(conversation.owner.get_full_name())
    inbound = list(
        Message.objects.filter(conversation=conversation, direction=Direction.IN, kind__in=Kind.READABLE)
        .order_by("-id")
        .values_list("text", flat=True)[:INBOUND_CONTEXT]
    )
    rule = owner.rule_for(conversation.category)
    verdict = judge(
        text,
        confidence=followup.confidence,
        inbound_texts=inbound[::-1],
        facts=owner.facts,
        category=conversation.category,
        action=rule.action if rule else None,
        approval_mode=owner.settings.approval_mode,
        threshold=owner.settings.confidence_threshold,
        extra_findings=_who_is_asking(conversation),
    )
    decision = verdict.decision
    if decision.outcome == policy.DROP:
        if decision.escalate:
            escalate(conversation, reason=EscalationReason.RULE, detail="; ".join(decision.reasons))
        return FollowUpStatus.SKIPPED, "Skipped: " + "; ".join(decision.reasons)
    sends = decision.outcome == policy.SEND
    draft = Draft.objects.create(
        conversation=conversation,
        kind=DraftKind.FOLLOW_UP,
        status=DraftStatus.APPROVED if sends else DraftStatus.PENDING,
        text=verdict.text,
        disclosed=list(verdict.disclosed),
        category=conversation.category,
        confidence=followup.confidence,
        reason=f"Follow-up ({followup.get_source_display().lower()}): {followup.why}",
        engine="follow_up",
        guards=[finding.as_dict() for finding in verdict.findings],
        decision="; ".join(decision.reasons),
        answers_through=_newest_inbound(conversation.pk),
        decided_at=timezone.now() if sends else None,
    )
    followup.draft = draft
    if sends:
        audit.record_disclosure(draft, actor=None)
        queue_reply(draft, schedule=schedule)
        return FollowUpStatus.SENT, ""
    live.announce_held(conversation)
    owner_phone.draft_held(draft)  # to the owner's own number, like any held draft
    if decision.escalate:
        escalate(
            conversation,
            reason=EscalationReason.GUARD if verdict.findings else EscalationReason.LOW_CONFIDENCE,
            detail=f"A follow-up was held: {'; '.join(decision.reasons)}",
        )
    return FollowUpStatus.HELD, "Held for your approval: " + "; ".join(decision.reasons)

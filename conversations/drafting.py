"""The draft job: read what came in, ask the engine, apply guards and policy, record the outcome.

The engine is called outside any transaction (it may take seconds). Before and after it,
a short locked transaction checks the conversation's cursor (`handled_through`), so a
retried or duplicated job finds the turn already answered and does nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ai.base import AIReply, ConversationContext
from ai.engines import get_client
from conversations import audit, dashboard_events, jobs, live, owner_phone, policy, promises, window
from conversations.context import (
    Policyholder,
    engine_context,
    owner_policy,
    recent_messages,
    recent_outbound,
)
from conversations.escalation import escalate
from conversations.inbound import Kind
from conversations.models import (
    AuditAction,
    Conversation,
    Direction,
    Draft,
    DraftStatus,
    Escalation,
    EscalationReason,
    Message,
    OwnerSettings,
    RuleAction,
)
from conversations.providers import SendFailure, get_provider
from conversations.sending import queue_reply, send_pending
from conversations.services import withdraw_superseded_drafts
from conversations.trust import guards, loops, senders
from conversations.trust.verdict import Verdict, judge_turn

logger = logging.getLogger(__name__)

#: The owner is told at this failed attempt, or at the first failure once the contact has
#: waited ENGINE_NOTIFY_AFTER seconds (slow timeouts), so within a minute either way.
#: The waits between attempts are settings.ENGINE_RETRY_BACKOFF.
ENGINE_NOTIFY_ATTEMPT = 3
ENGINE_NOTIFY_AFTER = timedelta(seconds=30)


def _claim_turn(conversation_id: int) -> tuple[Conversation, list[Message]] | None:
    """Lock the conversation and return it with the unanswered inbound messages, if it is due."""
    with transaction.atomic(durable=True):
        conversation = (
            Conversation.objects.select_for_update()
            .select_related("owner", "contact", "account")
            .filter(pk=conversation_id)
            .first()
        )
        if conversation is None or conversation.reply_due_at is None:
            return None
        wait = (conversation.reply_due_at - timezone.now()).total_seconds()
        if wait > 0.05:
            jobs.schedule("conversations.tasks.draft_reply", conversation_id, delay=wait)
            return None
        unanswered = list(
            Message.objects.filter(
                conversation=conversation, direction=Direction.IN, id__gt=conversation.handled_through
            ).order_by("id")
        )
        # A message the contact deleted (revoked) before it was answered is not answered.
        readable = [m for m in unanswered if m.kind in Kind.READABLE and m.revoked_at is None]
        # A WhatsApp group is never answered by the assistant (conversations/identity.py).
        if conversation.bot_paused or conversation.contact.is_group or not readable:
            conversation.handled_through = max([conversation.handled_through, *(m.pk for m in unanswered)])
            conversation.reply_due_at = None
            conversation.save(update_fields=["handled_through", "reply_due_at", "updated_at"])
            return None
        return conversation, unanswered


def draft_reply(conversation_id: int) -> None:
    """Answer the unanswered inbound messages of one conversation with at most one reply."""
    turn = begin(conversation_id)
    if turn is None:
        return
    try:
        reply = get_client().generate(turn.context)
    except Exception as exc:
        engine_failed(turn, exc)
        return
    answer(turn, reply)


@dataclass(frozen=True)
class Turn:
    """A claimed turn waiting for the engine: what `answer` needs once the reply is in.

    Splitting the job here lets a worker keep many engine calls in flight at once
    (`conversations/draft_pool.py`) while every database write stays on the thread that drafts.
    """

    conversation: Conversation
    unanswered: list[Message]
    readable_texts: list[str]
    owner: Policyholder
    history: list[Message]
    known: senders.Category
    context: ConversationContext


def begin(conversation_id: int) -> Turn | None:
    """Claim the turn and build the engine's context; None when there is nothing to ask the engine.

    A turn the owner's rule already decides (ignore, escalate) is recorded here, without the engine.
    """
    claimed = _claim_turn(conversation_id)
    if claimed is None:
        return None
    conversation, unanswered = claimed
    readable_texts = [m.text for m in unanswered if m.kind in Kind.READABLE and m.revoked_at is None]
    owner = owner_policy(conversation.owner_id)
    if (
        owner.settings.pk is None
    ):  # an owner made without gatekeeper_setup: their first draft stores the defaults
        OwnerSettings.objects.get_or_create(owner_id=conversation.owner_id)
    history = recent_messages(conversation)

    known = senders.establish(conversation, owner, readable_texts)
    if known.rule and known.rule.action in (RuleAction.IGNORE, RuleAction.ESCALATE):
        decision = policy.decide(
            action=known.rule.action,
            approval_mode=owner.settings.approval_mode,
            threshold=owner.settings.confidence_threshold,
            confidence=1.0,
            has_text=False,
        )
        _conclude(conversation_id, unanswered, Outcome(known, "", None, None, decision))
        return None
    _mark_read(conversation, unanswered[-1])
    live.announce_typing(conversation)
    context = engine_context(conversation, owner, history, category=known.category, rule=known.rule)
    return Turn(conversation, unanswered, readable_texts, owner, history, known, context)


def engine_failed(turn: Turn, exc: Exception) -> None:
    """The engine did not answer this turn: retry later (see `_engine_failed`)."""
    _engine_failed(turn.conversation.pk, exc, waiting_since=turn.unanswered[0].created_at)


def answer(turn: Turn, reply: AIReply) -> None:
    """Judge the engine's reply for this turn, record the decision and send what may go out."""
    conversation, owner, known = turn.conversation, turn.owner, turn.known
    chosen, claim, findings = senders.who_is_asking(conversation, owner, known, reply.category)
    findings += _loop_findings(conversation, turn.history, turn.unanswered)
    # A job that ran late (engine retries, a queue outage) may find WhatsApp's window closed.
    findings += window.closed_findings(conversation)
    verdict = judge_turn(
        reply, owner=owner, applied=chosen, inbound_texts=turn.readable_texts, findings=findings
    )
    _conclude(conversation.pk, turn.unanswered, Outcome(chosen, claim, reply, verdict, verdict.decision))


def _conclude(conversation_id: int, unanswered: list[Message], outcome: Outcome) -> None:
    if _record_outcome(conversation_id, unanswered[-1].pk, outcome, unanswered[-1]):
        # Deliver in this job rather than through another trip round the queue; should this
        # process die first, the sweeper finds the queued message and sends it.
        send_pending(conversation_id)


def _loop_findings(conversation: Conversation, history: list[Message], unanswered: list[Message]):
    """The loop breaker's finding; told once per loop, then only held until the owner steps in."""
    outbound = recent_outbound(conversation, limit=loops.AUTOMATIC_REPLIES_LIMIT)
    findings = loops.loop_findings(history, unanswered, outbound)
    if not findings:
        return []
    owner_spoke = max((m.created_at for m in outbound if not loops.automatic(m)), default=None)
    told = Escalation.objects.filter(conversation=conversation, reason=EscalationReason.LOOP)
    if owner_spoke is not None:
        told = told.filter(created_at__gt=owner_spoke)
    if told.exists():
        return [replace(finding, effect=guards.HOLD) for finding in findings]
    return findings


def _mark_read(conversation: Conversation, message: Message) -> None:
    """Read receipts are a courtesy: a failure is logged, never retried."""
    if not message.provider_message_id:
        return
    try:
        get_provider(conversation.account.provider).mark_read(
            account_address=conversation.account.address, provider_message_id=message.provider_message_id
        )
    except SendFailure as exc:
        logger.info("could not mark message %s read: %s", message.pk, exc)


def _engine_failed(conversation_id: int, exc: Exception, *, waiting_since: datetime) -> None:
    """Retry with backoff; tell the owner after a few attempts; keep the turn pending, never drop it."""
    with transaction.atomic(durable=True):
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        conversation.draft_attempts += 1
        attempt = conversation.draft_attempts
        backoff = settings.ENGINE_RETRY_BACKOFF
        give_up = attempt > len(backoff)
        delay = 0 if give_up else backoff[attempt - 1]
        conversation.reply_due_at = None if give_up else timezone.now() + timedelta(seconds=delay)
        conversation.save(update_fields=["draft_attempts", "reply_due_at", "updated_at"])
        logger.warning("engine failed on conversation %s (attempt %s): %s", conversation_id, attempt, exc)
        waited_long = timezone.now() - waiting_since >= ENGINE_NOTIFY_AFTER
        # Told once early (a repeat within escalation.REPEAT_WINDOW is dropped), and when retries run out.
        if attempt == ENGINE_NOTIFY_ATTEMPT or (waited_long and attempt < ENGINE_NOTIFY_ATTEMPT) or give_up:
            escalate(
                conversation,
                reason=EscalationReason.ENGINE_FAILING,
                detail=f"The AI engine failed {attempt} times ({exc}). "
                + ("Gatekeeper stopped retrying." if give_up else "Gatekeeper keeps retrying."),
            )
        if not give_up:
            jobs.schedule("conversations.tasks.draft_reply", conversation_id, delay=delay)


@dataclass(frozen=True)
class Outcome:
    """What one draft job decided: the category it applied, the sender's claim, the reply and verdict."""

    category: senders.Category
    claim: str
    reply: AIReply | None
    verdict: Verdict | None
    decision: policy.Decision

    @property
    def findings(self) -> list[guards.Finding]:
        """What the checks found in the reply (none when no reply was asked for)."""
        return list(self.verdict.findings) if self.verdict else []

    @property
    def replied(self) -> bool:
        """Whether the decision keeps a reply (sent or held), rather than dropping the turn."""
        return self.decision.outcome != policy.DROP


def _record_outcome(conversation_id: int, through: int, outcome: Outcome, answering: Message) -> bool:
    """Store the decision under the conversation's lock; true when a reply was queued to send now.

    The steps run in the order of the flow (docs/architecture.md, invariants 5 and 6), all in one
    transaction, so a turn is recorded whole or not at all.
    """
    with transaction.atomic(durable=True):
        conversation = _lock_conversation(conversation_id)
        if not _turn_still_due(conversation, through):
            return False
        _advance_cursor(conversation, through, outcome)
        _record_no_reply(conversation, outcome)
        draft = _create_draft(conversation, through, outcome, answering)
        queued = draft is not None and _send_or_hold(draft, outcome.decision)
        _note_promises(conversation, through, outcome, answering)
        window.settle_offers(conversation)  # the contact wrote again: no template needed
        _escalate(conversation, outcome)
        window.report_held_reply(
            conversation,
            outcome.findings,
            replied=outcome.replied,
            detail="; ".join(outcome.decision.reasons),
        )
    return queued


def _lock_conversation(conversation_id: int) -> Conversation:
    """The conversation, row-locked until the caller's transaction ends (the draft job's and the sender's lock)."""
    return Conversation.objects.select_for_update().select_related("contact").get(pk=conversation_id)


def _turn_still_due(conversation: Conversation, through: int) -> bool:
    """Whether this job's answer still belongs: false when it was answered already, taken over, or overtaken.

    Another run of this job may have answered the turn; the owner may have taken over; or more came in
    meanwhile, and the job already scheduled for it answers everything together.
    """
    if conversation.handled_through >= through or conversation.bot_paused:
        return False
    newer = Message.objects.filter(conversation=conversation, direction=Direction.IN, id__gt=through)
    return not newer.filter(kind__in=Kind.READABLE).exists()


def _advance_cursor(conversation: Conversation, through: int, outcome: Outcome) -> None:
    """Claim the turn (`handled_through`) and keep the category, rule and claim the job applied."""
    conversation.handled_through = through
    conversation.reply_due_at = None
    conversation.draft_attempts = 0
    conversation.category = outcome.category.category or conversation.category
    conversation.category_source = outcome.category.source
    conversation.claims_to_be = outcome.claim
    conversation.rule = outcome.category.rule
    conversation.save(
        update_fields=[
            "handled_through",
            "reply_due_at",
            "draft_attempts",
            "category",
            "category_source",
            "claims_to_be",
            "rule",
            "updated_at",
        ]
    )
    dashboard_events.changed(conversation)


def _record_no_reply(conversation: Conversation, outcome: Outcome) -> None:
    """An empty reply the engine chose on purpose is a decision for the audit trail, not a draft."""
    reply = outcome.reply
    if reply is not None and not outcome.replied and not reply.reply.strip():
        audit.record(
            actor=None,
            action=AuditAction.NO_REPLY,
            owner_id=conversation.owner_id,
            conversation=conversation,
            summary=f"The assistant decided not to reply: {reply.reason}",
        )


def _create_draft(
    conversation: Conversation, through: int, outcome: Outcome, answering: Message
) -> Draft | None:
    """The draft of a kept reply: approved when the verdict sends it, else pending; None when nothing is kept."""
    reply, verdict, decision = outcome.reply, outcome.verdict, outcome.decision
    if reply is None or verdict is None or not outcome.replied:
        return None
    sends = decision.outcome == policy.SEND
    return Draft.objects.create(
        conversation=conversation,
        status=DraftStatus.APPROVED if sends else DraftStatus.PENDING,
        text=verdict.text,
        disclosed=list(verdict.disclosed),
        category=reply.category,
        confidence=reply.confidence,
        reason=reply.reason,
        engine=get_client().alias,
        guards=[finding.as_dict() for finding in outcome.findings],
        decision="; ".join(decision.reasons),
        reply_to=answering,
        answers_through=through,
        decided_at=timezone.now() if sends else None,
    )


def _send_or_hold(draft: Draft, decision: policy.Decision) -> bool:
    """Queue an approved draft (true), or hold it: the contact is told it waits, the owner gets the draft."""
    if decision.outcome == policy.SEND:
        audit.record_disclosure(draft, actor=None)
        withdraw_superseded_drafts(draft, by=None)
        queue_reply(draft, schedule=False)
        return True
    live.announce_held(draft.conversation)
    owner_phone.draft_held(draft)  # to the owner's own number, with the draft's number
    return False


def _note_promises(conversation: Conversation, through: int, outcome: Outcome, answering: Message) -> None:
    """What the company promised, and the engine's follow-up (issue 15)."""
    if outcome.reply is not None:
        promises.note_engine_reply(
            conversation, outcome.reply, answering=answering, through=through, replied=outcome.replied
        )


def _escalate(conversation: Conversation, outcome: Outcome) -> None:
    """Tell the owner when the decision says so; a closed window reports itself (`window.report_held_reply`)."""
    reason = _escalation_reason(outcome.category.rule, outcome.findings)
    if outcome.decision.escalate and reason != EscalationReason.WINDOW_CLOSED:
        escalate(conversation, reason=reason, detail="; ".join(outcome.decision.reasons))


#: The escalation reason each finding that needs the owner stands for.
_REASONS = {
    loops.LOOP: EscalationReason.LOOP,
    senders.UNVERIFIED_SENDER: EscalationReason.UNVERIFIED_SENDER,
    senders.CATEGORY: EscalationReason.CATEGORY,
}


def _escalation_reason(rule, findings: list[guards.Finding]) -> EscalationReason:
    if rule is not None and rule.action == RuleAction.ESCALATE:
        return EscalationReason.RULE
    needing = [f for f in window.other_findings(findings) if f.effect == guards.ESCALATE]
    if needing:
        return _REASONS.get(needing[0].guard, EscalationReason.GUARD)
    if window.closed_in(findings):
        return EscalationReason.WINDOW_CLOSED
    return EscalationReason.LOW_CONFIDENCE

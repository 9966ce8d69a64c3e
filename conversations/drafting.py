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
    CategorySource,
    Conversation,
    Direction,
    Draft,
    DraftStatus,
    Escalation,
    EscalationReason,
    Message,
    RuleAction,
)
from conversations.providers import SendFailure, get_provider
from conversations.sending import queue_reply, send_pending
from conversations.services import withdraw_superseded_drafts
from conversations.trust import guards, loops, senders
from conversations.trust.verdict import Verdict, judge

logger = logging.getLogger(__name__)

#: The owner is told at this failed attempt, or at the first failure once the contact has
#: waited ENGINE_NOTIFY_AFTER seconds (slow timeouts), so within a minute either way.
#: The waits between attempts are settings.ENGINE_RETRY_BACKOFF.
ENGINE_NOTIFY_ATTEMPT = 3
ENGINE_NOTIFY_AFTER = timedelta(seconds=30)


def _claim_turn(conversation_id: int) -> tuple[Conversation, list[Message]] | None:
    """Lock the conversation and return it with the unanswered inbound messages, if it is due."""
    with transaction.atomic():
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
    chosen, findings = senders.reconcile(known, reply.category, owner)
    claim = _claim(conversation, owner, known)
    if claim:
        findings += senders.unverified_findings(
            conversation.contact.name, conversation.contact.address, claim
        )
    findings += senders.changed_identity_findings(conversation.contact)
    findings += _loop_findings(conversation, turn.history, turn.unanswered)
    # A job that ran late (engine retries, a queue outage) may find WhatsApp's window closed.
    findings += window.closed_findings(conversation)
    verdict = judge(
        reply.reply,
        reason=reply.reason,
        confidence=reply.confidence,
        inbound_texts=turn.readable_texts,
        facts=owner.facts,
        category=chosen.category,
        action=chosen.rule.action if chosen.rule else None,
        approval_mode=owner.settings.approval_mode,
        threshold=owner.settings.confidence_threshold,
        extra_findings=findings,
    )
    _conclude(conversation.pk, turn.unanswered, Outcome(chosen, claim, reply, verdict, verdict.decision))


def _conclude(conversation_id: int, unanswered: list[Message], outcome: Outcome) -> None:
    if _record_outcome(conversation_id, unanswered[-1].pk, outcome, unanswered[-1]):
        # Deliver in this job rather than through another trip round the queue; should this
        # process die first, the sweeper finds the queued message and sends it.
        send_pending(conversation_id)


def _claim(conversation: Conversation, owner: Policyholder, known: senders.Category) -> str:
    """The known company an unknown sender's display name resembles ("" when the sender is known)."""
    contact = conversation.contact
    if known.source in (CategorySource.CONTACT, CategorySource.SENDER) or not contact.name.strip():
        return ""
    names = senders.known_names(owner, owner_id=conversation.owner_id, excluding_contact=contact.pk)
    return senders.claimed_company(contact.name, names) or ""


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
    with transaction.atomic():
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


def _record_outcome(conversation_id: int, through: int, outcome: Outcome, answering: Message) -> bool:
    """Store the decision under the conversation's lock; true when a reply was queued to send now."""
    reply, verdict, decision = outcome.reply, outcome.verdict, outcome.decision
    findings = list(verdict.findings) if verdict else []
    rule = outcome.category.rule
    queued = False
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update().select_related("contact").get(pk=conversation_id)
        )
        if conversation.handled_through >= through:
            return False  # another run of this job answered the turn already
        newer = Message.objects.filter(conversation=conversation, direction=Direction.IN, id__gt=through)
        if conversation.bot_paused or newer.filter(kind__in=Kind.READABLE).exists():
            return False  # the owner took over, or more came in: the job already scheduled answers it all
        conversation.handled_through = through
        conversation.reply_due_at = None
        conversation.draft_attempts = 0
        conversation.category = outcome.category.category or conversation.category
        conversation.category_source = outcome.category.source
        conversation.claims_to_be = outcome.claim
        conversation.rule = rule
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
        if reply is not None and decision.outcome == policy.DROP and not reply.reply.strip():
            audit.record(
                actor=None,
                action=AuditAction.NO_REPLY,
                owner_id=conversation.owner_id,
                conversation=conversation,
                summary=f"The assistant decided not to reply: {reply.reason}",
            )
        if reply is not None and decision.outcome != policy.DROP:
            draft = Draft.objects.create(
                conversation=conversation,
                status=DraftStatus.APPROVED if decision.outcome == policy.SEND else DraftStatus.PENDING,
                text=verdict.text,
                disclosed=list(verdict.disclosed),
                category=reply.category,
                confidence=reply.confidence,
                reason=reply.reason,
                engine=get_client().alias,
                guards=[finding.as_dict() for finding in findings],
                decision="; ".join(decision.reasons),
                reply_to=answering,
                answers_through=through,
                decided_at=timezone.now() if decision.outcome == policy.SEND else None,
            )
            if decision.outcome == policy.SEND:
                audit.record_disclosure(draft, actor=None)
                withdraw_superseded_drafts(draft, by=None)
                queue_reply(draft, schedule=False)
                queued = True
            else:
                live.announce_held(conversation)
                owner_phone.draft_held(draft)  # to the owner's own number, with the draft's number
        if reply is not None:  # what the company promised, and the engine's follow-up (issue 15)
            promises.note_engine_reply(
                conversation,
                reply,
                answering=answering,
                through=through,
                replied=decision.outcome != policy.DROP,
            )
        if window.applies_to(conversation.account) and window.is_open(conversation):
            window.withdraw_offers(conversation)  # the contact wrote again: no template needed
        reason = _escalation_reason(rule, findings)
        if decision.escalate and reason != EscalationReason.WINDOW_CLOSED:
            escalate(conversation, reason=reason, detail="; ".join(decision.reasons))
        if decision.outcome != policy.DROP and any(f.guard == window.GUARD for f in findings):
            window.report_window_closed(conversation, detail="; ".join(decision.reasons))
    return queued


#: The escalation reason each finding that needs the owner stands for.
_REASONS = {
    loops.LOOP: EscalationReason.LOOP,
    senders.UNVERIFIED_SENDER: EscalationReason.UNVERIFIED_SENDER,
    senders.CATEGORY: EscalationReason.CATEGORY,
}


def _escalation_reason(rule, findings: list[guards.Finding]) -> EscalationReason:
    if rule is not None and rule.action == RuleAction.ESCALATE:
        return EscalationReason.RULE
    needing = [f for f in findings if f.effect == guards.ESCALATE and f.guard != window.GUARD]
    if needing:
        return _REASONS.get(needing[0].guard, EscalationReason.GUARD)
    if any(f.guard == window.GUARD for f in findings):
        return EscalationReason.WINDOW_CLOSED
    return EscalationReason.LOW_CONFIDENCE

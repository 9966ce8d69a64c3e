"""The steps the draft job takes when it records a turn (`drafting._record_outcome`), one at a time.

Each step runs here under the conversation's row lock, as `_record_outcome` runs it
(docs/architecture.md, invariants 5 and 6); the whole job is exercised in test_pipeline.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from ai.base import AIReply
from ai.promises import PromiseSeen
from conversations import drafting, jobs, policy
from conversations.inbound import Kind
from conversations.models import (
    AuditAction,
    AuditEntry,
    Author,
    CategorySource,
    Conversation,
    Direction,
    Draft,
    DraftStatus,
    Escalation,
    EscalationReason,
    Message,
    MessageStatus,
    OwnerSettings,
    Promise,
    Rule,
    RuleAction,
    User,
)
from conversations.trust import guards, senders
from conversations.trust.verdict import Verdict

pytestmark = pytest.mark.django_db

LOW_CONFIDENCE = "confidence 0.40 is below your threshold 0.80"


def decision(
    outcome: str, *, escalate: bool = False, reasons: tuple[str, ...] = ("because",)
) -> policy.Decision:
    return policy.Decision(outcome=outcome, escalate=escalate, reasons=reasons)


def finding(guard: str, effect: str = guards.ESCALATE) -> guards.Finding:
    return guards.Finding(guard=guard, effect=effect, words=(), detail=f"{guard} found")


def outcome(
    chosen: policy.Decision,
    *,
    text: str = "No, thank you.",
    findings: tuple[guards.Finding, ...] = (),
    category: senders.Category = senders.NOT_ESTABLISHED,
    claim: str = "",
    reason: str = "The provider offers an upgrade.",
    promises: tuple[PromiseSeen, ...] = (),
) -> drafting.Outcome:
    reply = AIReply(
        reply=text, category="cellphone_provider", confidence=0.9, reason=reason, promises=promises
    )
    verdict = Verdict(text=text, findings=findings, decision=chosen, disclosed=())
    return drafting.Outcome(category, claim, reply, verdict, chosen)


@pytest.fixture
def conversation(owner_a: User, make_conversation: Callable[..., Conversation]) -> Conversation:
    """Owner A's WhatsApp conversation, its one inbound message unanswered and a reply due."""
    conversation = make_conversation(owner_a)
    conversation.reply_due_at = timezone.now()
    conversation.draft_attempts = 2
    conversation.save(update_fields=["reply_due_at", "draft_attempts"])
    return conversation


@pytest.fixture
def answering(conversation: Conversation) -> Message:
    return conversation.messages.get(direction=Direction.IN)


def inbound(conversation: Conversation, kind: str = Kind.TEXT) -> Message:
    return Message.objects.create(
        conversation=conversation,
        account=conversation.account,
        direction=Direction.IN,
        author=Author.CONTACT,
        kind=kind,
        text="And another thing" if kind == Kind.TEXT else "",
        status=MessageStatus.RECEIVED,
    )


def locked(conversation: Conversation) -> Conversation:
    """The step functions run inside `_record_outcome`'s transaction; tests call them inside one too."""
    return drafting._lock_conversation(conversation.pk)


# -- is the turn still this job's? --------------------------------------------------------------


def test_an_unanswered_turn_is_still_due(conversation, answering):
    with transaction.atomic():
        assert drafting._turn_still_due(locked(conversation), answering.pk)


def test_a_turn_another_run_answered_is_not_due(conversation, answering):
    Conversation.objects.filter(pk=conversation.pk).update(handled_through=answering.pk)
    with transaction.atomic():
        assert not drafting._turn_still_due(locked(conversation), answering.pk)


def test_a_turn_the_owner_took_over_is_not_due(conversation, answering):
    Conversation.objects.filter(pk=conversation.pk).update(bot_paused=True)
    with transaction.atomic():
        assert not drafting._turn_still_due(locked(conversation), answering.pk)


def test_a_turn_overtaken_by_a_newer_message_is_left_to_the_next_job(conversation, answering):
    inbound(conversation)
    with transaction.atomic():
        assert not drafting._turn_still_due(locked(conversation), answering.pk)


def test_a_newer_reaction_does_not_overtake_the_turn(conversation, answering):
    inbound(conversation, Kind.REACTION)
    with transaction.atomic():
        assert drafting._turn_still_due(locked(conversation), answering.pk)


# -- the cursor -----------------------------------------------------------------------------------


def test_advancing_the_cursor_claims_the_turn_and_keeps_what_the_job_applied(
    owner_a, conversation, answering
):
    rule = Rule.objects.create(owner=owner_a, category="bank", action=RuleAction.DRAFT)
    applied = senders.Category("bank", rule, CategorySource.KEYWORD)
    with transaction.atomic():
        drafting._advance_cursor(
            locked(conversation), answering.pk, outcome(decision(policy.HOLD), category=applied, claim="Acme")
        )
    conversation.refresh_from_db()
    assert (conversation.handled_through, conversation.reply_due_at, conversation.draft_attempts) == (
        answering.pk,
        None,
        0,
    )
    assert (conversation.category, conversation.category_source, conversation.rule_id) == (
        "bank",
        CategorySource.KEYWORD,
        rule.pk,
    )
    assert conversation.claims_to_be == "Acme"


def test_advancing_the_cursor_without_a_category_keeps_the_conversations(conversation, answering):
    with transaction.atomic():
        drafting._advance_cursor(locked(conversation), answering.pk, outcome(decision(policy.HOLD)))
    conversation.refresh_from_db()
    assert conversation.category == "cellphone_provider"
    assert conversation.category_source == CategorySource.NONE


# -- no reply -------------------------------------------------------------------------------------


def test_an_empty_reply_the_engine_chose_is_audited_as_no_reply(conversation):
    declined = outcome(decision(policy.DROP), text="", reason="An automated notice.")
    with transaction.atomic():
        drafting._record_no_reply(locked(conversation), declined)
    entry = AuditEntry.objects.get(action=AuditAction.NO_REPLY)
    assert "An automated notice." in entry.summary


@pytest.mark.parametrize("chosen", [decision(policy.DROP), decision(policy.HOLD)])
def test_a_reply_with_text_or_a_kept_reply_is_no_no_reply(conversation, chosen):
    text = "" if chosen.outcome == policy.HOLD else "Thanks"
    with transaction.atomic():
        drafting._record_no_reply(locked(conversation), outcome(chosen, text=text))
    assert not AuditEntry.objects.filter(action=AuditAction.NO_REPLY).exists()


# -- the draft ------------------------------------------------------------------------------------


def test_a_reply_the_verdict_sends_becomes_an_approved_decided_draft(conversation, answering):
    with transaction.atomic():
        draft = drafting._create_draft(
            locked(conversation), answering.pk, outcome(decision(policy.SEND)), answering
        )
    assert (draft.status, draft.text, draft.reply_to_id, draft.answers_through) == (
        DraftStatus.APPROVED,
        "No, thank you.",
        answering.pk,
        answering.pk,
    )
    assert draft.decided_at is not None


def test_a_held_reply_becomes_a_pending_draft_with_its_findings(conversation, answering):
    held = outcome(
        decision(policy.HOLD, reasons=(LOW_CONFIDENCE,)), findings=(finding("money", guards.HOLD),)
    )
    with transaction.atomic():
        draft = drafting._create_draft(locked(conversation), answering.pk, held, answering)
    assert (draft.status, draft.decided_at, draft.decision) == (DraftStatus.PENDING, None, LOW_CONFIDENCE)
    assert [g["guard"] for g in draft.guards] == ["money"]


def test_a_dropped_turn_has_no_draft(conversation, answering):
    with transaction.atomic():
        assert (
            drafting._create_draft(
                locked(conversation), answering.pk, outcome(decision(policy.DROP)), answering
            )
            is None
        )
    assert not Draft.objects.exists()


# -- send or hold ---------------------------------------------------------------------------------


def test_an_approved_draft_is_queued_to_send_now(conversation, answering):
    chosen = decision(policy.SEND)
    with transaction.atomic():
        draft = drafting._create_draft(locked(conversation), answering.pk, outcome(chosen), answering)
        assert drafting._send_or_hold(draft, chosen)
    (queued,) = Message.objects.filter(direction=Direction.OUT)
    assert (queued.status, queued.draft_id, queued.text) == (MessageStatus.QUEUED, draft.pk, "No, thank you.")


def test_a_superseded_pending_draft_is_withdrawn_when_a_reply_goes_out(conversation, make_draft):
    older = make_draft(conversation)  # the owner never decided on the earlier turn's draft
    newer = inbound(conversation)
    chosen = decision(policy.SEND)
    with transaction.atomic():
        draft = drafting._create_draft(locked(conversation), newer.pk, outcome(chosen), newer)
        drafting._send_or_hold(draft, chosen)
    older.refresh_from_db()
    assert older.status == DraftStatus.WITHDRAWN


def test_a_held_draft_is_not_queued_and_the_owners_phone_is_told(
    owner_a, conversation, answering, django_capture_on_commit_callbacks
):
    OwnerSettings.objects.update_or_create(owner=owner_a, defaults={"notify_whatsapp": "+447700900123"})
    chosen = decision(policy.HOLD)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        draft = drafting._create_draft(locked(conversation), answering.pk, outcome(chosen), answering)
        assert not drafting._send_or_hold(draft, chosen)
    assert not Message.objects.filter(direction=Direction.OUT).exists()
    assert [(job.path, job.args) for job in jobs.recorded] == [
        ("conversations.tasks.notify_owner_draft", (draft.pk,))
    ]


# -- promises -------------------------------------------------------------------------------------


def test_what_the_company_promised_is_kept_with_the_message_it_came_from(conversation, answering):
    due = datetime(2030, 1, 2, 9, tzinfo=UTC)
    promised = outcome(decision(policy.HOLD), promises=(PromiseSeen(what="send the refund", due_at=due),))
    with transaction.atomic():
        drafting._note_promises(locked(conversation), answering.pk, promised, answering)
    promise = Promise.objects.get()
    assert (promise.what, promise.due_at, promise.message_id) == ("send the refund", due, answering.pk)


# -- escalation -----------------------------------------------------------------------------------


def test_an_escalating_finding_escalates_with_its_reason(conversation):
    chosen = decision(policy.HOLD, escalate=True, reasons=("a loop",))
    with transaction.atomic():
        drafting._escalate(locked(conversation), outcome(chosen, findings=(finding("loop"),)))
    escalation = Escalation.objects.get()
    assert (escalation.reason, escalation.detail) == (EscalationReason.LOOP, "a loop")


def test_the_rule_saying_escalate_is_the_reason(owner_a, conversation):
    rule = Rule.objects.create(owner=owner_a, category="bank", action=RuleAction.ESCALATE)
    chosen = decision(policy.DROP, escalate=True)
    with transaction.atomic():
        drafting._escalate(
            locked(conversation),
            outcome(chosen, category=senders.Category("bank", rule, CategorySource.KEYWORD)),
        )
    assert Escalation.objects.get().reason == EscalationReason.RULE


def test_a_reply_held_only_by_the_closed_window_is_left_to_the_window(conversation):
    chosen = decision(policy.HOLD, escalate=True)
    with transaction.atomic():
        drafting._escalate(locked(conversation), outcome(chosen, findings=(finding("window_closed"),)))
    assert not Escalation.objects.exists()


def test_another_finding_beside_the_closed_window_escalates_for_itself(conversation):
    chosen = decision(policy.HOLD, escalate=True)
    findings = (finding("window_closed"), finding("identifier"))
    with transaction.atomic():
        drafting._escalate(locked(conversation), outcome(chosen, findings=findings))
    assert Escalation.objects.get().reason == EscalationReason.GUARD


def test_a_decision_that_does_not_escalate_tells_nobody(conversation):
    with transaction.atomic():
        drafting._escalate(locked(conversation), outcome(decision(policy.HOLD), findings=(finding("loop"),)))
    assert not Escalation.objects.exists()


# -- the whole record -----------------------------------------------------------------------------


def test_recording_a_turn_twice_drafts_once(conversation, answering):
    recorded = outcome(decision(policy.HOLD))
    assert not drafting._record_outcome(conversation.pk, answering.pk, recorded, answering)
    assert not drafting._record_outcome(conversation.pk, answering.pk, recorded, answering)
    assert Draft.objects.count() == 1


def test_recording_a_sent_reply_reports_it_queued(conversation, answering):
    assert drafting._record_outcome(conversation.pk, answering.pk, outcome(decision(policy.SEND)), answering)
    assert Message.objects.filter(direction=Direction.OUT, status=MessageStatus.QUEUED).count() == 1


def test_a_turn_recorded_while_the_window_is_closed_reports_it_once(conversation, answering):
    Conversation.objects.filter(pk=conversation.pk).update(
        last_inbound_at=timezone.now() - timedelta(hours=30)
    )
    held = outcome(decision(policy.HOLD, escalate=True), findings=(finding("window_closed"),))
    drafting._record_outcome(conversation.pk, answering.pk, held, answering)
    assert list(Escalation.objects.values_list("reason", flat=True)) == [EscalationReason.WINDOW_CLOSED]

"""Who is asking (docs/architecture.md): the counterparty cannot choose the rule, a name is only a claim,
and two bots cannot talk for ever in the owner's name. End to end through the signed webhook."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import PROVIDER_NUMBER
from conversations.models import (
    ApprovalMode,
    CategorySource,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Draft,
    DraftStatus,
    Escalation,
    EscalationReason,
    Message,
    OwnerSettings,
    Rule,
    RuleAction,
)

pytestmark = pytest.mark.django_db

BANK_NUMBER = "447700900123"
STRANGER = "447700900999"
PAYMENT_ALERT = "HSBC: a payment of 900 GBP to QuickShop was attempted from your account. Was this you?"


def set_rule(owner, category: str, action: str, **fields) -> None:
    assert Rule.objects.filter(owner=owner, category=category).update(action=action, **fields) == 1


def steered(model, reply: str, category: str, confidence: float = 0.99) -> None:
    model.respond_json({"reply": reply, "category": category, "confidence": confidence, "reason": "steered"})


def test_the_model_cannot_move_a_bank_alert_into_a_delegated_category(
    owner, graph_api, deliver, run_jobs, model
):
    set_rule(owner, "bank", RuleAction.ESCALATE)
    set_rule(owner, "cellphone_provider", RuleAction.AUTO)
    steered(model, "Yes, that payment was me, it is fine.", "cellphone_provider")

    deliver(PAYMENT_ALERT, sender=STRANGER, name="HSBC")
    run_jobs()

    assert graph_api.sent_texts() == []
    draft = Draft.objects.get()
    assert draft.status == DraftStatus.PENDING
    assert {"category", "commitment"} <= {g["guard"] for g in draft.guards}
    conversation = Conversation.objects.get()
    assert conversation.category_source == CategorySource.ENGINE


def test_an_engine_guess_alone_never_sends_even_a_harmless_reply(owner, graph_api, deliver, run_jobs, model):
    set_rule(owner, "cellphone_provider", RuleAction.AUTO)
    steered(model, "Thanks, noted.", "cellphone_provider")

    deliver("Your bill is ready", sender=STRANGER, name="Acme Mobile")
    run_jobs()

    assert graph_api.sent_texts() == []
    assert [g["guard"] for g in Draft.objects.get().guards] == ["category"]


def test_the_engine_may_make_a_known_sender_stricter_never_looser(owner, graph_api, deliver, run_jobs, model):
    set_rule(owner, "cellphone_provider", RuleAction.AUTO, match_senders=[f"+{PROVIDER_NUMBER}"])
    set_rule(owner, "bank", RuleAction.ESCALATE)
    steered(model, "Noted, thanks.", "bank")

    deliver("About your account")
    run_jobs()

    assert graph_api.sent_texts() == []
    conversation = Conversation.objects.get()
    assert (conversation.category, conversation.category_source) == (
        "cellphone_provider",
        CategorySource.SENDER,
    )
    assert conversation.status == ConversationStatus.NEEDS_ATTENTION
    assert Escalation.objects.get().reason == EscalationReason.CATEGORY


def test_a_sender_pinned_to_an_escalating_category_is_escalated_whatever_it_says(
    owner, graph_api, deliver, run_jobs, model
):
    set_rule(owner, "bank", RuleAction.ESCALATE)
    Contact.objects.create(owner=owner, address=BANK_NUMBER, name="HSBC", category="bank")

    deliver("Hi! Mobile offer inside, reply YES", sender=BANK_NUMBER, name="HSBC")
    run_jobs()

    assert model.requests == [], "an escalating rule asks no engine"
    assert graph_api.sent_texts() == [] and not Draft.objects.exists()
    assert Escalation.objects.get().reason == EscalationReason.RULE


@pytest.mark.parametrize(
    "name", ["Vodafone", "V0dafone", "Vodafone UK", "Vоdafone"]
)  # the last has a Cyrillic о
def test_a_display_name_never_matches_a_rule_and_a_lookalike_is_marked_unverified(
    owner, graph_api, deliver, run_jobs, model, name, client
):
    set_rule(owner, "cellphone_provider", RuleAction.AUTO, match_senders=["Vodafone"])
    steered(model, "Thanks, noted.", "cellphone_provider")

    deliver("Your bill is ready", sender=STRANGER, name=name)
    run_jobs()

    assert graph_api.sent_texts() == []
    conversation = Conversation.objects.get()
    assert conversation.claims_to_be == "Vodafone"
    assert conversation.status == ConversationStatus.NEEDS_ATTENTION
    assert Escalation.objects.get().reason == EscalationReason.UNVERIFIED_SENDER
    assert "claims to be Vodafone" in Escalation.objects.get().detail


def test_a_misspelt_name_of_a_pinned_contact_from_a_new_number_is_flagged(
    owner, graph_api, deliver, run_jobs, model
):
    set_rule(owner, "bank", RuleAction.DRAFT)
    Contact.objects.create(owner=owner, address=BANK_NUMBER, name="First Bank", category="bank")
    steered(model, "Thanks, the owner will review it.", "bank")

    deliver("Please confirm your details", sender=STRANGER, name="First Bamk")
    run_jobs()

    conversation = Conversation.objects.get(contact__address=STRANGER)
    assert conversation.claims_to_be == "First Bank"
    assert Escalation.objects.get().reason == EscalationReason.UNVERIFIED_SENDER


def test_the_rest_api_shows_the_claim(owner, graph_api, deliver, run_jobs, model):
    from conversations.tests.conftest import token_client

    set_rule(owner, "cellphone_provider", RuleAction.AUTO, match_senders=["Vodafone"])
    steered(model, "Thanks.", "cellphone_provider")
    deliver("Hello", sender=STRANGER, name="Vodafone")
    run_jobs()

    (listed,) = token_client(owner).get("/api/conversations/").json()["results"]
    assert listed["claims_to_be"] == "Vodafone" and listed["category_source"] == "engine"


def test_the_known_number_itself_is_answered(owner, graph_api, deliver, run_jobs, model):
    set_rule(owner, "cellphone_provider", RuleAction.AUTO, match_senders=["+1 555 000 1111", "Acme Mobile"])
    steered(model, "Thanks, noted.", "cellphone_provider")

    deliver("Your bill is ready", name="Acme Mobile")
    run_jobs()

    assert [s.text for s in graph_api.sent_texts()] == ["Thanks, noted."]
    assert Conversation.objects.get().claims_to_be == ""


def _automated(owner, deliver, run_jobs, texts, *, gap=timedelta(minutes=2)):
    """The company's bot writes each text after our last reply went out `gap` ago."""
    for text in texts:
        Message.objects.filter(direction=Direction.OUT).update(sent_at=timezone.now() - gap)
        deliver(text)
        run_jobs()


def test_a_bot_loop_stops_after_three_automatic_replies_and_the_owner_is_told_once(
    owner, graph_api, deliver, run_jobs, script
):
    set_rule(owner, "cellphone_provider", RuleAction.AUTO, match_senders=[f"+{PROVIDER_NUMBER}"])
    OwnerSettings.objects.filter(owner=owner).update(approval_mode=ApprovalMode.NEVER)
    script({"reply": "Thanks, noted.", "category": "cellphone_provider", "confidence": 0.99})

    _automated(owner, deliver, run_jobs, [f"Automated notice {word}" for word in "abcdefghijklmnopqrstuvwxy"])

    assert len(graph_api.sent_texts()) == 3
    assert Escalation.objects.filter(reason=EscalationReason.LOOP).count() == 1
    assert Draft.objects.filter(status=DraftStatus.PENDING).count() == 22


def test_an_owner_approval_resets_the_loop_breaker(
    owner, graph_api, deliver, run_jobs, script, django_capture_on_commit_callbacks
):
    from conversations.services import draft_approve

    set_rule(owner, "cellphone_provider", RuleAction.AUTO, match_senders=[f"+{PROVIDER_NUMBER}"])
    script({"reply": "Thanks, noted.", "category": "cellphone_provider", "confidence": 0.99})
    _automated(owner, deliver, run_jobs, ["Notice one", "Notice two", "Notice three", "Notice four"])
    held = Draft.objects.get(status=DraftStatus.PENDING)
    with django_capture_on_commit_callbacks(execute=True):
        draft_approve(draft_id=held.pk, by=owner)
    run_jobs()

    _automated(owner, deliver, run_jobs, ["Notice five"])

    assert len(graph_api.sent_texts()) == 5


def test_a_company_repeating_itself_is_not_answered_again(owner, graph_api, deliver, run_jobs, script):
    set_rule(owner, "cellphone_provider", RuleAction.AUTO, match_senders=[f"+{PROVIDER_NUMBER}"])
    script({"reply": "Thanks, noted.", "category": "cellphone_provider", "confidence": 0.99})

    _automated(
        owner, deliver, run_jobs, ["Your request has been received.", "Your request has been received."]
    )

    assert len(graph_api.sent_texts()) == 1
    assert [g["guard"] for g in Draft.objects.get(status=DraftStatus.PENDING).guards] == ["loop"]


def test_an_answer_faster_than_anyone_types_is_not_answered(owner, graph_api, deliver, run_jobs, script):
    set_rule(owner, "cellphone_provider", RuleAction.AUTO, match_senders=[f"+{PROVIDER_NUMBER}"])
    script({"reply": "Thanks, noted.", "category": "cellphone_provider", "confidence": 0.99})

    _automated(owner, deliver, run_jobs, ["Hello"])
    _automated(
        owner,
        deliver,
        run_jobs,
        ["We have received your message and will answer within two days."],
        gap=timedelta(0),
    )

    assert len(graph_api.sent_texts()) == 1
    assert Escalation.objects.get().reason == EscalationReason.LOOP

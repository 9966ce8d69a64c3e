"""The policy over its whole domain: every approval mode × rule action × confidence × guard."""

from __future__ import annotations

import itertools

import pytest

from conversations import policy
from conversations.models import ApprovalMode, RuleAction
from conversations.trust.guards import ESCALATE, HOLD, Finding

THRESHOLD = 0.75
ACTIONS = [None, *RuleAction.values]
CONFIDENCES = [0.2, 0.75, 0.99]
GUARDS = {
    "none": (),
    "hold": (Finding("identifier", HOLD, ("4829",), "a number"),),
    "escalate": (Finding("code_request", ESCALATE, ("send the code",), "asks for a code"),),
}


def expected(mode: str, action: str | None, confidence: float, guard: str) -> tuple[str, bool]:
    """The policy of docs/architecture.md, written out independently of the code under test."""
    if action == RuleAction.IGNORE:
        return policy.DROP, False
    if action == RuleAction.ESCALATE:
        return policy.DROP, True
    unsure = confidence < THRESHOLD
    escalate = unsure or guard == "escalate"
    delegated = action == RuleAction.AUTO or (mode == ApprovalMode.NEVER and action is None)
    if mode == ApprovalMode.ALWAYS or guard != "none" or unsure or not delegated:
        return policy.HOLD, escalate
    return policy.SEND, False


@pytest.mark.parametrize(
    ("mode", "action", "confidence", "guard"),
    list(itertools.product(ApprovalMode.values, ACTIONS, CONFIDENCES, GUARDS)),
)
def test_the_policy_matches_the_design_everywhere(mode, action, confidence, guard):
    decision = policy.decide(
        action=action, approval_mode=mode, threshold=THRESHOLD, confidence=confidence, findings=GUARDS[guard]
    )
    assert (decision.outcome, decision.escalate) == expected(mode, action, confidence, guard)
    if decision.outcome == policy.HOLD:
        assert decision.reasons, "a held reply always says why"


@pytest.mark.parametrize("mode", ApprovalMode.values)
def test_a_reply_without_text_is_never_sent(mode):
    decision = policy.decide(
        action=RuleAction.AUTO, approval_mode=mode, threshold=0.0, confidence=1.0, has_text=False
    )
    assert decision.outcome == policy.HOLD and decision.escalate


def test_declining_to_reply_stands_and_tells_the_owner_only_what_needs_them():
    quiet = policy.decide(
        action=RuleAction.AUTO,
        approval_mode=ApprovalMode.ALWAYS,
        threshold=0.75,
        confidence=0.1,
        has_text=False,
        declined=True,
    )
    assert (quiet.outcome, quiet.escalate) == (policy.DROP, False)
    asked = policy.decide(
        action=RuleAction.AUTO,
        approval_mode=ApprovalMode.NEVER,
        threshold=0.75,
        confidence=0.9,
        has_text=False,
        declined=True,
        findings=GUARDS["escalate"],
    )
    assert (asked.outcome, asked.escalate) == (policy.DROP, True)

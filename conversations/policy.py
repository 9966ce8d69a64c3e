"""The policy: what Gatekeeper may do on the owner's behalf with one reply. A pure function."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from conversations.models import ApprovalMode, RuleAction
from conversations.trust import guards

SEND = "send"  # goes out now
HOLD = "hold"  # waits for the owner's approval
DROP = "drop"  # no reply at all (ignore, or escalate without a draft)


@dataclass(frozen=True)
class Decision:
    outcome: str
    escalate: bool
    reasons: tuple[str, ...]


def decide(
    *,
    action: str | None,
    approval_mode: str,
    threshold: float,
    confidence: float,
    findings: Sequence[guards.Finding] = (),
    has_text: bool = True,
    declined: bool = False,
) -> Decision:
    """Decide one reply from the category's rule action, the owner's settings and the guards.

    `action` is None when no rule covers the category. `declined` is the engine's decision not to
    reply (no text, with a reason): saying nothing never speaks for the owner, so it stands,
    but a finding that needs the owner (a request for a code) still tells them.
    """
    if action == RuleAction.IGNORE:
        return Decision(DROP, False, ("the rule for this category says ignore",))
    if action == RuleAction.ESCALATE:
        return Decision(DROP, True, ("the rule for this category says escalate",))
    if declined:
        needs_owner = [f for f in findings if f.effect == guards.ESCALATE]
        reasons = ("the engine decided not to reply", *(f"guard {f.guard}: {f.detail}" for f in needs_owner))
        return Decision(DROP, bool(needs_owner), reasons)

    reasons: list[str] = []
    escalate = False
    for finding in findings:
        reasons.append(f"guard {finding.guard}: {finding.detail}")
        escalate = escalate or finding.effect == guards.ESCALATE
    if not has_text:
        reasons.append("the engine proposed no text")
        escalate = True
    if confidence < threshold:
        reasons.append(f"confidence {confidence:.2f} is below your threshold {threshold:.2f}")
        escalate = True
    if approval_mode == ApprovalMode.ALWAYS:
        reasons.append("approval mode is 'always'")
    elif action == RuleAction.DRAFT:
        reasons.append("the rule for this category says draft")
    elif approval_mode == ApprovalMode.WHEN_UNSURE and action != RuleAction.AUTO:
        reasons.append("no rule delegates this category (approval mode 'when_unsure')")

    if reasons:
        return Decision(HOLD, escalate, tuple(reasons))
    return Decision(SEND, False, ("delegated, confident and no guard fired",))

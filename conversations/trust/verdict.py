"""One verdict on one engine reply: the checks, the vault and the policy, in that order.

The draft job and `trust_eval` both call `judge`, so what the evaluation measures is exactly
what decides a real reply.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conversations import policy
from conversations.trust import guards, lexicon, vault

if TYPE_CHECKING:
    from ai.base import AIReply
    from conversations.context import Policyholder
    from conversations.trust.senders import Category


@dataclass(frozen=True)
class Verdict:
    text: str  # the reply with the facts it may carry filled in
    findings: tuple[guards.Finding, ...]
    decision: policy.Decision
    disclosed: tuple[str, ...]  # keys of the facts filled into the text

    @property
    def sends(self) -> bool:
        return self.decision.outcome == policy.SEND


def judge(
    text: str,
    *,
    reason: str = "",
    confidence: float,
    inbound_texts: Sequence[str],
    facts: Iterable[vault.FactLike],
    category: str,
    action: str | None,
    approval_mode: str,
    threshold: float,
    extra_findings: Sequence[guards.Finding] = (),
) -> Verdict:
    """Check the reply as the engine wrote it, then fill the facts shared with `category`, then decide."""
    facts = list(facts)
    private_values = [fact.value for fact in facts if fact.private]
    # The checks read the reply with each placeholder as one plain word: a key is the owner's label.
    masked = vault.PLACEHOLDER.sub(lexicon.PLACEHOLDER_WORD, text)
    findings = guards.check_reply(masked, inbound_texts=inbound_texts, private_values=private_values)
    filled = vault.fill(text, facts, category)
    findings += filled.findings()
    findings += extra_findings
    decision = policy.decide(
        action=action,
        approval_mode=approval_mode,
        threshold=threshold,
        confidence=confidence,
        findings=findings,
        has_text=bool(text.strip()),
        declined=not text.strip() and bool(reason.strip()),
    )
    return Verdict(
        text=filled.text,
        findings=tuple(findings),
        decision=decision,
        disclosed=filled.disclosed if decision.outcome != policy.DROP else (),
    )


def judge_turn(
    reply: AIReply,
    *,
    owner: Policyholder,
    applied: Category,
    inbound_texts: Sequence[str],
    findings: Sequence[guards.Finding],
) -> Verdict:
    """The verdict on an engine's reply under the owner's policy and the category that applies:
    one call for a chat turn and a call turn, so both are judged alike."""
    return judge(
        reply.reply,
        reason=reply.reason,
        confidence=reply.confidence,
        inbound_texts=inbound_texts,
        facts=owner.facts,
        category=applied.category,
        action=applied.rule.action if applied.rule else None,
        approval_mode=owner.settings.approval_mode,
        threshold=owner.settings.confidence_threshold,
        extra_findings=findings,
    )

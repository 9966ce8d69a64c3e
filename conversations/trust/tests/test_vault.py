"""The vault: shared facts filled after the checks, only where the owner shares them."""

from __future__ import annotations

from dataclasses import dataclass, field

from conversations.models import ApprovalMode, RuleAction
from conversations.trust import vault
from conversations.trust.verdict import judge


@dataclass
class F:
    key: str
    value: str
    private: bool = False
    share_with: list[str] = field(default_factory=list)


EMAIL = F("email", "jane.doe@example.com")
CUSTOMER = F("customer number", "ACC-77812", share_with=["bank"])
HOME = F("home", "12 Elm St", private=True)


def test_a_fact_shared_with_every_category_is_filled():
    filled = vault.fill("Write to {{fact:email}}.", [EMAIL], "utilities")
    assert filled.text == "Write to jane.doe@example.com."
    assert filled.disclosed == ("email",) and filled.findings() == []


def test_a_fact_shared_with_other_categories_is_left_unfilled_and_holds():
    filled = vault.fill("Our number is {{ fact: customer number }}.", [CUSTOMER], "utilities")
    assert "ACC-77812" not in filled.text
    assert [f.guard for f in filled.findings()] == ["vault"]
    assert vault.fill("{{fact:customer number}}", [CUSTOMER], "bank").text == "ACC-77812"


def test_private_and_unknown_placeholders_hold():
    filled = vault.fill("{{fact:home}} and {{fact:nope}}", [HOME], "bank")
    assert filled.refused == ("home", "nope") and filled.disclosed == ()


def judge_reply(text: str, facts, category: str = "bank"):
    return judge(
        text,
        confidence=0.99,
        inbound_texts=["What is your customer number?"],
        facts=facts,
        category=category,
        action=RuleAction.AUTO,
        approval_mode=ApprovalMode.WHEN_UNSURE,
        threshold=0.75,
    )


def test_a_value_the_vault_fills_passes_the_identifier_check_but_the_same_digits_typed_do_not():
    assert judge_reply("It is {{fact:customer number}}.", [CUSTOMER]).sends
    typed = judge_reply("It is ACC-77812.", [CUSTOMER])
    assert not typed.sends and "identifier" in {f.guard for f in typed.findings}


def test_a_held_reply_keeps_the_facts_it_would_disclose():
    verdict = judge_reply("Yes, go ahead, it is {{fact:customer number}}.", [CUSTOMER])
    assert not verdict.sends and verdict.disclosed == ("customer number",)

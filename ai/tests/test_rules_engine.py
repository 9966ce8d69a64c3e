"""The offline rules engine: classification table, honest confidence, safe template replies."""

from __future__ import annotations

import json
import re

import pytest

from ai.base import AIReply, ConversationContext, RuleHint, Turn
from ai.categories import DEFAULT_CATEGORIES
from ai.engines.rules import RulesEngine, contains_phrase, latest_contact_texts, sender_matches

ENGINE = RulesEngine("rules")

# Words that would commit the owner, or look like secrets, and must never appear in a template.
FORBIDDEN = re.compile(
    r"\b(pay|paid|purchase|buy|order|upgrade|cancel|sign|subscribe|renew|agree|accept|confirm|"
    r"code|password|pin|otp)\b|\d",
    re.IGNORECASE,
)


def ask(text: str, name: str = "", *, address: str = "", rules=(), category: str = "", history=()) -> AIReply:
    context = ConversationContext(
        history=(*history, Turn("contact", text)),
        contact_name=name,
        contact_address=address,
        owner_name="Ana",
        rules=tuple(rules),
        category=category,
    )
    return ENGINE.generate(context)


@pytest.mark.parametrize(
    ("text", "name", "category", "at_least"),
    [
        ("Your bill is ready", "Acme Mobile", "cellphone_provider", 0.8),
        ("Your bill is ready", "City Power & Light", "utilities", 0.8),
        ("We noticed roaming charges on your SIM card", "", "cellphone_provider", 0.7),
        ("Your prepaid top-up of 10GB is confirmed", "", "cellphone_provider", 0.7),
        ("Your electricity meter reading is due", "", "utilities", 0.8),
        ("Planned power outage in your area tomorrow", "", "utilities", 0.7),
        ("A transfer was made from your account with your debit card", "", "bank", 0.7),
        ("Your overdraft limit and loan statement", "Big Bank", "bank", 0.8),
        ("Congratulations! You have won a prize, click this link", "", "spam", 0.8),
        ("Exclusive crypto investment opportunity, act now", "Mr Rich", "spam", 0.8),
    ],
)
def test_classifies_the_default_categories(text, name, category, at_least):
    reply = ask(text, name)
    assert reply.category == category, reply.reason
    assert reply.confidence >= at_least, reply.reason
    assert category in reply.reason


def test_your_bill_is_ready_from_acme_mobile_is_the_cellphone_provider_with_high_confidence():
    reply = ask("Your bill is ready", "Acme Mobile")
    assert reply.category == "cellphone_provider"
    assert reply.confidence >= 0.8
    assert "'mobile'" in reply.reason and "'bill'" in reply.reason


def test_an_ambiguous_word_alone_gives_low_confidence_and_a_holding_reply():
    reply = ask("Your bill is ready")
    assert reply.category in ("cellphone_provider", "utilities")
    assert reply.confidence <= 0.4
    assert "Ambiguous" in reply.reason
    assert "get back to you" in reply.reply


@pytest.mark.parametrize("text", ["Hello", "Can I simply ask something?", "Are you there?", ""])
def test_an_unrecognised_message_is_other_with_low_confidence_and_a_holding_reply(text):
    reply = ask(text)
    assert reply.category == "other"
    assert reply.confidence <= 0.4
    assert "I'll pass this on and get back to you" in reply.reply
    assert "not recognise" in reply.reason


def test_a_rule_sender_match_wins_over_keywords_with_the_highest_confidence():
    rules = [RuleHint("bank"), RuleHint("insurance", match_senders=("Safe Insure",))]
    reply = ask("Your bank card payment is due", "SAFE INSURE Ltd", rules=rules)
    assert reply.category == "insurance"
    assert reply.confidence >= 0.9
    assert "Safe Insure" in reply.reason
    keyword_reply = ask("Your electricity meter reading is due")
    assert reply.confidence > keyword_reply.confidence


def test_a_rule_sender_matches_a_phone_number_by_its_digits():
    rules = [RuleHint("cellphone_provider", match_senders=("+1 (555) 010-2000",))]
    reply = ask("Hello", address="whatsapp:+15550102000", rules=rules)
    assert reply.category == "cellphone_provider"
    assert reply.confidence >= 0.9


def test_a_rule_keyword_match_wins_over_the_builtin_lists():
    rules = [RuleHint("utilities"), RuleHint("internet", match_keywords=("fibre", "broadband"))]
    reply = ask("Your fibre broadband bill is ready", "Acme Mobile", rules=rules)
    assert reply.category == "internet"
    assert reply.confidence >= 0.8
    assert "'fibre'" in reply.reason


def test_rule_keywords_match_whole_words_only():
    rules = [RuleHint("internet", match_keywords=("net",))]
    reply = ask("Your network is down", rules=rules)
    assert reply.category != "internet"


def test_a_tie_between_rules_lowers_confidence():
    rules = [RuleHint("internet", match_keywords=("router",)), RuleHint("tv", match_keywords=("box",))]
    reply = ask("The router and the box", rules=rules)
    assert reply.category in ("internet", "tv")
    assert reply.confidence <= 0.5


def test_a_category_already_decided_is_kept():
    reply = ask("Congratulations, you won a prize", category="bank")
    assert reply.category == "bank"
    assert reply.confidence >= 0.8


def test_only_the_owners_categories_are_used_when_rules_are_given():
    reply = ask("Your electricity bill is ready", rules=[RuleHint("bank"), RuleHint("spam")])
    assert reply.category == "other"


def test_a_custom_category_is_recognised_by_its_name():
    reply = ask("About your car insurance renewal", rules=[RuleHint("insurance"), RuleHint("bank")])
    assert reply.category == "insurance"


def test_the_latest_company_messages_decide_not_older_ones():
    history = (Turn("contact", "Your electricity meter reading"), Turn("assistant", "Thanks, noted."))
    reply = ask("Congratulations, you have won a prize in our lottery", history=history)
    assert reply.category == "spam"


def test_earlier_messages_are_read_when_the_latest_say_nothing():
    history = (Turn("contact", "Your electricity meter reading is due"), Turn("assistant", "Thanks, noted."))
    reply = ask("ok", history=history)
    assert reply.category == "utilities"
    assert "earlier" in reply.reason


def test_spam_gets_a_short_not_interested_reply():
    reply = ask("Congratulations! You are the lottery winner")
    assert reply.category == "spam"
    assert "Not interested" in reply.reply
    assert "remove this number" in reply.reply


@pytest.mark.parametrize("category", [*DEFAULT_CATEGORIES, "other", "insurance"])
def test_template_replies_never_commit_the_owner_or_carry_codes(category):
    reply = ask("Hello", category=category)
    assert reply.reply
    assert not FORBIDDEN.search(reply.reply), reply.reply


def test_template_replies_speak_as_the_owners_assistant():
    reply = ask("Your bill is ready", "Acme Mobile")
    assert "Ana's assistant" in reply.reply
    assert "review" in reply.reply


def test_extra_is_plain_json_data():
    reply = ask("Your bill is ready", "Acme Mobile")
    assert json.loads(json.dumps(reply.extra))["engine"] == "rules"


def test_contains_phrase_matches_whole_words_ignoring_case_and_spacing():
    assert contains_phrase("Your SIM is active", "sim")
    assert not contains_phrase("a simple question", "sim")
    assert contains_phrase("the Phone\n Plan changed", "phone plan")
    assert contains_phrase("AT&T here", "at&t")
    assert not contains_phrase("we won't", "won")


def test_sender_matches_names_and_numbers():
    assert sender_matches("acme", "Acme Mobile", "")
    assert not sender_matches("acme", "Acmeville Bank", "")
    assert sender_matches("+44 20 7946 0000", "", "442079460000")
    assert not sender_matches("+44 20 7946 0000", "", "442079460001")


def test_latest_contact_texts_are_those_after_our_last_answer():
    history = [
        Turn("contact", "one"),
        Turn("assistant", "reply"),
        Turn("contact", "two"),
        Turn("contact", "three"),
    ]
    assert latest_contact_texts(history) == ["two", "three"]
    assert latest_contact_texts([*history, Turn("owner", "hand reply")]) == ["two", "three"]
    assert latest_contact_texts([]) == []

"""A new owner starts with one rule per built-in category (ai/categories.py), and none delegates."""

from __future__ import annotations

import pytest

from ai import categories
from conversations.models import Rule, RuleAction
from conversations.setup import owner_setup

pytestmark = pytest.mark.django_db


def test_a_new_owner_gets_a_draft_rule_for_each_builtin_category_with_its_instructions():
    owner = owner_setup(username="ana", password="pw").owner

    rules = {rule.category: rule for rule in Rule.objects.filter(owner=owner)}

    assert list(rules) == list(categories.DEFAULT_CATEGORIES)
    for category in categories.BUILTIN:
        assert rules[category.name].action == RuleAction.DRAFT
        assert rules[category.name].instructions == category.default_instructions


def test_setup_again_keeps_the_rules_the_owner_changed():
    owner = owner_setup(username="ana", password="pw").owner
    Rule.objects.filter(owner=owner, category=categories.BANK).update(
        action=RuleAction.AUTO, instructions="Mine"
    )

    owner_setup(username="ana")

    bank = Rule.objects.get(owner=owner, category=categories.BANK)
    assert (bank.action, bank.instructions) == (RuleAction.AUTO, "Mine")
    assert Rule.objects.filter(owner=owner).count() == len(categories.BUILTIN)

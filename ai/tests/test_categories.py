"""The category registry: one list that the rules engine, the replies and the prompt all read."""

from __future__ import annotations

import re
from pathlib import Path

from ai import categories
from ai.base import ConversationContext, Turn
from ai.engines.rules import BUILTIN_KEYWORDS
from ai.prompt import allowed_categories
from ai.replies import category_reply

ROOT = Path(__file__).resolve().parents[2]
APPS = ("ai", "channels_app", "conversations")


def test_the_rules_engine_knows_keywords_for_exactly_the_builtin_categories():
    assert set(BUILTIN_KEYWORDS) == set(categories.DEFAULT_CATEGORIES)
    assert all(BUILTIN_KEYWORDS[name] for name in categories.DEFAULT_CATEGORIES)


def test_without_rules_an_engine_may_answer_every_builtin_category_and_other():
    context = ConversationContext(history=(Turn("contact", "Hello"),))
    assert allowed_categories(context) == [*categories.DEFAULT_CATEGORIES, categories.OTHER]


def test_each_builtin_category_is_acknowledged_in_its_own_words():
    replies = {name: category_reply(name, "Ana") for name in categories.DEFAULT_CATEGORIES}
    assert len(set(replies.values())) == len(replies)
    assert category_reply("insurance", "Ana") not in replies.values()


def test_labels_name_builtin_categories_for_people_and_leave_an_owners_own_as_written():
    assert categories.label(categories.CELLPHONE_PROVIDER) == "Phone company"
    assert categories.label(categories.OTHER) == "Other"
    assert categories.label("insurance") == "insurance"
    assert categories.builtin("insurance") is None


def test_no_app_module_spells_a_builtin_category_name_outside_the_registry():
    names = "|".join(re.escape(name) for name in categories.DEFAULT_CATEGORIES)
    literal = re.compile(rf"[\"']({names})[\"']")
    registry = ROOT / "ai" / "categories.py"
    spelled = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if path != registry and "tests" not in path.parts and "migrations" not in path.parts
        for match in literal.finditer(path.read_text(encoding="utf-8"))
    ]
    assert spelled == []

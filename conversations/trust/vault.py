"""The vault: the engine never sees a fact's value; the reply names it and we fill it in after the checks.

The prompt carries each fact shareable with the conversation's category as `{{fact:KEY}}`.
A reply's placeholders are filled once every check has read the reply without them, so a
value the owner chose to share never trips the identifier check, and a value the owner did not
share with this kind of company is never filled: the reply is held instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from conversations.trust.guards import HOLD, Finding

VAULT = "vault"
PLACEHOLDER = re.compile(r"\{\{\s*fact\s*:\s*([^{}]+?)\s*\}\}", re.IGNORECASE)


class FactLike(Protocol):
    key: str
    value: str
    private: bool
    share_with: list[str]


def placeholder(key: str) -> str:
    return f"{{{{fact:{key}}}}}"


def shareable(facts: Iterable[FactLike], category: str) -> dict[str, str]:
    """Facts the owner shares with this category (an empty `share_with` shares with every category)."""
    return {
        fact.key: fact.value
        for fact in facts
        if not fact.private and (not fact.share_with or (category and category in fact.share_with))
    }


@dataclass(frozen=True)
class Filled:
    text: str
    disclosed: tuple[str, ...]  # keys whose values went into the text
    refused: tuple[str, ...]  # placeholders left as written: unknown, private or not shared here

    def findings(self) -> list[Finding]:
        if not self.refused:
            return []
        names = ", ".join(self.refused)
        return [
            Finding(
                VAULT,
                HOLD,
                self.refused,
                f"The reply asks for facts that are not shared with this kind of company ({names}).",
            )
        ]


def fill(text: str, facts: Iterable[FactLike], category: str) -> Filled:
    """The reply with every placeholder this category may see filled; the others left visible."""
    values = shareable(facts, category)
    disclosed, refused = [], []

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key in values:
            disclosed.append(key)
            return values[key]
        refused.append(key)
        return match.group(0)

    filled = PLACEHOLDER.sub(replace, text)
    return Filled(filled, tuple(dict.fromkeys(disclosed)), tuple(dict.fromkeys(refused)))

"""The categories Gatekeeper ships: one registry that setup, the engines, the prompt and the admin read.

It lives in `ai`, the bottom layer, so that `conversations` (which may import `ai`, never the
reverse) and the engines read the same list. A category is a name an owner's rule is keyed by;
owners may add their own, which this registry does not know and need not. What a built-in one
carries: a label for people, the instructions of the rule a new owner starts with, and the
acknowledgement the engines fall back on. Each engine keeps its own knowledge of how to recognise
a category (the rules engine's keywords live in `ai/engines/rules.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

CELLPHONE_PROVIDER = "cellphone_provider"
UTILITIES = "utilities"
BANK = "bank"
SPAM = "spam"
#: The category of anything that fits none of the owner's categories; never a rule of its own.
OTHER = "other"


@dataclass(frozen=True)
class Category:
    """One built-in category: its name, its label, its default rule and its safe acknowledgement."""

    name: str
    label: str
    #: The instructions of the rule a new owner gets for it (action `draft`: nothing is delegated).
    default_instructions: str
    #: The acknowledgement an engine falls back on; `{owner}` is the owner's name. It promises
    #: nothing and carries no digits, so the trust checks have nothing to object to.
    acknowledgement: str


#: The built-in categories, in the order an owner sees their default rules.
BUILTIN: tuple[Category, ...] = (
    Category(
        CELLPHONE_PROVIDER,
        "Phone company",
        "Phone company: bills, plan offers, outages. Never accept an upgrade or a new contract.",
        "Hello, thank you for your message about the mobile service. I'm {owner}'s assistant. "
        "I've noted it, and {owner} will review anything that needs a decision. "
        "If something needs to be done, please send the details in writing here.",
    ),
    Category(
        UTILITIES,
        "Utilities",
        "Electricity, gas, water: bills, meter readings, outages. Never agree to a payment plan.",
        "Hello, thank you for your message about the utility service. I'm {owner}'s assistant. "
        "I've noted it, and {owner} will review anything that needs a decision. "
        "Please send any details in writing here.",
    ),
    Category(
        BANK,
        "Bank",
        "Banks and card issuers. Never share numbers, codes or passwords; never confirm a transaction.",
        "Hello, thank you for your message. I'm {owner}'s assistant. "
        "I've passed it on, and {owner} will review anything that needs a decision "
        "and deal with account matters directly.",
    ),
    Category(
        SPAM,
        "Spam",
        "Unsolicited offers and prizes. Ask to be removed from their list.",
        "Not interested, thank you. Please remove this number from your list.",
    ),
)

#: The names of the built-in categories: what the engines classify into when an owner has no rules.
DEFAULT_CATEGORIES: tuple[str, ...] = tuple(category.name for category in BUILTIN)

_BY_NAME: dict[str, Category] = {category.name: category for category in BUILTIN}
_OTHER_LABEL = "Other"


def builtin(name: str) -> Category | None:
    """The built-in category of this name, or None for an owner's own (or unknown) category."""
    return _BY_NAME.get(name)


def label(name: str) -> str:
    """How people read a category: the built-in label, else the owner's own name for it."""
    if name == OTHER:
        return _OTHER_LABEL
    found = _BY_NAME.get(name)
    return found.label if found else name

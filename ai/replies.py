"""Canned replies shared by the engines: safe words to fall back on when nothing better is known.

Every template acknowledges, promises nothing and carries no digits, so the policy's guards
(codes, account numbers, commitments) have nothing to object to.
"""

from __future__ import annotations

from ai.categories import OTHER, builtin

_GENERIC = (
    "Hello, thank you for your message. I'm {owner}'s assistant. "
    "I've noted it, and {owner} will review anything that needs a decision."
)

_HOLDING = (
    "Hello, thank you for your message. I'm {owner}'s assistant; I'll pass this on and get back to you."
)


def _owner(owner_name: str) -> str:
    """The owner as the company should read it, even when no name is configured."""
    name = " ".join(owner_name.split())
    return name or "the account holder"


def holding_reply(owner_name: str = "") -> str:
    """A reply that commits to nothing, for when the engine cannot tell what the message is about."""
    return _HOLDING.format(owner=_owner(owner_name))


def category_reply(category: str, owner_name: str = "") -> str:
    """The acknowledgement for a recognised category, so the company knows the owner will review it."""
    if category == OTHER:
        return holding_reply(owner_name)
    known = builtin(category)
    return (known.acknowledgement if known else _GENERIC).format(owner=_owner(owner_name))


_FOLLOW_UP = (
    "Hello, I'm {owner}'s assistant, following up on our conversation: is there any news? Please reply here."
)

_PROMISE = "Hello, I'm {owner}'s assistant. You wrote: \"{what}\" That was due by {due}, and it has not " + (
    "happened yet. Please tell me when it will."
)


def follow_up_reply(owner_name: str = "") -> str:
    """The standard follow-up when nobody wrote its text: asks for news, promises nothing."""
    return _FOLLOW_UP.format(owner=_owner(owner_name))


def promise_reply(what: str, due: str, owner_name: str = "") -> str:
    """The follow-up of a promise not kept: the company's own words, the date, and a question."""
    what = " ".join(what.split()).strip()
    return _PROMISE.format(owner=_owner(owner_name), what=what, due=due)

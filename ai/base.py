"""The AI engine contract: conversation context in, structured reply out.

This package knows nothing of the database; `conversations` builds the context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ai.promises import FollowUpRequest, PromiseSeen


@dataclass(frozen=True)
class Turn:
    """One message of the history, as the engine sees it."""

    author: str  # "contact" (the provider writing to the owner), "assistant" or "owner"
    text: str
    kind: str = "text"


@dataclass(frozen=True)
class RuleHint:
    """One of the owner's categories, with what identifies it and how to answer it."""

    category: str
    instructions: str = ""
    match_senders: tuple[str, ...] = ()
    match_keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConversationContext:
    """What an engine may know when it drafts a reply."""

    history: tuple[Turn, ...]
    contact_name: str = ""
    contact_address: str = ""
    channel: str = ""
    owner_name: str = ""
    persona: str = ""
    category: str = ""  # already decided (known contact or a rule match); "" lets the engine classify
    instructions: str = ""  # the applicable rule's instructions
    rules: tuple[RuleHint, ...] = ()
    shareable_facts: tuple[tuple[str, str], ...] = ()
    now: datetime | None = None  # when the engine is asked (aware); times in words count from it
    time_zone: str = ""  # the owner's time zone (IANA name), for "by Friday" and business days


@dataclass(frozen=True)
class AIReply:
    """An engine's answer; `confidence` is in 0..1. An empty `reply` with a `reason` declines to reply."""

    reply: str
    category: str
    confidence: float
    reason: str
    extra: dict = field(default_factory=dict)
    # Optional: write again later if nothing happens; and what the company promised, by when.
    follow_up: FollowUpRequest | None = None
    promises: tuple[PromiseSeen, ...] = ()


class AIError(Exception):
    """The engine could not answer (unreachable, timed out, refused); the job retries."""


class AIClient:
    """Base class of the engines."""

    def __init__(self, alias: str, **options) -> None:
        self.alias = alias
        self.options = options

    def generate(self, context: ConversationContext) -> AIReply:
        raise NotImplementedError("subclasses of AIClient must provide generate()")

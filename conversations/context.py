"""Selectors that gather what the engine and the policy need, in a bounded number of queries."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings as django_settings
from django.utils import timezone

from ai.base import ConversationContext, RuleHint, Turn
from conversations.models import Author, Conversation, Direction, Fact, Message, OwnerSettings, Rule
from conversations.trust import vault

#: The most recent messages handed to the engine, however long the conversation is.
HISTORY_LIMIT = 20

_AUTHORS = {Author.CONTACT: "contact", Author.ASSISTANT: "assistant", Author.OWNER: "owner"}


@dataclass(frozen=True)
class Policyholder:
    """The owner's side of one conversation: settings, rules and facts, loaded once."""

    settings: OwnerSettings
    rules: tuple[Rule, ...]
    facts: tuple[Fact, ...]

    def rule_for(self, category: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.category == category), None)

    @property
    def private_values(self) -> list[str]:
        return [fact.value for fact in self.facts if fact.private]


def owner_policy(owner_id: int) -> Policyholder:
    """What decides a reply for this owner; a read only: an owner without stored settings gets the defaults."""
    owner_settings = OwnerSettings.objects.filter(owner_id=owner_id).first() or OwnerSettings(
        owner_id=owner_id
    )
    return Policyholder(
        settings=owner_settings,
        rules=tuple(Rule.objects.filter(owner_id=owner_id)),
        facts=tuple(Fact.objects.filter(owner_id=owner_id)),
    )


def owner_zone(owner_id: int, owner_settings: OwnerSettings | None = None) -> str:
    """The owner's time zone (IANA name): their setting when they have one, else settings.TIME_ZONE.

    Promises ("by Friday", "2 business days") and follow-ups are read in it.
    """
    if owner_settings is None:
        owner_settings = OwnerSettings.objects.filter(owner_id=owner_id).first()
    return getattr(owner_settings, "time_zone", "") or django_settings.TIME_ZONE


def recent_messages(conversation: Conversation, *, limit: int = HISTORY_LIMIT) -> list[Message]:
    """The last `limit` messages, oldest first; one query whatever the conversation's length."""
    newest = Message.objects.filter(conversation=conversation).select_related("draft").order_by("-id")[:limit]
    return list(reversed(newest))


def recent_outbound(conversation: Conversation, *, limit: int) -> list[Message]:
    """The last `limit` messages sent to the contact, oldest first, with the drafts they came from."""
    newest = (
        Message.objects.filter(conversation=conversation, direction=Direction.OUT)
        .select_related("draft")
        .order_by("-id")[:limit]
    )
    return list(reversed(newest))


def engine_context(
    conversation: Conversation,
    policy: Policyholder,
    history: list[Message],
    *,
    category: str,
    rule: Rule | None,
) -> ConversationContext:
    """The engine's whole view: persona, rule, shareable facts, and the history as plain turns."""
    contact = conversation.contact
    return ConversationContext(
        history=tuple(
            Turn(author=_AUTHORS.get(m.author, "contact"), text=m.text, kind=m.kind)
            for m in history
            # A message the contact deleted for everyone (revoked) is kept for the owner, not the engine.
            if (m.direction == Direction.IN or m.text) and m.revoked_at is None
        ),
        contact_name=contact.name,
        contact_address=contact.address,
        channel=conversation.account.provider,
        owner_name=conversation.owner.get_full_name(),
        persona=policy.settings.persona,
        category=category,
        instructions=rule.instructions if rule else "",
        rules=tuple(
            RuleHint(
                category=r.category,
                instructions=r.instructions,
                match_senders=tuple(r.match_senders),
                match_keywords=tuple(r.match_keywords),
            )
            for r in policy.rules
        ),
        # The vault: the engine sees where a shared fact goes, never its value (filled after the checks).
        shareable_facts=tuple(
            (key, vault.placeholder(key)) for key in vault.shareable(policy.facts, category)
        ),
        now=timezone.now(),
        time_zone=owner_zone(conversation.owner_id, policy.settings),
    )

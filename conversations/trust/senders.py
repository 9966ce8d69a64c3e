"""Who is asking: what a conversation is about by the owner's own data, and names that are only claims.

A company chooses its display name and what its message says, and could so choose which of the
owner's rules applies. So a category counts as established only by the owner's data: a contact the
owner pinned to a category, a rule naming the sender's address (an E.164 number or a provider id,
never a display name) or a rule's keyword. The engine's classification may make a conversation
stricter, never looser (docs/architecture.md, "Who is asking").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rapidfuzz.distance import Levenshtein

from ai.categories import OTHER
from conversations.models import ApprovalMode, CategorySource, Contact, Conversation, Rule, RuleAction
from conversations.phones import digits, same_number
from conversations.trust.guards import ESCALATE, HOLD, Finding
from conversations.trust.normalize import fold

if TYPE_CHECKING:
    from conversations.context import Policyholder

CATEGORY = "category"
UNVERIFIED_SENDER = "unverified_sender"

#: Sources that are the owner's own data.
ESTABLISHED = frozenset({CategorySource.CONTACT, CategorySource.SENDER, CategorySource.KEYWORD})

_WORD = re.compile(r"[a-z0-9]+")


def is_company_name(entry: str) -> bool:
    """An entry of `match_senders` that is a name, not an address: it never matches by itself."""
    entry = entry.strip()
    return bool(entry) and not digits(entry) and (" " in entry or not any(c.isdigit() for c in entry))


def sender_matches(entry: str, addresses: Iterable[str]) -> bool:
    """A rule's sender entry names this address: the same number, or the same provider id."""
    entry = entry.strip()
    if not entry or is_company_name(entry):
        return False
    addresses = [a for a in addresses if a]
    if digits(entry):
        return any(same_number(entry, address) for address in addresses)
    return any(entry.casefold() == address.strip().casefold() for address in addresses)


def _keyword_matches(keyword: str, text: str) -> bool:
    keyword = fold(keyword)
    return bool(keyword) and re.search(rf"(?<!\w){re.escape(keyword)}(?!\w)", text) is not None


@dataclass(frozen=True)
class Category:
    category: str
    rule: Rule | None
    source: str

    @property
    def established(self) -> bool:
        return self.source in ESTABLISHED


NOT_ESTABLISHED = Category("", None, CategorySource.NONE)


def establish(conversation: Conversation, policy: Policyholder, texts: Sequence[str]) -> Category:
    """The category by the owner's data: pinned contact, then the sender's address, then a keyword."""
    contact = conversation.contact
    if contact.category:
        return Category(contact.category, policy.rule_for(contact.category), CategorySource.CONTACT)
    addresses = (contact.address, contact.phone, contact.user_id)
    for rule in policy.rules:
        if any(sender_matches(entry, addresses) for entry in rule.match_senders or ()):
            return Category(rule.category, rule, CategorySource.SENDER)
    if conversation.category and conversation.category_source == CategorySource.KEYWORD:
        return Category(conversation.category, policy.rule_for(conversation.category), CategorySource.KEYWORD)
    folded = fold("\n".join(texts))
    for rule in policy.rules:
        if any(_keyword_matches(keyword, folded) for keyword in rule.match_keywords or ()):
            return Category(rule.category, rule, CategorySource.KEYWORD)
    return NOT_ESTABLISHED


def _delegated(rule: Rule | None, approval_mode: str) -> bool:
    if rule is None:
        return approval_mode == ApprovalMode.NEVER
    return rule.action == RuleAction.AUTO


def reconcile(known: Category, engine_category: str, policy: Policyholder) -> tuple[Category, list[Finding]]:
    """The category the policy applies, with a finding when the engine's reading must hold the reply.

    Established and the engine agrees (or has no opinion): the owner's category. Established and
    the engine disagrees: the owner's category, under the stricter of the two rules. Not
    established: the engine's guess, which never lets a reply go out by itself.
    """
    approval_mode = policy.settings.approval_mode
    if not known.established:
        guess = Category(engine_category, policy.rule_for(engine_category), CategorySource.ENGINE)
        if not _delegated(guess.rule, approval_mode):
            return guess, []
        return guess, [
            Finding(
                CATEGORY,
                HOLD,
                (engine_category,),
                f"Only your own data says a conversation is {engine_category} (a contact you pinned, a rule "
                "naming the sender's number, or a keyword); here it is the assistant's guess.",
            )
        ]
    if not engine_category or engine_category in (known.category, OTHER):
        return known, []
    theirs = policy.rule_for(engine_category)
    if theirs is not None and theirs.action == RuleAction.ESCALATE:
        effect = ESCALATE
    elif _delegated(known.rule, approval_mode):
        effect = HOLD
    else:
        return known, []  # held anyway, and the engine's rule asks for no more
    return known, [
        Finding(
            CATEGORY,
            effect,
            (engine_category,),
            f"The assistant reads this as {engine_category}, not {known.category}: the stricter rule applies.",
        )
    ]


# ---- names that are claims ------------------------------------------------------------------------


def _name_words(name: str) -> list[str]:
    return _WORD.findall(fold(name))


def _resembles(claimed: list[str], known: list[str]) -> bool:
    """Same name after folding, one or two typos off, or the known name inside the claimed one."""
    if not claimed or not known:
        return False
    a, b = " ".join(claimed), " ".join(known)
    if a == b:
        return True
    longest = max(len(a), len(b))
    if min(len(a), len(b)) >= 4 and Levenshtein.distance(a, b) <= (1 if longest <= 8 else 2):
        return True
    if len(b) >= 3:
        for start in range(len(claimed) - len(known) + 1):
            window = claimed[start : start + len(known)]
            if window == known:
                return True
            if len(b) >= 5 and Levenshtein.distance(" ".join(window), b) <= 1:
                return True
    return False


def known_names(policy: Policyholder, *, owner_id: int, excluding_contact: int | None) -> list[str]:
    """Names the owner's data vouches for: contacts pinned to a category, and company names in rules."""
    pinned = Contact.objects.filter(owner_id=owner_id).exclude(category="").exclude(name="")
    if excluding_contact is not None:
        pinned = pinned.exclude(pk=excluding_contact)
    names = list(pinned.values_list("name", flat=True)[:500])
    for rule in policy.rules:
        names += [entry.strip() for entry in rule.match_senders or () if is_company_name(entry)]
    return list(dict.fromkeys(names))


def claimed_company(display_name: str, names: Iterable[str]) -> str | None:
    """The known name an unknown sender's display name resembles, if any."""
    claimed = _name_words(display_name)
    for name in names:
        if _resembles(claimed, _name_words(name)):
            return name
    return None


def who_is_asking(
    conversation: Conversation, policy: Policyholder, known: Category, engine_category: str
) -> tuple[Category, str, list[Finding]]:
    """The category that applies, the known company an unknown sender's name claims to be ("" if
    none), and what that means for the reply: the same checks on a chat turn and a call turn."""
    chosen, findings = reconcile(known, engine_category, policy)
    claim = claimed_by(conversation, policy, known)
    contact = conversation.contact
    if claim:
        findings += unverified_findings(contact.name, contact.address, claim)
    findings += changed_identity_findings(contact)
    return chosen, claim, findings


def claimed_by(conversation: Conversation, policy: Policyholder, known: Category) -> str:
    """The known company an unknown sender's display name (or caller name) resembles; "" when the
    sender is known by contact or address. Words in the message prove nothing: they are the sender's."""
    contact = conversation.contact
    if known.source in (CategorySource.CONTACT, CategorySource.SENDER) or not contact.name.strip():
        return ""
    names = known_names(policy, owner_id=conversation.owner_id, excluding_contact=contact.pk)
    return claimed_company(contact.name, names) or ""


def changed_identity_findings(contact: Contact) -> list[Finding]:
    """WhatsApp said the contact's identity changed (new device, reinstall, or someone else): until the
    owner confirms it is still them, nothing goes out in their conversation by itself."""
    if contact.identity_changed_at is None:
        return []
    return [
        Finding(
            UNVERIFIED_SENDER,
            ESCALATE,
            (),
            f"Unverified: WhatsApp reported on {contact.identity_changed_at:%Y-%m-%d %H:%M} UTC that this "
            "contact's identity changed. Confirm it is still them on the conversation page.",
        )
    ]


def unverified_findings(display_name: str, address: str, claim: str) -> list[Finding]:
    shown = " ".join(display_name.split())[:80]
    return [
        Finding(
            UNVERIFIED_SENDER,
            ESCALATE,
            (claim,),
            f"Unverified: «{shown}» writes from {address}, an address your data does not know, and claims "
            f"to be {claim}.",
        )
    ]

"""Template helpers of the review dashboard: guard findings in plain words, highlighted words, the queue panel.

Everything shown here comes from providers or the engine, so every piece of text is escaped
before the few tags we add around it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django import template
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from conversations import selectors
from conversations.audit import MASK
from conversations.models import AuditEntry, Draft, EscalationReason

register = template.Library()

#: Guard names in plain words, for badges and the findings list.
GUARD_LABELS = {
    "private_fact": "Private fact",
    "identifier": "Code, PIN or account number",
    "credential": "Password or security answer",
    "money": "Money",
    "commitment": "Commits you",
    "code_request": "Asks for a code",
    "vault": "Fact not shared here",
    "category": "Category is a guess",
    "unverified_sender": "Unverified sender",
    "loop": "Another bot?",
    "low_confidence": "Low confidence",
    # Names drafts written before the trust checks carry.
    "one_time_code": "One-time code",
    "card_or_account_number": "Card or account number",
    "password": "Password or PIN",
}

#: How many rows of each kind the queue panel on the admin index shows.
QUEUE_ROWS = 8

#: The order of Gatekeeper's models on the admin index: what needs deciding first, records last.
MODEL_ORDER = [
    "Draft",
    "Conversation",
    "Escalation",
    "Rule",
    "Fact",
    "OwnerSettings",
    "Contact",
    "ChannelAccount",
    "Message",
    "AuditEntry",
    "User",
]


@dataclass(frozen=True)
class Finding:
    """One reason a draft was held, ready to show."""

    guard: str
    label: str
    effect: str
    detail: str
    words: tuple[str, ...]


def _findings(draft: Draft) -> list[Finding]:
    findings = []
    for raw in draft.guards or []:
        if not isinstance(raw, dict):
            continue
        guard = str(raw.get("guard", ""))
        words = tuple(str(word) for word in raw.get("words") or [] if isinstance(word, str | int | float))
        findings.append(
            Finding(
                guard=guard,
                label=GUARD_LABELS.get(guard, guard.replace("_", " ").capitalize() or "Guard"),
                effect=str(raw.get("effect", "")),
                detail=str(raw.get("detail", "")),
                # A private value appears highlighted in the draft itself, never in a list of words.
                words=tuple(MASK for _ in words) if guard == "private_fact" else words,
            )
        )
    threshold = getattr(draft, "owner_threshold", None)
    if threshold is not None and draft.confidence < threshold:
        findings.append(
            Finding(
                guard="low_confidence",
                label=GUARD_LABELS["low_confidence"],
                effect="hold",
                detail=f"The assistant is {draft.confidence:.0%} sure; you asked for {threshold:.0%}.",
                words=(),
            )
        )
    return findings


@register.filter
def findings(draft: Draft) -> list[Finding]:
    """Every guard that fired on the draft, and low confidence against the owner's threshold."""
    return _findings(draft)


def _hold_words(draft: Draft) -> list[str]:
    """The offending words a hold guard found in the reply itself."""
    return [
        word
        for raw in draft.guards or []
        if isinstance(raw, dict) and raw.get("effect") == "hold"
        for word in raw.get("words") or []
        if isinstance(word, str)
    ]


def _patterns(word: str) -> list[re.Pattern[str]]:
    """The word as written (any spacing, any case), and for numbers its digits with any separators."""
    pieces = word.split()
    if not pieces:
        return []
    patterns = [re.compile(r"\s+".join(re.escape(piece) for piece in pieces), re.IGNORECASE)]
    digits = re.sub(r"\D", "", word)
    if len(digits) >= 4:
        patterns.append(re.compile(r"\D{0,3}".join(digits)))
    return patterns


def highlight(text: str, words: Iterable[str]) -> SafeString:
    """Escape `text` and wrap every occurrence of `words` in <mark>; overlapping hits merge."""
    text = str(text or "")
    spans: list[tuple[int, int]] = []
    for word in set(words):
        for pattern in _patterns(str(word)):
            found = [(m.start(), m.end()) for m in pattern.finditer(text) if m.end() > m.start()]
            if found:
                spans.extend(found)
                break
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    parts, position = [], 0
    for start, end in merged:
        parts.append(conditional_escape(text[position:start]))
        parts.append(format_html('<mark class="gk-hit">{}</mark>', text[start:end]))
        position = end
    parts.append(conditional_escape(text[position:]))
    return mark_safe("".join(parts))  # noqa: S308 -- every part above is escaped


@register.filter
def highlight_draft(draft: Draft) -> SafeString:
    """The draft's text with the words its guards found highlighted."""
    return highlight(draft.text, _hold_words(draft))


@register.filter
def highlight_words(text: str, words: Iterable[str]) -> SafeString:
    """Text with the given words highlighted (e.g. a code request in a provider's message)."""
    return highlight(text, words or ())


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@register.filter
def audit_changes(entry: AuditEntry) -> list[tuple[str, str | None, str | None]]:
    """An audit entry's before/after as (field, before, after) rows; a side that has no value is None."""
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    return [
        (name.replace("_", " "), _shown(before.get(name)), _shown(after.get(name)))
        for name in dict.fromkeys([*before, *after])
        if name != "messages"
    ]


@register.filter
def review_first(app_list: list[dict]) -> list[dict]:
    """The admin index's apps with Gatekeeper first, its models in review order."""
    ours = [app for app in app_list if app.get("app_label") == "conversations"]
    for app in ours:
        rank = {name: position for position, name in enumerate(MODEL_ORDER)}
        app["models"] = sorted(app["models"], key=lambda model: rank.get(model["object_name"], len(rank)))
    return ours + [app for app in app_list if app.get("app_label") != "conversations"]


@register.filter
def policy_reasons(draft: Draft) -> list[str]:
    """The policy's reasons for holding the draft, minus the guards (they are listed on their own)."""
    return [
        reason for reason in (draft.decision or "").split("; ") if reason and not reason.startswith("guard ")
    ]


@register.filter
def percent(value: float | None) -> str:
    """0.9 -> "90%"."""
    return "" if value is None else f"{float(value):.0%}"


@register.filter
def is_low(draft: Draft) -> bool:
    """Whether the assistant was less sure than the owner asked for."""
    threshold = getattr(draft, "owner_threshold", None)
    return threshold is not None and draft.confidence < threshold


@register.inclusion_tag("admin/conversations/review_queue.html", takes_context=True)
def review_queue(context: template.Context) -> dict[str, Any]:
    """The panel on the admin index: what waits for the owner, newest first, with counts."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_active or not user.is_staff:
        return {"visible": False}
    can_drafts = user.has_perm("conversations.view_draft")
    can_conversations = user.has_perm("conversations.view_conversation")
    if not (can_drafts or can_conversations):
        return {"visible": False}
    return {
        "visible": True,
        "counts": selectors.review_counts(user),
        "drafts": list(selectors.pending_drafts(user)[:QUEUE_ROWS]) if can_drafts else [],
        "attention": list(selectors.conversations_needing_attention(user)[:QUEUE_ROWS])
        if can_conversations
        else [],
        "can_drafts": can_drafts,
        "can_conversations": can_conversations,
        "drafts_url": reverse("admin:conversations_draft_changelist"),
        "conversations_url": reverse("admin:conversations_conversation_changelist"),
    }


@register.simple_tag
def conversation_url(conversation_id: int, anchor: str = "") -> str:
    """The conversation's page in the dashboard, optionally at an anchor (e.g. "draft-12")."""
    url = reverse("admin:conversations_conversation_change", args=[conversation_id])
    return f"{url}#{anchor}" if anchor else url


@register.simple_tag
def draft_url(draft: Draft) -> str:
    """The draft in its conversation's page, where it is read in context and decided."""
    return conversation_url(draft.conversation_id, f"draft-{draft.pk}")


@register.filter
def escalation_reason(value: str | None) -> str:
    """An escalation's stored reason in plain words."""
    if not value:
        return ""
    return EscalationReason(value).label if value in EscalationReason.values else str(value)


@register.simple_tag(takes_context=True)
def live_dashboard(context: template.Context) -> SafeString:
    """The live page's anchor: the socket's path and what waits (for the title), plus review.js.

    review.js opens `WS /ws/dashboard/` and, on each doorbell, fetches the page again and swaps its
    `data-gk-live` parts; the count of pending drafts and conversations needing attention goes
    into the title as "(3) ...". Nothing for a visitor without a staff session.
    """
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_active or not user.is_staff:
        return mark_safe("")
    counts = selectors.review_counts(user)
    return format_html(
        '<span id="gk-live" hidden data-gk-socket="{}" data-gk-waiting="{}"></span>'
        '<script src="{}" defer></script>',
        "/ws/dashboard/",
        counts.pending_drafts + counts.needs_attention,
        static("conversations/review.js"),
    )

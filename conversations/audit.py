"""The audit trail: one write-once entry per owner decision, with who, when, and before/after.

Services call `record` inside their own transaction, so an entry exists exactly when the
change it describes was committed. Nothing here updates or deletes an entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

from conversations import dashboard_events
from conversations.models import AuditAction, AuditEntry, Conversation, Draft, User

#: What the trail shows instead of a private fact's value.
MASK = "••••••"

#: The longest text kept in one before/after value; the rest is cut with an ellipsis.
MAX_VALUE_LENGTH = 4000


def record(
    *,
    actor: User | None,
    action: AuditAction,
    owner_id: int,
    conversation: Conversation | None = None,
    draft: Draft | None = None,
    summary: str = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Write one entry; call it inside the transaction that makes the change."""
    dashboard_events.changed_ids(owner_id, conversation.pk if conversation is not None else None)
    return AuditEntry.objects.create(
        owner_id=owner_id,
        actor=actor if actor is not None and actor.pk else None,
        action=action,
        conversation=conversation,
        draft=draft,
        summary=summary[:300],
        before=_bounded(before or {}),
        after=_bounded(after or {}),
    )


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The named fields of a model instance as JSON-ready values."""
    return {name: _plain(getattr(instance, name)) for name in fields}


def masked(values: dict[str, Any], *, private: bool) -> dict[str, Any]:
    """A fact's snapshot as the trail may keep it: a private value never leaves the facts table."""
    if private and "value" in values:
        return {**values, "value": MASK}
    return values


def differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict, dict]:
    """Only the keys whose values changed, as (before, after); keys absent on one side count as changed."""
    keys = [key for key in {**before, **after} if before.get(key) != after.get(key)]
    return {k: before[k] for k in keys if k in before}, {k: after[k] for k in keys if k in after}


def _plain(value: Any) -> Any:
    """A value JSON can hold: model instances by primary key, choices by their stored value."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, str | int | float | bool | list | dict) or value is None:
        return value
    return str(value)


def _bounded(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: value[:MAX_VALUE_LENGTH] + "…"
        if isinstance(value, str) and len(value) > MAX_VALUE_LENGTH
        else value
        for key, value in values.items()
    }


def record_disclosure(draft: Draft, *, actor: User | None) -> AuditEntry | None:
    """The vault filled shared facts into a reply that is going out: say which, to whom."""
    if not draft.disclosed:
        return None
    conversation = draft.conversation
    keys = ", ".join(draft.disclosed)
    return record(
        actor=actor,
        action=AuditAction.DISCLOSE,
        owner_id=conversation.owner_id,
        conversation=conversation,
        draft=draft,
        summary=f"Shared {keys} with {conversation.contact} in draft #{draft.pk}",
        after={"facts": list(draft.disclosed)},
    )

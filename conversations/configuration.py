"""Changes to the owner's rules, facts and settings, each saved with an audit entry (admin and API alike).

Callers validate and assign the new values; these functions save or delete in one
transaction and record what changed. A private fact's value never enters the trail.
"""

from __future__ import annotations

from typing import TypeVar

from django.db import models, transaction

from conversations import audit
from conversations.models import AuditAction, Fact, OwnerSettings, Rule, User

RULE_FIELDS = ("category", "action", "instructions", "match_senders", "match_keywords")
FACT_FIELDS = ("key", "value", "private", "share_with")
SETTINGS_FIELDS = (
    "approval_mode",
    "confidence_threshold",
    "persona",
    "notify_email",
    "notify_whatsapp",
    "notify_template",
    "notify_template_language",
    "forward_calls_to",
    "digest_hour",
    "time_zone",
)

Owned = TypeVar("Owned", Rule, Fact, OwnerSettings)


def _view(instance: models.Model, values: dict) -> dict:
    """What the trail keeps of a snapshot: facts lose a private value."""
    if isinstance(instance, Fact):
        return audit.masked(values, private=bool(values.get("private")))
    return values


def _describe(instance: models.Model) -> str:
    if isinstance(instance, Rule):
        return f"rule {instance.category!r}"
    if isinstance(instance, Fact):
        return f"fact {instance.key!r}"
    return "settings"


def _save(instance: Owned, *, by: User, action: AuditAction, fields: tuple[str, ...]) -> Owned:
    with transaction.atomic():
        previous = (
            type(instance).objects.select_for_update().filter(pk=instance.pk).first() if instance.pk else None
        )
        before = audit.snapshot(previous, fields) if previous is not None else {}
        instance.save()
        after = audit.snapshot(instance, fields)
        changed_before, changed_after = audit.differences(before, after)
        if previous is not None and not changed_after and not changed_before:
            return instance
        if previous is None:
            summary = f"Created {_describe(instance)}"
        else:
            summary = f"Changed {_describe(instance)}: {', '.join(changed_after or changed_before)}"
        if isinstance(instance, Fact):
            # Whether the value changed shows even when both sides are masked.
            if before:
                changed_before = _view(instance, {**changed_before, "private": before["private"]})
            changed_after = _view(instance, {**changed_after, "private": after["private"]})
        audit.record(
            actor=by,
            action=action,
            owner_id=instance.owner_id,
            summary=summary,
            before=changed_before,
            after=changed_after,
        )
        return instance


def _delete(instance: Owned, *, by: User, action: AuditAction, fields: tuple[str, ...]) -> None:
    with transaction.atomic():
        before = _view(instance, audit.snapshot(instance, fields))
        description = _describe(instance)
        owner_id = instance.owner_id
        instance.delete()
        audit.record(
            actor=by, action=action, owner_id=owner_id, summary=f"Deleted {description}", before=before
        )


def rule_save(*, rule: Rule, by: User) -> Rule:
    """Create or change a rule (what happens to one category of conversation)."""
    return _save(rule, by=by, action=AuditAction.RULE, fields=RULE_FIELDS)


def rule_delete(*, rule: Rule, by: User) -> None:
    """Delete a rule; its category is then decided by the approval mode alone."""
    _delete(rule, by=by, action=AuditAction.RULE, fields=RULE_FIELDS)


def fact_save(*, fact: Fact, by: User) -> Fact:
    """Create or change a fact the assistant may know."""
    return _save(fact, by=by, action=AuditAction.FACT, fields=FACT_FIELDS)


def fact_delete(*, fact: Fact, by: User) -> None:
    """Delete a fact."""
    _delete(fact, by=by, action=AuditAction.FACT, fields=FACT_FIELDS)


def owner_settings_save(*, owner_settings: OwnerSettings, by: User) -> OwnerSettings:
    """Change how much the owner delegates and how the assistant sounds."""
    return _save(owner_settings, by=by, action=AuditAction.SETTINGS, fields=SETTINGS_FIELDS)

"""The audit trail: every owner decision and settings change is recorded once, with who and when, and is read-only."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from conversations.models import AuditAction, AuditEntry, Fact, OwnerSettings, Rule
from conversations.tests.review_support import logged_in, staff_owner

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return staff_owner("carol")


@pytest.fixture
def client_alice(alice):
    return logged_in(alice)


def entries() -> list[tuple[str, str]]:
    return list(AuditEntry.objects.order_by("id").values_list("action", "summary"))


def test_api_decisions_are_recorded_with_actor_and_time(
    client_a, owner_a, conversation_a, make_draft, make_conversation, django_capture_on_commit_callbacks
):
    before = timezone.now()
    edited = make_draft(conversation_a)
    rejected = make_draft(make_conversation(owner_a, contact_address="5511000000009"))
    with django_capture_on_commit_callbacks(execute=True):
        client_a.post(f"/api/drafts/{edited.pk}/approve", {"text": "No thanks."}, format="json")
        client_a.post(f"/api/drafts/{rejected.pk}/reject")
        client_a.post(f"/api/conversations/{conversation_a.pk}/takeover")
        client_a.post(f"/api/conversations/{conversation_a.pk}/reply", {"text": "Call me."}, format="json")
        client_a.post(f"/api/conversations/{conversation_a.pk}/release")

    assert [action for action, _ in entries()] == [
        AuditAction.EDIT,
        AuditAction.APPROVE,
        AuditAction.REJECT,
        AuditAction.TAKE_OVER,
        AuditAction.MANUAL_REPLY,
        AuditAction.RELEASE,
    ]
    assert set(AuditEntry.objects.values_list("actor", "owner")) == {(owner_a.pk, owner_a.pk)}
    assert all(entry.created_at >= before for entry in AuditEntry.objects.all())
    edit = AuditEntry.objects.get(action=AuditAction.EDIT)
    assert (edit.before, edit.after, edit.draft_id) == (
        {"text": "No, thank you."},
        {"text": "No thanks."},
        edited.pk,
    )
    reply = AuditEntry.objects.get(action=AuditAction.MANUAL_REPLY)
    assert reply.after["text"] == "Call me."


def test_taking_over_twice_is_recorded_once(client_a, conversation_a):
    client_a.post(f"/api/conversations/{conversation_a.pk}/takeover")
    client_a.post(f"/api/conversations/{conversation_a.pk}/takeover")

    assert entries() == [(AuditAction.TAKE_OVER, "Took the conversation over")]


def test_taking_over_says_how_many_drafts_were_withdrawn(client_a, conversation_a, draft_a):
    client_a.post(f"/api/conversations/{conversation_a.pk}/takeover")

    assert entries() == [(AuditAction.TAKE_OVER, "Took the conversation over; 1 pending draft(s) withdrawn")]


def test_api_settings_rule_and_fact_changes_are_recorded(client_a, owner_a):
    client_a.patch("/user-settings/", {"approval_mode": "always"}, format="json")
    rule = client_a.post(
        "/user-settings/rules/", {"category": "bank", "action": "draft"}, format="json"
    ).json()
    client_a.patch(f"/user-settings/rules/{rule['id']}/", {"action": "auto"}, format="json")
    client_a.delete(f"/user-settings/rules/{rule['id']}/")
    fact = client_a.post(
        "/user-settings/facts/", {"key": "city", "value": "Porto", "private": False}, format="json"
    )

    assert entries() == [
        (AuditAction.SETTINGS, "Changed settings: approval_mode"),
        (AuditAction.RULE, "Created rule 'bank'"),
        (AuditAction.RULE, "Changed rule 'bank': action"),
        (AuditAction.RULE, "Deleted rule 'bank'"),
        (AuditAction.FACT, "Created fact 'city'"),
    ]
    settings_change = AuditEntry.objects.get(action=AuditAction.SETTINGS)
    assert (settings_change.before, settings_change.after) == (
        {"approval_mode": "when_unsure"},
        {"approval_mode": "always"},
    )
    rule_change = AuditEntry.objects.get(summary="Changed rule 'bank': action")
    assert (rule_change.before, rule_change.after) == ({"action": "draft"}, {"action": "auto"})
    assert fact.status_code == 201
    assert AuditEntry.objects.get(action=AuditAction.FACT).after["value"] == "Porto"


def test_a_private_fact_value_never_enters_the_trail(client_a):
    created = client_a.post(
        "/user-settings/facts/",
        {"key": "card", "value": "4111 1111 1111 1111", "private": True},
        format="json",
    ).json()
    client_a.patch(f"/user-settings/facts/{created['id']}/", {"value": "5500 0000 0000 0004"}, format="json")
    client_a.patch(f"/user-settings/facts/{created['id']}/", {"private": False}, format="json")
    client_a.delete(f"/user-settings/facts/{created['id']}/")

    dumped = json.dumps(list(AuditEntry.objects.filter(summary__contains="'card'").values("before", "after")))
    assert "4111" not in dumped
    change = AuditEntry.objects.get(summary="Changed fact 'card': value")
    assert change.before["value"] == change.after["value"] == "••••••", "a change shows, its value does not"
    published = AuditEntry.objects.get(summary="Changed fact 'card': private")
    assert (published.before, published.after) == ({"private": True}, {"private": False})


def test_saving_without_a_change_records_nothing(client_a, owner_a):
    rule = Rule.objects.create(owner=owner_a, category="bank")

    client_a.put(f"/user-settings/rules/{rule.pk}/", {"category": "bank", "action": "draft"}, format="json")

    assert entries() == []


def test_admin_settings_rule_and_fact_changes_are_recorded(client_alice, alice):
    OwnerSettings.objects.create(owner=alice)
    settings_url = reverse("admin:conversations_ownersettings_change", args=[alice.gatekeeper_settings.pk])
    client_alice.post(
        settings_url,
        {"approval_mode": "never", "confidence_threshold": "0.9", "persona": "Terse.", "notify_email": ""},
    )
    client_alice.post(
        reverse("admin:conversations_rule_add"),
        {"category": "bank", "action": "escalate", "match_keywords": "pix"},
    )
    client_alice.post(
        reverse("admin:conversations_fact_add"), {"key": "pin", "value": "9876", "private": "on"}
    )
    fact = Fact.objects.get(key="pin")
    client_alice.post(reverse("admin:conversations_fact_delete", args=[fact.pk]), {"post": "yes"})

    assert entries() == [
        (AuditAction.SETTINGS, "Changed settings: approval_mode, confidence_threshold, persona"),
        (AuditAction.RULE, "Created rule 'bank'"),
        (AuditAction.FACT, "Created fact 'pin'"),
        (AuditAction.FACT, "Deleted fact 'pin'"),
    ]
    assert set(AuditEntry.objects.values_list("actor", flat=True)) == {alice.pk}
    assert "9876" not in json.dumps(list(AuditEntry.objects.values("before", "after")))
    assert Rule.objects.get(category="bank").match_keywords == ["pix"]


def test_bulk_deleting_rules_records_each(client_alice, alice):
    rules = [Rule.objects.create(owner=alice, category=name) for name in ("bank", "spam")]

    client_alice.post(
        reverse("admin:conversations_rule_changelist"),
        {"action": "delete_selected", "_selected_action": [rule.pk for rule in rules], "post": "yes"},
    )

    assert not Rule.objects.exists()
    assert sorted(summary for _, summary in entries()) == ["Deleted rule 'bank'", "Deleted rule 'spam'"]


def test_the_trail_cannot_be_added_changed_or_deleted_from_the_admin(
    client_alice, alice, client_a, conversation_a
):
    client_a.post(f"/api/conversations/{conversation_a.pk}/takeover")
    entry = AuditEntry.objects.get()
    AuditEntry.objects.filter(pk=entry.pk).update(owner=alice)

    add = client_alice.get(reverse("admin:conversations_auditentry_add"))
    change = client_alice.post(
        reverse("admin:conversations_auditentry_change", args=[entry.pk]), {"summary": "rewritten"}
    )
    delete = client_alice.post(
        reverse("admin:conversations_auditentry_delete", args=[entry.pk]), {"post": "yes"}
    )
    view = client_alice.get(reverse("admin:conversations_auditentry_change", args=[entry.pk]))
    changelist = client_alice.get(reverse("admin:conversations_auditentry_changelist")).content.decode()

    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert view.status_code == 200
    assert 'name="summary"' not in view.content.decode()
    assert "delete_selected" not in changelist
    entry.refresh_from_db()
    assert entry.summary == "Took the conversation over"


def test_the_conversation_page_shows_who_did_what(client_alice, alice, make_conversation, make_draft):
    conversation = make_conversation(alice)
    draft = make_draft(conversation)
    client_alice.post(
        reverse("admin:conversations_draft_decide", args=[draft.pk]),
        {"decision": "save", "text": "Edited reply"},
    )
    client_alice.post(reverse("admin:conversations_conversation_take_over", args=[conversation.pk]))

    page = client_alice.get(
        reverse("admin:conversations_conversation_change", args=[conversation.pk])
    ).content.decode()
    history = page[page.index('class="gk-history"') :]

    assert history.index("Took the conversation over") < history.index(f"Edited draft #{draft.pk}"), (
        "newest first"
    )
    assert "<strong>carol</strong>" in history
    assert "<del>No, thank you.</del>" in history and "<ins>Edited reply</ins>" in history


def test_a_changed_call_forwarding_number_is_recorded(client_a, owner_a):
    response = client_a.patch("/user-settings/", {"forward_calls_to": "+14155550123"}, format="json")

    assert response.status_code == 200, response.content
    change = AuditEntry.objects.get(action=AuditAction.SETTINGS)
    assert change.summary == "Changed settings: forward_calls_to"
    assert change.after == {"forward_calls_to": "+14155550123"}

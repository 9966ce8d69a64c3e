"""Owner scoping in the admin: a staff owner never sees or changes another owner's rows, by any URL."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from rest_framework.authtoken.models import Token, TokenProxy

from conversations import jobs
from conversations.models import (
    AuditEntry,
    ChannelAccount,
    Contact,
    Conversation,
    Delivery,
    Draft,
    DraftStatus,
    Escalation,
    EscalationReason,
    Fact,
    Message,
    OwnerSettings,
    Rule,
    User,
)
from conversations.services import draft_reject
from conversations.tests.review_support import logged_in, staff_owner

pytestmark = pytest.mark.django_db

#: Words that only owner B's rows contain; none may appear on any page owner A can open.
B_MARKERS = ["Bobs Bank Ltd", "bob-only-category", "bob-secret-key", "Bob's private reply", "Bob decided"]


#: Models whose admin only a superuser sees: a staff owner is refused their pages outright.
SUPERUSER_ONLY = {"delivery"}


@pytest.fixture
def alice():
    return staff_owner("alice")


@pytest.fixture
def bob():
    return staff_owner("bob")


@pytest.fixture
def b_rows(bob, make_conversation, make_draft) -> dict:
    """One of each of owner B's rows, by model name."""
    conversation = make_conversation(
        bob, contact_name="Bobs Bank Ltd", contact_address="4420000000000", category="bob-only-category"
    )
    draft = make_draft(conversation, text="Bob's private reply")
    decided = Draft.objects.create(
        conversation=conversation, text="Bob's private reply, rejected", answers_through=0
    )
    draft_reject(draft_id=decided.pk, by=bob)
    AuditEntry.objects.filter(owner=bob).update(summary="Bob decided")
    return {
        "conversation": conversation,
        "draft": draft,
        "message": conversation.messages.get(),
        "escalation": Escalation.objects.create(conversation=conversation, reason=EscalationReason.GUARD),
        "rule": Rule.objects.create(owner=bob, category="bob-only-category", instructions="Bob decided"),
        "fact": Fact.objects.create(owner=bob, key="bob-secret-key", value="4111 1111 1111 1111"),
        "ownersettings": OwnerSettings.objects.create(owner=bob, persona="Bob decided"),
        "contact": conversation.contact,
        "channelaccount": conversation.account,
        "auditentry": AuditEntry.objects.get(owner=bob),
        "user": bob,
        "tokenproxy": TokenProxy.objects.get(pk=Token.objects.create(user=bob).pk),
        # Not Bob's alone: a webhook body may carry several owners' messages (superusers only).
        "delivery": Delivery.objects.create(provider="whatsapp", body=b'{"name": "Bobs Bank Ltd"}'),
    }


@pytest.fixture
def a_rows(alice, make_conversation, make_draft) -> dict:
    """Owner A's own rows, so A's pages have something of their own to show."""
    conversation = make_conversation(alice, contact_name="Alice Telco", contact_address="5511999990000")
    make_draft(conversation)
    Rule.objects.create(owner=alice, category="alice-category")
    Fact.objects.create(owner=alice, key="alice-key", value="visible")
    Token.objects.create(user=alice)
    return {"conversation": conversation}


def _url(name: str, *args: object) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _opts(model_name: str) -> tuple[str, str]:
    if model_name == "tokenproxy":
        return "authtoken", "tokenproxy"
    return "conversations", model_name


def test_every_registered_model_of_owners_is_covered(b_rows):
    owned_models = {
        model._meta.model_name
        for model in admin.site._registry
        if model._meta.app_label in ("conversations", "authtoken")
    }

    assert owned_models == set(b_rows)


def test_another_owners_rows_never_appear_in_lists_filters_or_the_queue(alice, a_rows, b_rows):
    client = logged_in(alice)
    pages = {"index": client.get(reverse("admin:index"))}
    for model_name in b_rows:
        app, name = _opts(model_name)
        everything = "?status=all" if model_name == "draft" else ""
        pages[model_name] = client.get(reverse(f"admin:{app}_{name}_changelist") + everything)
    pages["draft search"] = client.get(reverse("admin:conversations_draft_changelist") + "?status=all&q=Bob")
    pages["conversation search"] = client.get(
        reverse("admin:conversations_conversation_changelist") + "?q=Bob"
    )

    for page_name, response in pages.items():
        assert response.status_code == (403 if page_name in SUPERUSER_ONLY else 200), page_name
        body = response.content.decode()
        leaked = [marker for marker in B_MARKERS if marker.replace("'", "&#x27;") in body or marker in body]
        assert leaked == [], f"{page_name} shows {leaked}"
    assert "Alice Telco" in pages["conversation"].content.decode()


@pytest.mark.parametrize("view", ["change", "history", "delete"])
def test_another_owners_rows_are_not_found_by_id(alice, b_rows, view):
    client = logged_in(alice)

    for model_name, row in b_rows.items():
        app, name = _opts(model_name)
        pk = row.user_id if model_name == "tokenproxy" else row.pk
        url = _url(f"admin:{app}_{name}_{view}", pk)
        if url is None:
            continue
        response = client.get(url)
        assert response.status_code in (302, 403, 404), (model_name, response.status_code)
        if response.status_code == 302:
            assert response["Location"] == reverse("admin:index"), model_name
        body = response.content.decode()
        assert not [marker for marker in B_MARKERS if marker in body], model_name


def test_posting_to_another_owners_rows_changes_nothing(alice, b_rows, django_capture_on_commit_callbacks):
    client = logged_in(alice)
    draft, conversation = b_rows["draft"], b_rows["conversation"]

    with django_capture_on_commit_callbacks(execute=True):
        answers = {
            "decide": client.post(
                reverse("admin:conversations_draft_decide", args=[draft.pk]),
                {"decision": "approve", "text": "hijack"},
            ).status_code,
            "take over": client.post(
                reverse("admin:conversations_conversation_take_over", args=[conversation.pk])
            ).status_code,
            "release": client.post(
                reverse("admin:conversations_conversation_release", args=[conversation.pk])
            ).status_code,
            "reply": client.post(
                reverse("admin:conversations_conversation_reply", args=[conversation.pk]), {"text": "hijack"}
            ).status_code,
            "rule": client.post(
                reverse("admin:conversations_rule_change", args=[b_rows["rule"].pk]),
                {"category": "stolen", "action": "auto"},
            ).status_code,
            "fact": client.post(
                reverse("admin:conversations_fact_change", args=[b_rows["fact"].pk]),
                {"key": "k", "value": "leaked"},
            ).status_code,
            "settings": client.post(
                reverse("admin:conversations_ownersettings_change", args=[b_rows["ownersettings"].pk]),
                {"approval_mode": "never", "confidence_threshold": "0"},
            ).status_code,
            "delete rule": client.post(
                reverse("admin:conversations_rule_delete", args=[b_rows["rule"].pk]), {"post": "yes"}
            ).status_code,
            "user": client.post(
                reverse("admin:conversations_user_change", args=[b_rows["user"].pk]), {"username": "pwned"}
            ).status_code,
            "password": client.post(
                reverse("admin:auth_user_password_change", args=[b_rows["user"].pk])
                if _url("admin:auth_user_password_change", b_rows["user"].pk)
                else reverse("admin:conversations_user_password_change", args=[b_rows["user"].pk]),
                {"password1": "x-Pwned-123456", "password2": "x-Pwned-123456"},
            ).status_code,
        }
        for changelist, action, pk in [
            ("conversations_draft_changelist", "approve_selected", draft.pk),
            ("conversations_draft_changelist", "reject_selected", draft.pk),
            ("conversations_conversation_changelist", "take_over_selected", conversation.pk),
            ("conversations_rule_changelist", "delete_selected", b_rows["rule"].pk),
            ("conversations_fact_changelist", "delete_selected", b_rows["fact"].pk),
        ]:
            client.post(
                reverse(f"admin:{changelist}"), {"action": action, "_selected_action": [pk], "post": "yes"}
            )

    assert all(code in (302, 403, 404) for code in answers.values()), answers
    draft.refresh_from_db()
    conversation.refresh_from_db()
    assert (draft.status, draft.text) == (DraftStatus.PENDING, "Bob's private reply")
    assert conversation.bot_paused is False
    assert Message.objects.filter(conversation=conversation).count() == 1
    assert Rule.objects.get(pk=b_rows["rule"].pk).category == "bob-only-category"
    assert Fact.objects.get(pk=b_rows["fact"].pk).value == "4111 1111 1111 1111"
    assert OwnerSettings.objects.get(pk=b_rows["ownersettings"].pk).approval_mode == "when_unsure"
    bob = User.objects.get(pk=b_rows["user"].pk)
    assert bob.username == "bob" and bob.check_password("bob-password")
    assert jobs.recorded == []
    assert not AuditEntry.objects.filter(actor__username="alice").exists()


def test_a_staff_owner_cannot_grant_themselves_powers(alice):
    client = logged_in(alice)

    page = client.get(reverse("admin:conversations_user_change", args=[alice.pk])).content.decode()

    assert 'name="is_superuser"' not in page
    assert 'name="user_permissions"' not in page
    assert client.get(reverse("admin:conversations_user_add")).status_code == 403


def test_new_rows_of_a_staff_owner_belong_to_them(alice, bob):
    client = logged_in(alice)

    page = client.get(reverse("admin:conversations_rule_add")).content.decode()
    response = client.post(
        reverse("admin:conversations_rule_add"),
        {
            "category": "bank",
            "action": "draft",
            "owner": bob.pk,
            "match_senders": "",
            "match_keywords": "pix\nboleto",
        },
    )

    assert 'name="owner"' not in page
    assert response.status_code == 302
    rule = Rule.objects.get(category="bank")
    assert rule.owner == alice
    assert rule.match_keywords == ["pix", "boleto"]


def test_a_duplicate_category_is_a_form_error_not_a_crash(alice):
    Rule.objects.create(owner=alice, category="bank")

    response = logged_in(alice).post(
        reverse("admin:conversations_rule_add"), {"category": "bank", "action": "auto"}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Rule.objects.filter(owner=alice, category="bank").count() == 1


def test_another_owner_may_use_the_same_category(alice, bob):
    Rule.objects.create(owner=bob, category="bank")

    response = logged_in(alice).post(
        reverse("admin:conversations_rule_add"), {"category": "bank", "action": "draft"}
    )

    assert response.status_code == 302
    assert Rule.objects.filter(category="bank").count() == 2


def test_a_superuser_sees_every_owner(a_rows, b_rows):
    root = User.objects.create_superuser(username="root", password="root-password", email="root@example.com")
    client = logged_in(root)

    conversations = client.get(reverse("admin:conversations_conversation_changelist")).content.decode()
    rules = client.get(reverse("admin:conversations_rule_changelist")).content.decode()

    assert "Bobs Bank Ltd" in conversations and "Alice Telco" in conversations
    assert "bob-only-category" in rules and "alice-category" in rules
    assert Conversation.objects.count() == 2
    assert ChannelAccount.objects.count() == Contact.objects.count() == 2

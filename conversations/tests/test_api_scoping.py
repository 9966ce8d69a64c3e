"""Owner scoping: owner B never sees or changes owner A's conversations, drafts, rules or facts."""

from __future__ import annotations

import pytest

from conversations import jobs
from conversations.models import DraftStatus, Fact, Message, Rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def a_things(owner_a, conversation_a, draft_a):
    """One of each of owner A's objects, by kind."""
    return {
        "conversation": conversation_a,
        "draft": draft_a,
        "rule": Rule.objects.create(owner=owner_a, category="bank", match_keywords=["pix"]),
        "fact": Fact.objects.create(owner=owner_a, key="cpf", value="123.456.789-00"),
    }


def _requests(things):
    conversation, draft, rule, fact = (things[k].pk for k in ("conversation", "draft", "rule", "fact"))
    return [
        ("get", f"/api/conversations/{conversation}/", None),
        ("post", f"/api/conversations/{conversation}/takeover", None),
        ("post", f"/api/conversations/{conversation}/release", None),
        ("post", f"/api/conversations/{conversation}/reply", {"text": "hello from B"}),
        ("get", f"/api/drafts/{draft}/", None),
        ("post", f"/api/drafts/{draft}/approve", None),
        ("post", f"/api/drafts/{draft}/approve", {"text": "B's words"}),
        ("post", f"/api/drafts/{draft}/reject", None),
        ("get", f"/user-settings/rules/{rule}/", None),
        ("patch", f"/user-settings/rules/{rule}/", {"action": "auto"}),
        ("put", f"/user-settings/rules/{rule}/", {"category": "bank", "action": "auto"}),
        ("delete", f"/user-settings/rules/{rule}/", None),
        ("get", f"/user-settings/facts/{fact}/", None),
        ("patch", f"/user-settings/facts/{fact}/", {"value": "leaked"}),
        ("put", f"/user-settings/facts/{fact}/", {"key": "cpf", "value": "leaked"}),
        ("delete", f"/user-settings/facts/{fact}/", None),
    ]


def test_another_owners_objects_are_404_for_every_method_and_action(
    client_b, a_things, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        answers = {
            (method, path): getattr(client_b, method)(path, body, format="json").status_code
            for method, path, body in _requests(a_things)
        }

    assert set(answers.values()) == {404}, answers
    conversation, draft = a_things["conversation"], a_things["draft"]
    conversation.refresh_from_db()
    draft.refresh_from_db()
    assert conversation.bot_paused is False
    assert (draft.status, draft.text) == (DraftStatus.PENDING, "No, thank you.")
    assert Rule.objects.get(pk=a_things["rule"].pk).action == "draft"
    assert Fact.objects.get(pk=a_things["fact"].pk).value == "123.456.789-00"
    assert Message.objects.filter(conversation=conversation).count() == 1
    assert jobs.recorded == []


def test_another_owners_objects_never_appear_in_lists(
    client_b, owner_b, a_things, make_conversation, make_draft
):
    own_draft = make_draft(make_conversation(owner_b, contact_address="5521988880000"))

    conversations = client_b.get("/api/conversations/").json()["results"]
    drafts = client_b.get("/api/drafts/?status=pending").json()["results"]
    rules = client_b.get("/user-settings/rules/").json()["results"]
    facts = client_b.get("/user-settings/facts/").json()["results"]

    assert [c["id"] for c in conversations] == [own_draft.conversation_id]
    assert [d["id"] for d in drafts] == [own_draft.pk]
    assert rules == []
    assert facts == []


def test_drafts_filtered_by_another_owners_conversation_are_empty(client_b, a_things):
    response = client_b.get(f"/api/drafts/?conversation={a_things['conversation'].pk}")

    assert response.json()["results"] == []


def test_settings_are_per_owner(client_a, client_b, owner_a, owner_b):
    client_a.patch("/user-settings/", {"approval_mode": "never"}, format="json")

    assert client_b.get("/user-settings/").json()["approval_mode"] == "when_unsure"
    assert client_a.get("/user-settings/").json()["approval_mode"] == "never"


def test_a_new_rule_belongs_to_the_requester_even_if_the_body_names_another_owner(client_b, owner_a, owner_b):
    response = client_b.post(
        "/user-settings/rules/", {"category": "spam", "owner": owner_a.pk}, format="json"
    )

    assert response.status_code == 201
    assert Rule.objects.get(pk=response.json()["id"]).owner == owner_b

"""Conversations over REST: list, detail with messages, take over, release and reply by hand."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations import jobs
from conversations.models import (
    Author,
    Conversation,
    ConversationStatus,
    Direction,
    DraftStatus,
    Message,
    MessageStatus,
)

pytestmark = pytest.mark.django_db


def test_conversation_list_has_the_contract_fields_without_messages(client_a, conversation_a, make_draft):
    make_draft(conversation_a)

    response = client_a.get("/api/conversations/")

    assert response.status_code == 200
    (item,) = response.json()["results"]
    assert item["id"] == conversation_a.pk
    assert item["channel"] == "whatsapp"
    assert item["contact"] == {"address": "5511999990000", "name": "Telco Support"}
    assert (item["category"], item["status"], item["bot_paused"]) == ("cellphone_provider", "open", False)
    assert item["pending_drafts"] == 1
    assert "messages" not in item, "the list stays cheap; open a conversation for its messages"


def test_conversation_list_is_newest_activity_first(client_a, owner_a, make_conversation):
    quiet = make_conversation(owner_a, contact_address="1")
    busy = make_conversation(owner_a, contact_address="2")
    quiet.save()  # activity: touches updated_at

    ids = [c["id"] for c in client_a.get("/api/conversations/").json()["results"]]

    assert ids == [quiet.pk, busy.pk]


def test_conversation_list_filters_by_status_and_category(client_a, owner_a, make_conversation):
    bank = make_conversation(owner_a, contact_address="1", category="bank")
    make_conversation(owner_a, contact_address="2", category="spam")
    attention = make_conversation(owner_a, contact_address="3", category="bank")
    Conversation.objects.filter(pk=attention.pk).update(status=ConversationStatus.NEEDS_ATTENTION)

    by_category = client_a.get("/api/conversations/?category=bank").json()["results"]
    by_status = client_a.get("/api/conversations/?status=needs_attention").json()["results"]

    assert sorted(c["id"] for c in by_category) == [bank.pk, attention.pk]
    assert [c["id"] for c in by_status] == [attention.pk]
    assert client_a.get("/api/conversations/?status=asleep").status_code == 400


def test_conversation_list_query_count_does_not_grow_with_conversations(
    client_a, owner_a, make_conversation, make_draft
):
    make_draft(make_conversation(owner_a, contact_address="0"))
    with CaptureQueriesContext(connection) as one:
        assert client_a.get("/api/conversations/").status_code == 200
    for n in range(1, 8):
        make_draft(make_conversation(owner_a, contact_address=str(n)))

    with CaptureQueriesContext(connection) as eight:
        assert len(client_a.get("/api/conversations/").json()["results"]) == 8

    assert len(eight) == len(one), [q["sql"] for q in eight.captured_queries]


def test_draft_list_query_count_does_not_grow_with_drafts(client_a, owner_a, make_conversation, make_draft):
    make_draft(make_conversation(owner_a, contact_address="0"))
    with CaptureQueriesContext(connection) as one:
        client_a.get("/api/drafts/")
    for n in range(1, 6):
        make_draft(make_conversation(owner_a, contact_address=str(n)))

    with CaptureQueriesContext(connection) as six:
        assert len(client_a.get("/api/drafts/").json()["results"]) == 6

    assert len(six) == len(one)


def test_conversation_detail_has_its_messages_oldest_first(client_a, conversation_a):
    failed = Message.objects.create(
        conversation=conversation_a,
        account=conversation_a.account,
        direction=Direction.OUT,
        author=Author.ASSISTANT,
        text="We will call you.",
        status=MessageStatus.FAILED,
        error_code="131047",
        error_detail="Re-engagement message",
    )

    response = client_a.get(f"/api/conversations/{conversation_a.pk}")

    assert response.status_code == 200
    body = response.json()
    assert {"id", "channel", "contact", "category", "status", "bot_paused", "messages"} <= set(body)
    first, second = body["messages"]
    assert {"id", "direction", "author", "text", "kind", "status", "created_at"} <= set(first)
    assert (first["direction"], first["author"], first["status"]) == ("in", "contact", "received")
    assert second["id"] == failed.pk
    assert (second["error_code"], second["error_detail"]) == ("131047", "Re-engagement message")


def test_takeover_pauses_the_bot_and_withdraws_pending_drafts(client_a, conversation_a, draft_a):
    response = client_a.post(f"/api/conversations/{conversation_a.pk}/takeover")

    assert response.status_code == 200
    assert response.json()["bot_paused"] is True
    assert response.json()["pending_drafts"] == 0
    conversation_a.refresh_from_db()
    draft_a.refresh_from_db()
    assert conversation_a.bot_paused is True
    assert draft_a.status == DraftStatus.WITHDRAWN


def test_release_hands_the_conversation_back(client_a, conversation_a):
    client_a.post(f"/api/conversations/{conversation_a.pk}/takeover/")

    response = client_a.post(f"/api/conversations/{conversation_a.pk}/release")

    assert response.status_code == 200
    assert response.json()["bot_paused"] is False
    conversation_a.refresh_from_db()
    latest_inbound = conversation_a.messages.filter(direction=Direction.IN).latest("id")
    assert conversation_a.bot_paused is False
    assert conversation_a.handled_through == latest_inbound.pk


def test_reply_queues_the_owners_message_and_takes_over(
    client_a, conversation_a, draft_a, django_capture_on_commit_callbacks, graph_api
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(
            f"/api/conversations/{conversation_a.pk}/reply", {"text": "I'll call you myself."}, format="json"
        )

    assert response.status_code == 202, response.content
    (message,) = response.json()["messages"]
    assert (message["direction"], message["author"], message["status"], message["text"]) == (
        "out",
        "owner",
        "queued",
        "I'll call you myself.",
    )
    stored = Message.objects.get(pk=message["id"])
    assert (stored.author, stored.status) == (Author.OWNER, MessageStatus.QUEUED)
    assert [job.path for job in jobs.recorded] == ["conversations.tasks.send_pending"]
    assert graph_api.requests == [], "nothing is sent inside the request"
    conversation_a.refresh_from_db()
    draft_a.refresh_from_db()
    assert conversation_a.bot_paused is True
    assert draft_a.status == DraftStatus.WITHDRAWN


@pytest.mark.parametrize("body", [{"text": ""}, {"text": "   "}, {}])
def test_reply_without_text_is_a_400(client_a, conversation_a, body):
    response = client_a.post(f"/api/conversations/{conversation_a.pk}/reply", body, format="json")

    assert response.status_code == 400
    assert "text" in response.json()
    assert not Message.objects.filter(direction=Direction.OUT).exists()

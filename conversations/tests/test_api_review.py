"""The review rules over REST: stale drafts need a confirmed fresh look, and deciding needs the approval permission."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from conversations import jobs
from conversations.models import Author, Direction, DraftStatus, Message, MessageStatus, User
from conversations.tests.conftest import token_client

pytestmark = pytest.mark.django_db


def provider_writes(conversation, text: str = "Hello? Anyone?") -> Message:
    return Message.objects.create(
        conversation=conversation,
        account=conversation.account,
        direction=Direction.IN,
        author=Author.CONTACT,
        text=text,
        status=MessageStatus.RECEIVED,
    )


def test_a_stale_draft_is_a_409_naming_the_message_to_confirm(
    client_a, draft_a, django_capture_on_commit_callbacks
):
    newer = provider_writes(draft_a.conversation)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(f"/api/drafts/{draft_a.pk}/approve", {"text": "Edited."}, format="json")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "stale_draft"
    assert body["newest_message"] == newer.pk
    assert "1 newer message(s) from the provider" in body["detail"]
    draft_a.refresh_from_db()
    assert (draft_a.status, draft_a.text) == (DraftStatus.PENDING, "No, thank you.")
    assert jobs.recorded == []


def test_a_stale_draft_is_approved_once_the_newest_message_is_confirmed(
    client_a, draft_a, django_capture_on_commit_callbacks
):
    newer = provider_writes(draft_a.conversation)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(
            f"/api/drafts/{draft_a.pk}/approve", {"text": "Edited.", "seen_through": newer.pk}, format="json"
        )

    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["text"]) == ("approved", "Edited.")
    assert [job.path for job in jobs.recorded] == ["conversations.tasks.send_pending"]


def test_confirming_an_older_message_is_not_enough(client_a, draft_a):
    seen = provider_writes(draft_a.conversation, "First")
    provider_writes(draft_a.conversation, "Second, not read yet")

    response = client_a.post(f"/api/drafts/{draft_a.pk}/approve", {"seen_through": seen.pk}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "stale_draft"


def test_an_owner_reply_after_the_draft_also_makes_it_stale(client_a, draft_a):
    Message.objects.create(
        conversation=draft_a.conversation,
        account=draft_a.conversation.account,
        direction=Direction.OUT,
        author=Author.OWNER,
        text="I answered myself.",
        status=MessageStatus.SENT,
    )

    response = client_a.post(f"/api/drafts/{draft_a.pk}/approve")

    assert response.status_code == 409
    assert "1 reply(ies) you wrote by hand" in response.json()["detail"]


def test_drafts_say_whether_they_are_stale_and_who_decided(
    client_a, owner_a, draft_a, make_conversation, make_draft
):
    decided = make_draft(make_conversation(owner_a, contact_address="5511000000001"))
    client_a.post(f"/api/drafts/{decided.pk}/reject")
    provider_writes(draft_a.conversation)

    drafts = {d["id"]: d for d in client_a.get("/api/drafts/").json()["results"]}

    assert drafts[draft_a.pk]["stale"] is True
    assert drafts[decided.pk]["stale"] is False
    assert drafts[decided.pk]["decided_by"] == owner_a.username


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_deciding_over_the_api_needs_the_approval_permission(owner_a, draft_a, decision):
    owner_a.user_permissions.remove(Permission.objects.get(codename="approve_draft"))
    client = token_client(User.objects.get(pk=owner_a.pk))

    response = client.post(f"/api/drafts/{draft_a.pk}/{decision}")

    assert response.status_code == 403
    assert "Can approve or reject drafts" in response.json()["detail"]
    draft_a.refresh_from_db()
    assert draft_a.status == DraftStatus.PENDING
    assert client.get(f"/api/drafts/{draft_a.pk}/").status_code == 200, "reading needs no approval permission"


def test_the_schema_documents_staleness_and_the_permission(client):
    schema = client.get("/api/schema/?format=json").json()
    approve = schema["paths"]["/api/drafts/{id}/approve"]["post"]
    body = schema["components"]["schemas"]["DraftApprove"]["properties"]

    assert "seen_through" in body
    assert {"403", "409"} <= set(approve["responses"])
    assert approve["responses"]["409"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/DraftRefused"
    )
    assert "stale" in schema["components"]["schemas"]["Draft"]["properties"]

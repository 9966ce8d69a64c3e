"""Drafts over REST: list, read, approve (optionally edited) and reject, through the owner services."""

from __future__ import annotations

import pytest

from conversations import jobs
from conversations.models import Author, Direction, Draft, DraftStatus, Message, MessageStatus

pytestmark = pytest.mark.django_db

SEND_JOB = "conversations.tasks.send_pending"


def test_drafts_list_newest_first_with_the_contract_fields(
    client_a, conversation_a, make_draft, make_conversation, owner_a
):
    older = make_draft(conversation_a)
    newer = make_draft(make_conversation(owner_a, contact_address="5511300030003", contact_name="Light Co"))

    response = client_a.get("/api/drafts/")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [d["id"] for d in results] == [newer.pk, older.pk]
    assert {"id", "conversation", "status", "text", "category", "confidence", "reason"} <= set(results[0])
    assert results[1]["conversation"] == conversation_a.pk
    assert results[1]["contact"] == {"address": "5511999990000", "name": "Telco Support"}
    assert results[1]["status"] == "pending"


def test_drafts_filter_by_status(client_a, conversation_a, make_draft, make_conversation, owner_a):
    pending = make_draft(conversation_a)
    make_draft(make_conversation(owner_a, contact_address="5511300030003"), status=DraftStatus.REJECTED)

    response = client_a.get("/api/drafts/?status=pending")

    assert [d["id"] for d in response.json()["results"]] == [pending.pk]


def test_drafts_filter_by_an_unknown_status_is_a_400(client_a):
    response = client_a.get("/api/drafts/?status=maybe")

    assert response.status_code == 400
    assert "status" in response.json()


def test_draft_detail_shows_guards_and_decision(client_a, conversation_a, make_draft):
    draft = make_draft(conversation_a, guards=[{"guard": "commitment", "words": ["upgrade"]}])

    response = client_a.get(f"/api/drafts/{draft.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["guards"] == [{"guard": "commitment", "words": ["upgrade"]}]
    assert body["decision"] == draft.decision
    assert body["confidence"] == 0.9
    assert body["created_at"]


def test_approve_queues_the_send_as_a_job_and_sends_nothing_in_the_request(
    client_a, owner_a, draft_a, django_capture_on_commit_callbacks, graph_api, run_jobs
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(f"/api/drafts/{draft_a.pk}/approve")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == DraftStatus.APPROVED
    assert graph_api.requests == [], "nothing is sent inside the request"
    assert [(job.path, job.args) for job in jobs.recorded] == [(SEND_JOB, (draft_a.conversation_id,))]
    queued = Message.objects.get(draft=draft_a)
    assert (queued.direction, queued.author, queued.status, queued.text) == (
        Direction.OUT,
        Author.ASSISTANT,
        MessageStatus.QUEUED,
        "No, thank you.",
    )
    draft_a.refresh_from_db()
    assert draft_a.decided_by == owner_a

    run_jobs()

    assert [sent.text for sent in graph_api.sent_texts()] == ["No, thank you."]
    draft_a.refresh_from_db()
    assert draft_a.status == DraftStatus.SENT


def test_approve_with_edited_text_stores_and_queues_the_edit(
    client_a, draft_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(
            f"/api/drafts/{draft_a.pk}/approve/", {"text": "  No thanks, keep my plan.  "}, format="json"
        )

    assert response.status_code == 200
    assert response.json()["text"] == "No thanks, keep my plan."
    draft_a.refresh_from_db()
    assert draft_a.text == "No thanks, keep my plan."
    assert Message.objects.get(draft=draft_a).text == "No thanks, keep my plan."


def test_approve_with_empty_text_is_a_400_and_changes_nothing(client_a, draft_a):
    response = client_a.post(f"/api/drafts/{draft_a.pk}/approve", {"text": "   "}, format="json")

    assert response.status_code == 400
    assert "text" in response.json()
    draft_a.refresh_from_db()
    assert draft_a.status == DraftStatus.PENDING
    assert not Message.objects.filter(direction=Direction.OUT).exists()


def test_approving_twice_is_a_409_and_queues_once(client_a, draft_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = client_a.post(f"/api/drafts/{draft_a.pk}/approve")
        second = client_a.post(f"/api/drafts/{draft_a.pk}/approve")

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json() == {"detail": "This draft is already approved, sending."}
    assert Message.objects.filter(draft=draft_a).count() == 1
    assert len(jobs.recorded) == 1


def test_reject_sends_nothing(client_a, owner_a, draft_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(f"/api/drafts/{draft_a.pk}/reject")

    assert response.status_code == 200
    assert response.json()["status"] == DraftStatus.REJECTED
    draft_a.refresh_from_db()
    assert (draft_a.status, draft_a.decided_by) == (DraftStatus.REJECTED, owner_a)
    assert not Message.objects.filter(direction=Direction.OUT).exists()
    assert jobs.recorded == []


def test_approving_a_rejected_draft_is_a_409(client_a, draft_a):
    client_a.post(f"/api/drafts/{draft_a.pk}/reject/")

    response = client_a.post(f"/api/drafts/{draft_a.pk}/approve/")

    assert response.status_code == 409
    assert "rejected" in response.json()["detail"]
    assert Draft.objects.get(pk=draft_a.pk).status == DraftStatus.REJECTED


def test_draft_actions_refuse_get(client_a, draft_a):
    assert client_a.get(f"/api/drafts/{draft_a.pk}/approve").status_code == 405

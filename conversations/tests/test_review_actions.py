"""Deciding drafts and steering conversations from the admin, as a staff owner, through the test client."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from conversations import jobs
from conversations.models import (
    AuditAction,
    AuditEntry,
    Author,
    ConversationStatus,
    Direction,
    DraftStatus,
    Message,
    MessageStatus,
)
from conversations.tests.review_support import logged_in, staff_owner

pytestmark = pytest.mark.django_db

SEND_JOB = "conversations.tasks.send_pending"


@pytest.fixture
def alice():
    """A staff owner (not a superuser) with every model permission, approval included."""
    return staff_owner("alice")


@pytest.fixture
def client_alice(alice):
    return logged_in(alice)


@pytest.fixture
def conversation(alice, make_conversation):
    return make_conversation(alice)


@pytest.fixture
def draft(conversation, make_draft):
    return make_draft(conversation)


def decide(client, draft, decision: str, **data):
    return client.post(
        reverse("admin:conversations_draft_decide", args=[draft.pk]), {"decision": decision, **data}
    )


def shown_messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def provider_writes(conversation, text: str = "Hello? Are you there?") -> Message:
    return Message.objects.create(
        conversation=conversation,
        account=conversation.account,
        direction=Direction.IN,
        author=Author.CONTACT,
        text=text,
        status=MessageStatus.RECEIVED,
    )


def test_approving_queues_the_send_only_when_the_transaction_commits(
    client_alice, alice, draft, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = decide(client_alice, draft, "approve")
        assert jobs.recorded == [], "nothing is enqueued before the commit"

    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.status, draft.decided_by) == (DraftStatus.APPROVED, alice)
    queued = Message.objects.get(draft=draft)
    assert (queued.direction, queued.author, queued.status) == (
        Direction.OUT,
        Author.ASSISTANT,
        MessageStatus.QUEUED,
    )
    for callback in callbacks:  # the send job, and the open dashboards' doorbell
        callback()
    assert [(job.path, job.args) for job in jobs.recorded] == [(SEND_JOB, (draft.conversation_id,))]
    assert "Approved: the reply is queued and goes out in a moment." in shown_messages(response)


def test_approved_drafts_go_out_through_the_job_queue_and_show_as_sent(
    client_alice, draft, graph_api, run_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        decide(client_alice, draft, "approve")
    assert graph_api.requests == [], "nothing is sent inside the admin request"

    run_jobs()

    assert [sent.text for sent in graph_api.sent_texts()] == ["No, thank you."]
    draft.refresh_from_db()
    assert draft.status == DraftStatus.SENT
    page = client_alice.get(reverse("admin:conversations_conversation_change", args=[draft.conversation_id]))
    assert 'class="gk-delivery gk-delivery-sent"' in page.content.decode()


def test_deciding_needs_the_approval_permission(
    make_conversation, make_draft, django_capture_on_commit_callbacks
):
    editor = staff_owner("editor", without=("approve_draft",))
    draft = make_draft(make_conversation(editor))
    client = logged_in(editor)

    with django_capture_on_commit_callbacks(execute=True):
        approve = decide(client, draft, "approve")
        reject = decide(client, draft, "reject")
        bulk = client.post(
            reverse("admin:conversations_draft_changelist"),
            {"action": "approve_selected", "_selected_action": [draft.pk]},
        )

    assert (approve.status_code, reject.status_code) == (403, 403)
    assert bulk.status_code == 200, "an action the user may not run is not offered"
    draft.refresh_from_db()
    assert draft.status == DraftStatus.PENDING
    assert not Message.objects.filter(direction=Direction.OUT).exists()
    assert jobs.recorded == []
    page = client.get(
        reverse("admin:conversations_conversation_change", args=[draft.conversation_id])
    ).content
    assert b'value="approve"' not in page
    assert b"Can approve or reject drafts" in page


def test_editing_without_the_approval_permission_saves_text_but_never_sends(make_conversation, make_draft):
    editor = staff_owner("editor", without=("approve_draft",))
    draft = make_draft(make_conversation(editor))

    response = decide(logged_in(editor), draft, "save", text="No thanks.\r\nKeep my plan.")

    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.status, draft.text) == (DraftStatus.PENDING, "No thanks.\nKeep my plan.")
    assert not Message.objects.filter(direction=Direction.OUT).exists()
    edit = AuditEntry.objects.get(action=AuditAction.EDIT)
    assert (edit.before, edit.after) == ({"text": "No, thank you."}, {"text": "No thanks.\nKeep my plan."})


def test_edit_and_approve_sends_the_edited_text_and_records_before_and_after(
    client_alice, alice, draft, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        decide(client_alice, draft, "approve", text="  No thanks, keep my plan.  ")

    assert Message.objects.get(draft=draft).text == "No thanks, keep my plan."
    edit, approval = AuditEntry.objects.order_by("id")
    assert (edit.action, edit.actor, edit.draft) == (AuditAction.EDIT, alice, draft)
    assert edit.before == {"text": "No, thank you."}
    assert edit.after == {"text": "No thanks, keep my plan."}
    assert approval.action == AuditAction.APPROVE
    assert approval.summary == f"Approved draft #{draft.pk} with edits"


def test_approving_the_text_as_shown_is_not_an_edit(client_alice, draft, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        decide(client_alice, draft, "approve", text="No, thank you.")

    assert list(AuditEntry.objects.values_list("action", flat=True)) == [AuditAction.APPROVE]


def test_emptying_the_text_and_approving_is_refused(client_alice, draft, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = decide(client_alice, draft, "approve", text="   ")

    assert "The reply text cannot be empty." in shown_messages(response)
    draft.refresh_from_db()
    assert draft.status == DraftStatus.PENDING
    assert jobs.recorded == []


def test_a_stale_draft_is_refused_until_the_owner_looked_at_the_newest_message(
    client_alice, draft, django_capture_on_commit_callbacks
):
    newer = provider_writes(draft.conversation)

    with django_capture_on_commit_callbacks(execute=True):
        refused = decide(client_alice, draft, "approve")
    assert refused.status_code == 302
    assert refused["Location"].endswith(f"#draft-{draft.pk}")
    assert any("moved on since this draft was written" in text for text in shown_messages(refused))
    draft.refresh_from_db()
    assert draft.status == DraftStatus.PENDING
    assert not Message.objects.filter(direction=Direction.OUT).exists()
    assert jobs.recorded == []

    page = client_alice.get(refused["Location"]).content.decode()
    assert "Approve anyway: I read the newer messages" in page
    assert f'name="seen_through" value="{newer.pk}"' in page
    with django_capture_on_commit_callbacks(execute=True):
        decide(client_alice, draft, "approve", seen_through=newer.pk)

    draft.refresh_from_db()
    assert draft.status == DraftStatus.APPROVED
    approval = AuditEntry.objects.get(action=AuditAction.APPROVE)
    assert approval.summary == f"Approved draft #{draft.pk} after reading the newer messages"


def test_a_message_arriving_after_the_page_was_read_makes_the_confirmation_too_old(
    client_alice, draft, django_capture_on_commit_callbacks
):
    seen = provider_writes(draft.conversation, "First follow-up")
    provider_writes(draft.conversation, "Second follow-up, after the page was loaded")

    with django_capture_on_commit_callbacks(execute=True):
        decide(client_alice, draft, "approve", seen_through=seen.pk)

    draft.refresh_from_db()
    assert draft.status == DraftStatus.PENDING


def test_approving_twice_sends_once(
    client_alice, draft, graph_api, run_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = decide(client_alice, draft, "approve")
        second = decide(client_alice, draft, "approve")
    run_jobs()

    assert "Approved: the reply is queued and goes out in a moment." in shown_messages(first)
    assert "This draft is already approved, sending." in shown_messages(second)
    assert Message.objects.filter(draft=draft).count() == 1
    assert len(graph_api.sent_texts()) == 1
    assert AuditEntry.objects.filter(action=AuditAction.APPROVE).count() == 1


def test_bulk_approve_sends_the_current_drafts_and_leaves_stale_ones_for_a_look(
    client_alice, alice, make_conversation, make_draft, django_capture_on_commit_callbacks
):
    current = make_draft(make_conversation(alice, contact_address="5511000000001"))
    stale = make_draft(make_conversation(alice, contact_address="5511000000002"))
    provider_writes(stale.conversation)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_alice.post(
            reverse("admin:conversations_draft_changelist"),
            {"action": "approve_selected", "_selected_action": [current.pk, stale.pk]},
            follow=True,
        )

    current.refresh_from_db()
    stale.refresh_from_db()
    assert (current.status, stale.status) == (DraftStatus.APPROVED, DraftStatus.PENDING)
    shown = [str(m) for m in response.context["messages"]]
    assert "1 draft(s) approved and queued for sending." in shown
    (warning,) = [m for m in shown if m.startswith(f"#{stale.pk}:")]
    assert "moved on since this draft was written" in warning
    assert (
        f'href="/admin/conversations/conversation/{stale.conversation_id}/change/#draft-{stale.pk}"'
        in warning
    )


def test_bulk_reject_goes_through_the_service(client_alice, alice, draft):
    client_alice.post(
        reverse("admin:conversations_draft_changelist"),
        {"action": "reject_selected", "_selected_action": [draft.pk]},
    )

    draft.refresh_from_db()
    assert (draft.status, draft.decided_by) == (DraftStatus.REJECTED, alice)
    assert AuditEntry.objects.get().action == AuditAction.REJECT


def test_reject_from_the_page_sends_nothing(client_alice, draft, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = decide(client_alice, draft, "reject")

    assert "Rejected: nothing was sent." in shown_messages(response)
    draft.refresh_from_db()
    assert draft.status == DraftStatus.REJECTED
    assert jobs.recorded == []


def test_deciding_refuses_get(client_alice, draft):
    assert client_alice.get(reverse("admin:conversations_draft_decide", args=[draft.pk])).status_code == 405


def test_a_foreign_next_address_is_ignored(client_alice, draft, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = decide(client_alice, draft, "reject", next="https://evil.example/phish")

    assert (
        response["Location"]
        == f"/admin/conversations/conversation/{draft.conversation_id}/change/#draft-{draft.pk}"
    )


def test_take_over_reply_and_hand_back_from_the_conversation_page(
    client_alice, alice, draft, django_capture_on_commit_callbacks
):
    conversation = draft.conversation

    def press(name: str, **data):
        with django_capture_on_commit_callbacks(execute=True):
            return client_alice.post(
                reverse(f"admin:conversations_conversation_{name}", args=[conversation.pk]), data
            )

    assert press("take_over").status_code == 302
    conversation.refresh_from_db()
    draft.refresh_from_db()
    assert conversation.bot_paused is True
    assert draft.status == DraftStatus.WITHDRAWN

    reply = press("reply", text="I'll call you myself.")
    assert reply["Location"].endswith("#reply")
    sent = Message.objects.get(direction=Direction.OUT)
    assert (sent.author, sent.text, sent.status) == (
        Author.OWNER,
        "I'll call you myself.",
        MessageStatus.QUEUED,
    )
    assert [job.path for job in jobs.recorded] == [SEND_JOB]

    press("release")
    conversation.refresh_from_db()
    assert conversation.bot_paused is False
    assert list(AuditEntry.objects.order_by("id").values_list("action", "actor")) == [
        (AuditAction.TAKE_OVER, alice.pk),
        (AuditAction.MANUAL_REPLY, alice.pk),
        (AuditAction.RELEASE, alice.pk),
    ]


def test_an_empty_reply_sends_nothing(client_alice, conversation, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_alice.post(
            reverse("admin:conversations_conversation_reply", args=[conversation.pk]), {"text": "  "}
        )

    assert "Write something to send." in shown_messages(response)
    assert not Message.objects.filter(direction=Direction.OUT).exists()
    conversation.refresh_from_db()
    assert conversation.bot_paused is False


def test_mark_as_handled_clears_attention_without_dropping_pending_work(client_alice, conversation):
    conversation.status = ConversationStatus.NEEDS_ATTENTION
    conversation.handled_through = 0
    conversation.save()

    client_alice.post(reverse("admin:conversations_conversation_release", args=[conversation.pk]))

    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN
    assert conversation.handled_through == 0, "new messages still get an answer"
    assert AuditEntry.objects.get().summary == "Marked the conversation as handled"


def test_steering_needs_the_change_permission(make_conversation):
    viewer = staff_owner("viewer", without=("change_conversation",))
    conversation = make_conversation(viewer)
    client = logged_in(viewer)

    for name in ("take_over", "release", "reply"):
        response = client.post(
            reverse(f"admin:conversations_conversation_{name}", args=[conversation.pk]), {"text": "hi"}
        )
        assert response.status_code == 403, name
    conversation.refresh_from_db()
    assert conversation.bot_paused is False
    page = client.get(reverse("admin:conversations_conversation_change", args=[conversation.pk])).content
    assert b"Take over" not in page and b"Send my reply" not in page


def test_the_conversation_page_accepts_no_form_posts(client_alice, conversation):
    response = client_alice.post(
        reverse("admin:conversations_conversation_change", args=[conversation.pk]), {"category": "spam"}
    )

    assert response.status_code == 405
    conversation.refresh_from_db()
    assert conversation.category == "cellphone_provider"

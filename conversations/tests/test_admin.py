"""The admin: every changelist and change page loads, actions go through the services, no N+1."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations import jobs
from conversations.models import (
    Direction,
    DraftStatus,
    Escalation,
    EscalationReason,
    Fact,
    Message,
    MessageStatus,
    OwnerSettings,
    Rule,
    User,
)

pytestmark = pytest.mark.django_db

MODELS = [
    "user",
    "ownersettings",
    "channelaccount",
    "contact",
    "conversation",
    "message",
    "draft",
    "rule",
    "fact",
    "escalation",
]


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser(username="root", password="root-password", email="root@example.com")


@pytest.fixture
def admin_client_(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def everything(owner_a, conversation_a, draft_a):
    """One object of every model, so each admin page has something to render."""
    OwnerSettings.objects.create(owner=owner_a)
    Rule.objects.create(owner=owner_a, category="bank", instructions="Never confirm a transaction.")
    Fact.objects.create(owner=owner_a, key="cpf", value="123.456.789-00", private=True)
    Escalation.objects.create(conversation=conversation_a, reason=EscalationReason.GUARD, detail="A code.")
    inbound = conversation_a.messages.get()
    inbound.raw = {"from": "5511999990000", "text": {"body": inbound.text}}
    inbound.save()
    return {"conversation": conversation_a, "draft": draft_a, "message": inbound}


@pytest.mark.parametrize("model", MODELS)
def test_changelists_load_for_a_superuser(admin_client_, everything, model):
    response = admin_client_.get(reverse(f"admin:conversations_{model}_changelist"))

    assert response.status_code == 200


@pytest.mark.parametrize("kind", ["conversation", "draft", "message"])
def test_change_pages_load_for_a_superuser(admin_client_, everything, kind):
    obj = everything[kind]

    response = admin_client_.get(reverse(f"admin:conversations_{kind}_change", args=[obj.pk]))

    assert response.status_code == 200


def test_conversation_page_shows_messages_and_drafts(admin_client_, everything):
    conversation = everything["conversation"]

    page = admin_client_.get(reverse("admin:conversations_conversation_change", args=[conversation.pk]))

    assert "Your plan renews tomorrow" in page.content.decode()
    assert "No, thank you." in page.content.decode()


def test_message_page_shows_the_raw_payload_read_only(admin_client_, everything):
    message = everything["message"]

    page = admin_client_.get(
        reverse("admin:conversations_message_change", args=[message.pk])
    ).content.decode()

    assert "&quot;from&quot;: &quot;5511999990000&quot;" in page
    assert 'name="text"' not in page, "messages are not editable"


def test_private_fact_values_are_masked_in_the_changelist(admin_client_, everything):
    page = admin_client_.get(reverse("admin:conversations_fact_changelist")).content.decode()

    assert "123.456.789-00" not in page
    assert "••••••" in page


def test_approve_action_goes_through_the_service_and_queues_the_send(
    admin_client_,
    superuser,
    everything,
    make_draft,
    make_conversation,
    owner_a,
    django_capture_on_commit_callbacks,
):
    draft = everything["draft"]
    already = make_draft(
        make_conversation(owner_a, contact_address="5511300030003"), status=DraftStatus.REJECTED
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            reverse("admin:conversations_draft_changelist") + "?status=all",
            {"action": "approve_selected", "_selected_action": [draft.pk, already.pk]},
            follow=True,
        )

    assert response.status_code == 200
    draft.refresh_from_db()
    assert (draft.status, draft.decided_by) == (DraftStatus.APPROVED, superuser)
    outbound = Message.objects.get(direction=Direction.OUT)
    assert (outbound.draft_id, outbound.status) == (draft.pk, MessageStatus.QUEUED)
    assert [job.path for job in jobs.recorded] == ["conversations.tasks.send_pending"]
    shown = [str(m) for m in response.context["messages"]]
    assert f"#{already.pk}: This draft is already rejected." in shown
    assert "1 draft(s) approved and queued for sending." in shown


def test_reject_action_goes_through_the_service(admin_client_, superuser, everything):
    draft = everything["draft"]

    admin_client_.post(
        reverse("admin:conversations_draft_changelist"),
        {"action": "reject_selected", "_selected_action": [draft.pk]},
    )

    draft.refresh_from_db()
    assert (draft.status, draft.decided_by) == (DraftStatus.REJECTED, superuser)
    assert not Message.objects.filter(direction=Direction.OUT).exists()


def test_draft_actions_need_the_approval_permission(client, everything, make_conversation, make_draft):
    editor = User.objects.create_user(username="editor", password="editor-password", is_staff=True)
    editor.user_permissions.add(*Permission.objects.filter(codename__in=["view_draft", "change_draft"]))
    make_draft(make_conversation(editor, contact_address="5511300030003"))
    client.force_login(editor)

    page = client.get(reverse("admin:conversations_draft_changelist"))
    assert page.status_code == 200
    assert "approve_selected" not in page.content.decode(), "editing drafts is not approving them"

    editor.user_permissions.add(Permission.objects.get(codename="approve_draft"))
    editor = User.objects.get(pk=editor.pk)  # drop the permission cache
    client.force_login(editor)
    assert "approve_selected" in client.get(reverse("admin:conversations_draft_changelist")).content.decode()


def test_takeover_action_pauses_the_bot_through_the_service(admin_client_, everything):
    conversation, draft = everything["conversation"], everything["draft"]

    admin_client_.post(
        reverse("admin:conversations_conversation_changelist"),
        {"action": "take_over_selected", "_selected_action": [conversation.pk]},
    )

    conversation.refresh_from_db()
    draft.refresh_from_db()
    assert conversation.bot_paused is True
    assert draft.status == DraftStatus.WITHDRAWN


def test_editing_a_pending_draft_saves_the_text_without_sending(admin_client_, everything):
    draft = everything["draft"]

    admin_client_.post(reverse("admin:conversations_draft_change", args=[draft.pk]), {"text": "Edited."})

    draft.refresh_from_db()
    assert (draft.text, draft.status) == ("Edited.", DraftStatus.PENDING)
    assert not Message.objects.filter(direction=Direction.OUT).exists()


@pytest.mark.parametrize("model", ["conversation", "draft", "message", "escalation"])
def test_changelist_queries_do_not_grow_with_rows(
    admin_client_, owner_a, make_conversation, make_draft, model
):
    def add_rows(start: int, count: int) -> None:
        for n in range(start, start + count):
            conversation = make_conversation(owner_a, contact_address=f"55119{n:08d}")
            make_draft(conversation)
            Escalation.objects.create(conversation=conversation, reason=EscalationReason.LOW_CONFIDENCE)

    url = reverse(f"admin:conversations_{model}_changelist")
    add_rows(0, 1)
    with CaptureQueriesContext(connection) as few:
        admin_client_.get(url)
    add_rows(1, 6)

    with CaptureQueriesContext(connection) as many:
        admin_client_.get(url)

    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]

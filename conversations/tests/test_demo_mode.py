"""Demo mode tells the truth: without a provider's credentials a reply is printed, and shown as printed, never as sent."""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from conversations.management.commands.serve import sending_lines
from conversations.models import Direction, Draft, DraftStatus, Message, MessageStatus
from conversations.receipts import status_may_advance

pytestmark = pytest.mark.django_db

CONSOLE = "channels_app.console.ConsoleProvider"
PRINTED_LABEL = "Printed, not sent (no provider configured)"


@pytest.fixture
def demo_mode(settings):
    """The providers `make run` picks without WHATSAPP_API_TOKEN and Twilio credentials: the console."""
    settings.CHANNEL_PROVIDERS = {**settings.CHANNEL_PROVIDERS, "whatsapp": CONSOLE, "twilio": CONSOLE}


@pytest.fixture
def api(owner) -> APIClient:
    token, _ = Token.objects.get_or_create(user=owner)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def held_draft(demo_mode, deliver, run_jobs) -> Draft:
    """A company's message, answered with a draft the default rules hold for the owner."""
    assert deliver("Your bill is ready").status_code == 200
    run_jobs()
    return Draft.objects.get(status=DraftStatus.PENDING)


def test_an_approved_reply_in_demo_mode_is_printed_and_the_api_never_says_sent(
    api, held_draft, run_jobs, django_capture_on_commit_callbacks, caplog
):
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/drafts/{held_draft.pk}/approve").status_code == 200
    with caplog.at_level(logging.WARNING, logger="channels_app.console"):
        run_jobs()

    assert "printed, not sent" in caplog.text
    draft = api.get(f"/api/drafts/{held_draft.pk}/").json()
    assert draft["status"] == "printed"
    conversation = api.get(f"/api/conversations/{held_draft.conversation_id}/").json()
    replies = [message for message in conversation["messages"] if message["direction"] == "out"]
    assert [reply["status"] for reply in replies] == ["printed"]
    assert "sent" not in {reply["status"] for reply in replies}
    assert [d["id"] for d in api.get("/api/drafts/?status=printed").json()["results"]] == [held_draft.pk]
    assert api.get("/api/drafts/?status=sent").json()["results"] == []
    message = Message.objects.get(direction=Direction.OUT)
    assert message.accepted_at is not None and message.provider_message_id.startswith("console.")


def test_the_admin_shows_the_printed_reply_as_printed_not_sent(
    owner, held_draft, run_jobs, django_capture_on_commit_callbacks
):
    admin = Client()
    admin.force_login(owner)
    decide = reverse("admin:conversations_draft_decide", args=[held_draft.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(decide, {"decision": "approve"}, follow=True)
    assert "will be printed in the server&#x27;s log, not sent" in response.content.decode()
    run_jobs()

    page = admin.get(reverse("admin:conversations_conversation_change", args=[held_draft.conversation_id]))
    text = page.content.decode()
    assert 'class="gk-delivery gk-delivery-printed"' in text
    assert "gk-delivery-sent" not in text
    assert PRINTED_LABEL in text
    assert "sent on your behalf" not in text
    printed_cell = f'<td class="field-status">{PRINTED_LABEL}</td>'
    drafts = admin.get(reverse("admin:conversations_draft_changelist"), {"status": "printed"})
    assert printed_cell in drafts.content.decode()
    messages = admin.get(reverse("admin:conversations_message_changelist"), {"direction__exact": "out"})
    assert printed_cell in messages.content.decode()
    assert '<td class="field-status">Sent</td>' not in messages.content.decode()


def test_a_real_provider_still_records_sent(
    api, owner, deliver, run_jobs, graph_api, django_capture_on_commit_callbacks
):
    deliver("Your bill is ready")
    run_jobs()
    draft = Draft.objects.get(status=DraftStatus.PENDING)
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/drafts/{draft.pk}/approve")
    run_jobs()

    assert api.get(f"/api/drafts/{draft.pk}/").json()["status"] == "sent"
    assert Message.objects.get(direction=Direction.OUT).status == MessageStatus.SENT


def test_no_receipt_turns_a_printed_message_into_a_delivered_one():
    for status in (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.FAILED):
        assert not status_may_advance(MessageStatus.PRINTED, status)


def test_the_api_schema_names_printed_among_the_statuses(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    enums = [
        component.get("enum", [])
        for name, component in schema["components"]["schemas"].items()
        if name.endswith("StatusEnum")
    ]
    assert sum("printed" in values for values in enums) >= 2, "drafts and messages both name it"


def test_the_banner_says_each_unconfigured_provider_prints_its_replies(demo_mode):
    lines = sending_lines().splitlines()

    assert len(lines) == 2
    assert all("printed here, not sent" in line for line in lines)
    assert "WHATSAPP_API_TOKEN" in lines[0] and "TWILIO_AUTH_TOKEN" in lines[1]


def test_the_banner_names_a_configured_provider(settings):
    settings.CHANNEL_PROVIDERS = {**settings.CHANNEL_PROVIDERS, "twilio": CONSOLE}

    whatsapp, twilio = sending_lines().splitlines()

    assert whatsapp.split() == ["WhatsApp", "sending", "Meta", "Cloud", "API"]
    assert "printed here, not sent" in twilio

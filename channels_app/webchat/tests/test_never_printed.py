"""The web chat is a real channel: in demo mode (no WhatsApp credentials) its replies are sent, never printed."""

from __future__ import annotations

import json

import pytest

from channels_app.webchat.tests.conftest import SLUG
from conversations import jobs
from conversations.models import Direction, Draft, DraftStatus, Message, MessageStatus

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_mode(settings):
    console = "channels_app.console.ConsoleProvider"
    settings.CHANNEL_PROVIDERS = {**settings.CHANNEL_PROVIDERS, "whatsapp": console, "twilio": console}


def test_a_web_chat_reply_in_demo_mode_is_sent_and_reaches_the_visitor(
    client, chat_account, delegate, demo_mode
):
    delegate("cellphone_provider")
    posted = client.post(
        "/webchat",
        data=json.dumps({"account": SLUG, "text": "My mobile data plan is wrong"}),
        content_type="application/json",
    ).json()
    jobs.run_recorded_jobs()

    reply = Message.objects.get(direction=Direction.OUT)
    assert reply.status == MessageStatus.SENT
    assert Draft.objects.get().status == DraftStatus.SENT
    shown = client.get("/webchat", {"account": SLUG, "visitor_token": posted["visitor_token"]}).json()
    assert [m["author"] for m in shown["messages"]] == ["visitor", "assistant"]

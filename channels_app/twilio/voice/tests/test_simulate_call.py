"""`simulate_inbound --provider twilio-voice` walks a call through the signed webhooks of a running server."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from channels_app.twilio.voice.tests.conftest import VOICE_NUMBER
from conversations.models import Call, Direction, Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def served(live_server, settings):
    """A real server on a loopback port, which is also the public URL Twilio signs for."""
    settings.PUBLIC_BASE_URL = live_server.url
    return live_server.url


def simulate(*args: str) -> str:
    out = StringIO()
    call_command("simulate_inbound", *args, stdout=out)
    return out.getvalue()


def test_a_simulated_call_rings_says_the_text_and_hangs_up(voice_account, served, script):
    output = simulate("Your bill is ready", "--provider", "twilio-voice", "--from", "15550002222")

    assert f"POST {served}/webhook/twilio/voice -> 200" in output
    assert "You've reached owner's assistant" in output
    assert f"POST {served}/webhook/twilio/voice/gather?turn=1&attempt=1 -> 200" in output
    assert f"POST {served}/webhook/twilio/voice/status -> 200" in output
    call = Call.objects.get()
    assert call.status == "completed" and call.duration == 30
    message = Message.objects.get(direction=Direction.IN)
    assert (message.text, message.account.address) == ("Your bill is ready", VOICE_NUMBER)
    assert message.conversation.contact.address == "15550002222"


def test_without_a_voice_number_it_says_what_to_run(owner, served):
    with pytest.raises(CommandError, match="TWILIO_VOICE_NUMBER"):
        simulate("Hi", "--provider", "twilio-voice")

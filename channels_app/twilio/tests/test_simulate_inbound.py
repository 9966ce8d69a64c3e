"""`simulate_inbound --provider twilio` posts a correctly signed Twilio form to a running server."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from channels_app.twilio.tests.helpers import TWILIO_NUMBER
from conversations import deliveries
from conversations.models import ChannelAccount, Message, Provider

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


def test_speaking_as_twilio_reaches_the_owners_twilio_number(owner, served):
    ChannelAccount.objects.create(owner=owner, provider=Provider.TWILIO, address=TWILIO_NUMBER)

    output = simulate("Your bill is ready", "--provider", "twilio", "--from", "15550002222", "--name", "Acme")
    deliveries.ingest_waiting()  # the worker's job: the webhook stores the form, the job reads it

    assert f"POST {served}/webhook/twilio -> 200" in output
    message = Message.objects.get()
    assert (message.account.provider, message.text) == ("twilio", "Your bill is ready")
    assert (message.conversation.contact.address, message.conversation.contact.name) == (
        "15550002222",
        "Acme",
    )
    assert message.provider_message_id.startswith("SM")


def test_the_twilio_number_can_be_named_in_any_spelling(owner, served):
    ChannelAccount.objects.create(owner=owner, provider=Provider.TWILIO, address=TWILIO_NUMBER)
    simulate("Hi", "--provider", "twilio", "--to", "whatsapp:+1 415 523 8886")
    deliveries.ingest_waiting()
    assert Message.objects.get().account.address == TWILIO_NUMBER


def test_without_a_twilio_account_it_says_what_to_run(owner, served):
    with pytest.raises(CommandError, match="gatekeeper_setup"):
        simulate("Hi", "--provider", "twilio")


def test_without_an_auth_token_it_refuses_before_posting(owner, served, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    with pytest.raises(CommandError, match="TWILIO_AUTH_TOKEN"):
        simulate("Hi", "--provider", "twilio", "--to", TWILIO_NUMBER)


def test_the_signature_covers_the_url_so_a_server_expecting_another_public_url_refuses_it(owner, served):
    ChannelAccount.objects.create(owner=owner, provider=Provider.TWILIO, address=TWILIO_NUMBER)
    # The same server under its other loopback name: not the PUBLIC_BASE_URL it checks signatures against.
    host, other = ("localhost", "127.0.0.1") if "localhost" in served else ("127.0.0.1", "localhost")
    elsewhere = served.replace(host, other)
    out = StringIO()
    with pytest.raises(CommandError, match="refused"):
        call_command("simulate_inbound", "Hi", "--provider", "twilio", "--url", elsewhere, stdout=out)
    assert "-> 403" in out.getvalue()
    assert not Message.objects.exists()


def test_speaking_as_meta_still_works_by_default(owner, served):
    output = simulate("Your bill is ready")
    assert "/webhook/whatsapp -> 200" in output
    deliveries.ingest_waiting()  # the worker's job: Meta's webhook stores the body, the job reads it
    assert Message.objects.get().account.provider == "whatsapp"

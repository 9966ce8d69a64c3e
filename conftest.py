"""Fixtures shared across the apps: real loopback stand-ins, an owner, signed webhook deliveries."""

from __future__ import annotations

import copy
import os

import pytest
from channels.layers import channel_layers
from django.conf import settings as django_settings

from ai.engines import get_client
from ai.testing import OpenAIStandIn
from channels_app.testing.graph_api import GraphAPIStandIn
from channels_app.testing.twilio_api import TwilioAPIStandIn
from channels_app.twilio.tests import helpers as twilio
from channels_app.whatsapp.signature import sign
from channels_app.whatsapp_payloads import encode, text_message_payload
from conversations import deliveries
from conversations import jobs as job_queue
from conversations.setup import owner_setup

PHONE_NUMBER_ID = "106540352242922"
PROVIDER_NUMBER = "15550001111"


@pytest.fixture(autouse=True)
def _fresh_job_record():
    job_queue.recorded.clear()
    yield
    job_queue.recorded.clear()


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each test gets its own channel layer instance, as each server process has its own.

    A test's sockets run on an event loop that closes with the test, and channels_redis keeps
    per-instance asyncio locks: a receive's clean-up still pending when a loop closed leaves one
    locked and bound to that dead loop, and the next test's receive then fails ("bound to a
    different event loop") or waits forever. A server process runs one loop, so only tests
    (a loop each) meet this.
    """
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def redis_url() -> str:
    """The Redis that REDIS_URL names (CI sets it); without it a test that needs Redis is skipped, saying so."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/<db> to run it (README, Development)")
    return url


@pytest.fixture
def graph_api(settings):
    """A loopback Graph API that the WhatsApp provider talks to instead of Meta."""
    with GraphAPIStandIn(token=django_settings.WHATSAPP_API_TOKEN) as graph:
        settings.WHATSAPP_GRAPH_API_URL = graph.url
        settings.CHANNEL_PROVIDERS = {
            **settings.CHANNEL_PROVIDERS,
            "whatsapp": "channels_app.whatsapp.provider.MetaWhatsAppProvider",
        }
        yield graph


def use_model(settings, model) -> None:
    """Point the openai engine at a loopback OpenAI-compatible server, as a local LLM would be."""
    openai = settings.AI_ENGINES["openai"]
    options = {**openai["OPTIONS"], "base_url": model.base_url, "api_key": ""}
    settings.AI_ENGINES = {**settings.AI_ENGINES, "openai": {**openai, "OPTIONS": options}}
    settings.AI_ENGINE = "openai"


@pytest.fixture
def model(settings):
    """The openai engine pointed at a loopback model that answers whatever a test (or an attacker) scripts."""
    with OpenAIStandIn() as stand_in:
        use_model(settings, stand_in)
        yield stand_in


@pytest.fixture
def twilio_api(settings):
    """Our Twilio credentials, and a loopback Twilio REST API that the `twilio` provider talks to."""
    settings.TWILIO_ACCOUNT_SID = twilio.ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = twilio.AUTH_TOKEN
    settings.TWILIO_WEBHOOK_SIGNING_KEY = ""
    settings.PUBLIC_BASE_URL = twilio.PUBLIC_BASE_URL
    with TwilioAPIStandIn(account_sid=twilio.ACCOUNT_SID, auth_token=twilio.AUTH_TOKEN) as stand_in:
        settings.TWILIO_API_BASE_URL = stand_in.url
        settings.CHANNEL_PROVIDERS = {
            **settings.CHANNEL_PROVIDERS,
            "twilio": "channels_app.twilio.provider.TwilioWhatsAppProvider",
        }
        yield stand_in


@pytest.fixture
def owner(db):
    """An owner set up as `gatekeeper_setup` does, with a WhatsApp number."""
    return owner_setup(
        username="owner", password="owner-password", accounts={"whatsapp": PHONE_NUMBER_ID}
    ).owner


@pytest.fixture
def script(settings):
    """Use the scripted engine; call the fixture with its entries (see ai.engines.scripted)."""
    settings.AI_ENGINE = "scripted"
    engines = copy.deepcopy(settings.AI_ENGINES)

    def use(*entries: dict) -> None:
        engines["scripted"]["OPTIONS"] = {"script": list(entries)}
        settings.AI_ENGINES = copy.deepcopy(engines)
        get_client.cache_clear()

    use()
    yield use
    get_client.cache_clear()


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """POST a signed Meta webhook and let the ingest job store it, as a worker would at once;
    `deliver("text")` or `deliver(payload=dict)`. The jobs the ingest schedules stay recorded."""

    def post(
        text: str = "",
        *,
        payload: dict | None = None,
        sender: str = PROVIDER_NUMBER,
        name: str = "Acme Mobile",
        message_id: str | None = None,
        phone_number_id: str = PHONE_NUMBER_ID,
    ):
        if payload is None:
            payload = text_message_payload(
                phone_number_id=phone_number_id, sender=sender, name=name, text=text, message_id=message_id
            )
        body = encode(payload)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/webhook/whatsapp",
                data=body,
                content_type="application/json",
                HTTP_X_HUB_SIGNATURE_256=sign(body, django_settings.WHATSAPP_APP_SECRET),
            )
        ingest_deliveries(django_capture_on_commit_callbacks)
        return response

    return post


def ingest_deliveries(django_capture_on_commit_callbacks) -> None:
    """Ingest the stored webhook deliveries, as a worker's first job does (whichever job backend holds it)."""
    with django_capture_on_commit_callbacks(execute=True):
        deliveries.ingest_waiting()
    job_queue.recorded[:] = [job for job in job_queue.recorded if job.path != deliveries.JOB]


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """Run the jobs the code under test scheduled (and those they schedule), ignoring delays."""

    def run(*, delayed: bool = False, limit: int = 1000):
        return job_queue.run_recorded_jobs(
            delayed=delayed, limit=limit, around=lambda: django_capture_on_commit_callbacks(execute=True)
        )

    return run


@pytest.fixture
def load_fixture():
    """A copy of one of Meta's documented payloads from channels_app/whatsapp/fixtures."""
    import json
    from pathlib import Path

    folder = Path(__file__).parent / "channels_app" / "whatsapp" / "fixtures"
    return lambda name: json.loads((folder / name).read_text())

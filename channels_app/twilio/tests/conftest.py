"""Fixtures for the Twilio edge: Twilio's settings, a loopback Twilio API, an owner's Twilio number."""

from __future__ import annotations

import pytest

from channels_app.twilio.provider import TwilioWhatsAppProvider
from channels_app.twilio.tests.helpers import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CONTENT_SID,
    INBOUND_PATH,
    PUBLIC_BASE_URL,
    STATUS_PATH,
    TWILIO_NUMBER,
    post_signed,
)
from conftest import ingest_deliveries
from conversations.models import ChannelAccount, Provider


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    """Our Twilio account's credentials, served behind a proxy at an https public URL."""
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_WEBHOOK_SIGNING_KEY = ""
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    return settings


@pytest.fixture
def provider(twilio_api):
    """The real provider pointed at the stand-in, with a short timeout."""
    twilio = TwilioWhatsAppProvider(
        "twilio", account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base_url=twilio_api.url, timeout=2.0
    )
    yield twilio
    twilio.close()


@pytest.fixture
def twilio_account(owner):
    """The owner's Twilio WhatsApp sender, with a re-engagement Content SID (they also have Meta)."""
    return ChannelAccount.objects.create(
        owner=owner,
        provider=Provider.TWILIO,
        address=TWILIO_NUMBER,
        name="My Twilio number",
        reengagement_template=CONTENT_SID,
    )


@pytest.fixture
def deliver_twilio(client, django_capture_on_commit_callbacks):
    """POST a signed inbound form to /webhook/twilio, then let the ingest job store it, as a worker
    would at once; the jobs the ingest schedules stay recorded."""

    def post(params: dict[str, str]):
        with django_capture_on_commit_callbacks(execute=True):
            response = post_signed(client, INBOUND_PATH, params, ingest=False)
        ingest_deliveries(django_capture_on_commit_callbacks)
        return response

    return post


@pytest.fixture
def post_status(client, django_capture_on_commit_callbacks):
    """POST a signed status callback to /webhook/twilio/status, then let the ingest job apply it."""

    def post(params: dict[str, str]):
        with django_capture_on_commit_callbacks(execute=True):
            response = post_signed(client, STATUS_PATH, params, ingest=False)
        ingest_deliveries(django_capture_on_commit_callbacks)
        return response

    return post

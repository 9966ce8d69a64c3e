"""Fixtures for phone calls: Twilio's settings, the owner's voice number, a caller posting signed webhooks."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from channels_app.twilio.tests.helpers import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, post_signed
from channels_app.twilio.voice.payloads import call_params, gather_params, new_call_sid, status_params
from conversations.models import ChannelAccount, Provider

#: The owner's Twilio voice number and a company that calls it.
VOICE_NUMBER = "+14155550100"
CALLER = "+14155550199"
VOICE_PATH = "/webhook/twilio/voice"
GATHER_PATH = "/webhook/twilio/voice/gather"
STATUS_PATH = "/webhook/twilio/voice/status"


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    """Our Twilio account's credentials, served behind a proxy at an https public URL."""
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_WEBHOOK_SIGNING_KEY = ""
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    settings.CALL_ENGINE_TIMEOUT = 4.0
    return settings


@pytest.fixture
def voice_account(owner):
    """The owner's Twilio voice number, as gatekeeper_setup links TWILIO_VOICE_NUMBER."""
    return ChannelAccount.objects.create(owner=owner, provider=Provider.VOICE, address=VOICE_NUMBER)


@dataclass
class Caller:
    """One phone call placed through signed webhooks, as Twilio would post them."""

    client: object
    capture: object
    number: str = CALLER
    to: str = VOICE_NUMBER
    name: str = ""
    sid: str = field(default_factory=new_call_sid)

    def _post(self, path: str, params: dict[str, str], query: str = ""):
        url = f"{path}?{query}" if query else path
        with self.capture(execute=True):
            return post_signed(self.client, url, params, signed_url=f"{PUBLIC_BASE_URL}{url}")

    def ring(self):
        return self._post(
            VOICE_PATH, call_params(call_sid=self.sid, to=self.to, caller=self.number, caller_name=self.name)
        )

    def say(self, speech: str, *, turn: int = 1, attempt: int = 1):
        params = gather_params(call_sid=self.sid, to=self.to, caller=self.number, speech=speech)
        return self._post(GATHER_PATH, params, f"turn={turn}&attempt={attempt}")

    def hang_up(self, *, status: str = "completed", duration: int | None = 42):
        params = status_params(
            call_sid=self.sid, to=self.to, caller=self.number, status=status, duration=duration
        )
        return self._post(STATUS_PATH, params)


@pytest.fixture
def call(client, django_capture_on_commit_callbacks, voice_account):
    """A fresh call from CALLER to the owner's voice number; `call.ring()`, `call.say(...)`, `call.hang_up()`."""
    return Caller(client, django_capture_on_commit_callbacks)


@pytest.fixture
def new_call(client, django_capture_on_commit_callbacks, voice_account):
    """Another call: `new_call(number=..., to=...)`."""
    return lambda **kwargs: Caller(client, django_capture_on_commit_callbacks, **kwargs)

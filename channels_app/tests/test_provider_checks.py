"""The start-up check: a WhatsApp channel set up without its credentials would print replies, never send them."""

from __future__ import annotations

import pytest
from django.core.checks import ERROR, WARNING, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

CONSOLE = "channels_app.console.ConsoleProvider"


def found(level: int | None = None) -> list:
    return [
        message
        for message in run_checks()
        if message.id in ("channels.E001", "channels.W001") and (level is None or message.level == level)
    ]


@pytest.fixture
def meta_without_token(settings):
    """A real number named in the environment, no WHATSAPP_API_TOKEN: settings fall back to the console."""
    settings.CHANNEL_PROVIDERS = {**settings.CHANNEL_PROVIDERS, "whatsapp": CONSOLE}
    settings.WHATSAPP_PHONE_NUMBER_ID = "106540352242922"
    settings.WHATSAPP_API_TOKEN = ""
    return settings


def test_with_debug_off_a_number_without_its_token_is_an_error(meta_without_token):
    meta_without_token.DEBUG = False

    [error] = found()

    assert error.level == ERROR and error.id == "channels.E001"
    assert "WHATSAPP_PHONE_NUMBER_ID" in error.msg and "printed" in error.msg
    assert "WHATSAPP_API_TOKEN" in error.hint
    with pytest.raises(SystemCheckError, match=r"channels\.E001"):
        call_command("check")


def test_with_debug_on_it_is_a_warning(meta_without_token):
    meta_without_token.DEBUG = True

    [warning] = found()

    assert warning.level == WARNING and warning.id == "channels.W001"
    call_command("check")  # warnings do not stop a command


def test_twilio_set_up_without_credentials_is_an_error(settings):
    settings.CHANNEL_PROVIDERS = {**settings.CHANNEL_PROVIDERS, "twilio": CONSOLE}
    settings.DEBUG = False
    settings.TWILIO_WHATSAPP_NUMBER = "+14155238886"

    [error] = found(ERROR)

    assert "WhatsApp (Twilio)" in error.msg and "TWILIO_WHATSAPP_NUMBER" in error.msg


def test_the_first_run_demo_names_no_number_and_is_not_an_error(settings):
    settings.CHANNEL_PROVIDERS = {**settings.CHANNEL_PROVIDERS, "whatsapp": CONSOLE, "twilio": CONSOLE}
    settings.DEBUG = False
    settings.WHATSAPP_PHONE_NUMBER_ID = ""
    for name in ("TWILIO_WHATSAPP_NUMBER", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        setattr(settings, name, "")

    assert found() == []


def test_a_number_with_its_provider_configured_passes(settings):
    settings.DEBUG = False
    settings.WHATSAPP_PHONE_NUMBER_ID = "106540352242922"

    assert settings.CHANNEL_PROVIDERS["whatsapp"] != CONSOLE
    assert [m for m in found() if "Meta" in m.msg] == []

"""The job queue and the channel providers load through one loader; `manage.py check` stops a wrong one.

An install that still sets GATEKEEPER_PROVIDERS keeps working this release, with a warning.
"""

from __future__ import annotations

import pytest
from django.core.checks import ERROR, WARNING, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from channels_app.webchat.provider import WebChatProvider
from channels_app.whatsapp.provider import MetaWhatsAppProvider
from conversations import jobs
from conversations.providers import get_provider

CONSOLE = "channels_app.console.ConsoleProvider"


def found(*ids: str) -> list:
    return [message for message in run_checks() if message.id in ids]


@pytest.fixture(autouse=True)
def fresh_backends():
    jobs.get_backend.cache_clear()
    get_provider.cache_clear()
    yield
    jobs.get_backend.cache_clear()
    get_provider.cache_clear()


@pytest.mark.parametrize(
    ("name", "backend"), [("locmem", jobs.LocmemBackend), ("thread", jobs.ThreadBackend)]
)
def test_the_job_backend_may_be_a_short_name(settings, name, backend):
    settings.GATEKEEPER_JOBS = {"BACKEND": name, "OPTIONS": {}}
    assert type(jobs.get_backend()) is backend
    assert found("conversations.E001") == []


def test_an_unknown_job_backend_names_the_setting_and_the_value(settings):
    settings.GATEKEEPER_JOBS = {"BACKEND": "redis", "OPTIONS": {}}

    with pytest.raises(ImproperlyConfigured, match=r"GATEKEEPER_JOBS\['BACKEND'\]='redis' is not one of"):
        jobs.get_backend()
    [error] = found("conversations.E001")
    assert error.level == ERROR
    assert error.hint.startswith("Set GATEKEEPER_JOBS['BACKEND'] to locmem, rq, thread or a dotted path")
    with pytest.raises(SystemCheckError, match=r"conversations\.E001"):
        call_command("check")


def test_a_provider_path_that_does_not_import_is_an_error(settings):
    settings.CHANNEL_PROVIDERS = {**settings.CHANNEL_PROVIDERS, "whatsapp": "channels_app.meta.Provider"}

    [error] = found("conversations.E002")

    assert "CHANNEL_PROVIDERS['whatsapp']='channels_app.meta.Provider' cannot be imported" in error.msg
    assert CONSOLE in error.hint
    with pytest.raises(ImproperlyConfigured, match=r"CHANNEL_PROVIDERS\['whatsapp'\]"):
        get_provider("whatsapp")


def test_a_channel_without_a_provider_is_an_error(settings):
    settings.CHANNEL_PROVIDERS = {
        alias: path for alias, path in settings.CHANNEL_PROVIDERS.items() if alias != "voice"
    }

    [error] = found("conversations.E003")

    assert "'voice'" in error.msg and "CHANNEL_PROVIDERS" in error.hint


def test_the_old_gatekeeper_providers_setting_is_still_read_with_a_warning(settings):
    settings.CHANNEL_PROVIDERS = {**settings.CHANNEL_PROVIDERS, "whatsapp": CONSOLE}
    settings.GATEKEEPER_PROVIDERS = {
        "whatsapp": {
            "BACKEND": "channels_app.whatsapp.provider.MetaWhatsAppProvider",
            "OPTIONS": {"graph_api_url": "http://127.0.0.1:9/v25.0"},
        }
    }

    provider = get_provider("whatsapp")
    [warning] = found("conversations.W001")

    assert isinstance(provider, MetaWhatsAppProvider)
    assert provider.options == {"graph_api_url": "http://127.0.0.1:9/v25.0"}
    assert warning.level == WARNING and "CHANNEL_PROVIDERS" in warning.hint
    assert isinstance(get_provider("webchat"), WebChatProvider)  # a channel it does not name
    call_command("check")  # a warning: a running install keeps starting


def test_the_former_email_backend_variable_is_named_with_its_replacement(settings):
    settings.LEGACY_EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"

    [warning] = found("conversations.W002")

    assert warning.level == WARNING and "EMAIL_BACKEND" in warning.msg and "EMAIL_URL" in warning.hint
    settings.LEGACY_EMAIL_BACKEND = ""
    assert found("conversations.W002") == []

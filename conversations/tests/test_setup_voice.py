"""`gatekeeper_setup` links the Twilio voice number (TWILIO_VOICE_NUMBER or --voice) to the owner, for calls."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from conversations.models import ChannelAccount, Provider
from conversations.setup import configured_accounts

pytestmark = pytest.mark.django_db


def test_the_voice_number_is_linked_as_e164_idempotently(settings):
    settings.TWILIO_VOICE_NUMBER = "+1 (415) 555-0100"
    assert configured_accounts()["voice"] == "+14155550100"
    for _ in range(2):
        call_command("gatekeeper_setup", "--username", "owner", "--password", "pw", stdout=StringIO())

    voice = ChannelAccount.objects.get(provider=Provider.VOICE)
    assert voice.address == "+14155550100"
    assert voice.owner.username == "owner"


def test_no_voice_account_without_a_voice_number(settings):
    settings.TWILIO_VOICE_NUMBER = ""
    assert "voice" not in configured_accounts()


def test_a_second_owner_gets_their_own_voice_number_from_the_command_line(settings):
    settings.TWILIO_VOICE_NUMBER = "+14155550100"
    call_command("gatekeeper_setup", "--username", "owner", "--password", "pw", stdout=StringIO())
    call_command("gatekeeper_setup", "--username", "other", "--voice", "+14155550122", stdout=StringIO())

    owners = dict(
        ChannelAccount.objects.filter(provider=Provider.VOICE).values_list("address", "owner__username")
    )
    assert owners == {"+14155550100": "owner", "+14155550122": "other"}

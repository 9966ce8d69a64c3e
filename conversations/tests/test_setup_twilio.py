"""`gatekeeper_setup` links the Twilio WhatsApp sender the environment names, next to the Meta number."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from conversations.models import ChannelAccount, Provider
from conversations.setup import configured_accounts

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "number", ["+14155238886", "whatsapp:+14155238886", "1 (415) 523-8886", " 14155238886 "]
)
def test_any_spelling_of_the_twilio_number_is_stored_as_e164(settings, number):
    settings.TWILIO_WHATSAPP_NUMBER = number
    assert configured_accounts()["twilio"] == "+14155238886"


def test_no_twilio_account_without_a_twilio_number(settings):
    settings.TWILIO_WHATSAPP_NUMBER = ""
    assert "twilio" not in configured_accounts()


def test_setup_links_both_numbers_to_one_owner_idempotently(settings):
    settings.TWILIO_WHATSAPP_NUMBER = "whatsapp:+14155238886"
    for _ in range(2):
        out = StringIO()
        call_command("gatekeeper_setup", "--username", "owner", "--password", "pw", stdout=out)
    twilio = ChannelAccount.objects.get(provider=Provider.TWILIO)
    assert twilio.address == "+14155238886"
    assert twilio.owner == ChannelAccount.objects.get(provider=Provider.WHATSAPP).owner
    assert "WhatsApp (Twilio) +14155238886" in out.getvalue()

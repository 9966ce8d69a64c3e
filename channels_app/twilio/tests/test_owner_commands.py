"""Approve from WhatsApp through Twilio: held drafts reach the owner's own number from their Twilio
number, and the owner's commands from that number act once, however often Twilio retries."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from channels_app.twilio.payloads import inbound_text_params, new_sid
from channels_app.twilio.tests.helpers import CONTENT_SID, TWILIO_NUMBER
from conversations.models import (
    ChannelAccount,
    Contact,
    Draft,
    DraftStatus,
    OwnerCommand,
    OwnerNotice,
    OwnerSettings,
    Provider,
    Rule,
    RuleAction,
)

pytestmark = pytest.mark.django_db

OWN_NUMBER = "+44 7700 900123"
OWN_ADDRESS = "whatsapp:+447700900123"
COMPANY = "15550001111"
DRAFT_TEXT = "Thanks, I will look at the bill."


@pytest.fixture
def twilio_owner(owner, twilio_account, twilio_api, script):
    """An owner on Twilio only, who gave their own number; their telco's replies wait for approval."""
    ChannelAccount.objects.filter(owner=owner, provider=Provider.WHATSAPP).delete()
    OwnerSettings.objects.filter(owner=owner).update(notify_whatsapp=OWN_NUMBER)
    Rule.objects.filter(owner=owner, category="cellphone_provider").update(
        action=RuleAction.DRAFT, match_senders=[f"+{COMPANY}"]
    )
    script({"reply": DRAFT_TEXT, "category": "cellphone_provider", "confidence": 0.95, "reason": "a bill"})
    return owner


@pytest.fixture
def write(deliver_twilio, run_jobs):
    """A signed inbound form to the owner's Twilio number, then the jobs it scheduled."""

    def post(text: str, *, sender: str = COMPANY, name: str = "Acme Mobile", sid: str | None = None):
        params = inbound_text_params(to=TWILIO_NUMBER, sender=sender, name=name, text=text, message_sid=sid)
        assert deliver_twilio(params).status_code == 200
        run_jobs()

    return post


def notes(twilio_api) -> list[str]:
    return [sent.body for sent in twilio_api.sent_messages() if sent.to == OWN_ADDRESS and sent.body]


def to_companies(twilio_api) -> list[str]:
    return [sent.body for sent in twilio_api.sent_messages() if sent.to != OWN_ADDRESS]


def test_ok_from_the_owners_number_sends_the_held_draft_once_and_confirms(twilio_owner, twilio_api, write):
    write("Your bill is ready")
    draft = Draft.objects.get(status=DraftStatus.PENDING)
    (note,) = notes(twilio_api)
    assert f"#{draft.pk}" in note and "Acme Mobile" in note and DRAFT_TEXT in note and "Why: " in note
    assert twilio_api.sent_messages()[0].from_ == f"whatsapp:{TWILIO_NUMBER}"

    sid = new_sid()
    write(f"ok {draft.pk}", sender="447700900123", name="Me", sid=sid)
    write(f"ok {draft.pk}", sender="447700900123", name="Me", sid=sid)  # Twilio retries the webhook

    assert to_companies(twilio_api) == [DRAFT_TEXT]
    assert notes(twilio_api)[1:] == [f"Sending draft {draft.pk} to Acme Mobile."]
    assert OwnerCommand.objects.count() == 1
    assert not Contact.objects.filter(address="447700900123").exists()


def test_outside_the_owners_window_a_note_goes_as_the_owners_content_template(
    twilio_owner, twilio_api, write
):
    OwnerSettings.objects.filter(owner=twilio_owner).update(notify_template=CONTENT_SID)
    write("status", sender="447700900123", name="Me")
    # A day passes since the owner last wrote.
    OwnerCommand.objects.update(received_at=OwnerCommand.objects.get().received_at - timedelta(hours=25))

    write("Your bill is ready")

    draft = Draft.objects.get(status=DraftStatus.PENDING)
    template = [sent for sent in twilio_api.sent_messages() if sent.to == OWN_ADDRESS and sent.content_sid]
    (sent,) = template
    assert sent.content_sid == CONTENT_SID
    variables = json.loads(sent.content_variables)
    assert f"#{draft.pk}" in variables["1"] and DRAFT_TEXT in variables["1"]
    assert OwnerNotice.objects.get(draft=draft).via_template

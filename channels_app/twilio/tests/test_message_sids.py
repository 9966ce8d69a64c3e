"""A message SID must be one Twilio issues: `SM` or `MM` and exactly 32 lowercase hex digits.

Twilio's signature concatenates parameter names and values without separators, so a captured
signed form can have characters moved from one parameter into its neighbour and still verify.
Only the SID's format stops such a replay from being stored as a new message.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.conf import settings

from channels_app.twilio.parser import MESSAGE_SID, PayloadError, parse_inbound, parse_status
from channels_app.twilio.signature import SIGNATURE_HEADER, sign
from channels_app.twilio.tests.helpers import (
    AUTH_TOKEN,
    INBOUND_PATH,
    STATUS_PATH,
    TWILIO_NUMBER,
    fixture_names,
    fixture_params,
    post_signed,
)
from channels_app.twilio.tests.test_views import outbound
from conversations import jobs
from conversations.models import Message, MessageStatus

GOOD = "SM" + "0123456789abcdef" * 2
BAD_SIDS = [
    pytest.param(GOOD + "MessageTypetext", id="neighbour-moved-in"),
    pytest.param(GOOD[:-1], id="one-digit-short"),
    pytest.param(GOOD + "0", id="one-digit-long"),
    pytest.param(GOOD.upper(), id="uppercase-hex"),
    pytest.param("SM" + "g" * 32, id="not-hex"),
    pytest.param("AC" + GOOD[2:], id="an-account-sid"),
    pytest.param("sm" + GOOD[2:], id="lowercase-prefix"),
    pytest.param(GOOD + "\n", id="trailing-newline"),
    pytest.param(" " + GOOD, id="leading-space"),
    pytest.param(GOOD[:20] + "-" + GOOD[21:], id="a-dash-inside"),
]


def test_every_fixture_and_generated_sid_has_twilios_format():
    """The tests' own forms must pass the check, or they would test a refusal by accident."""
    for name in fixture_names():
        params = fixture_params(name)
        for key in ("MessageSid", "SmsMessageSid", "SmsSid"):
            if key in params:
                assert MESSAGE_SID.fullmatch(params[key]), (name, key)


@pytest.mark.parametrize("sid", BAD_SIDS)
def test_an_inbound_message_sid_out_of_format_is_refused_with_a_reason(sid):
    params = {**fixture_params("text"), "MessageSid": sid}
    with pytest.raises(PayloadError, match="MessageSid is not a Twilio message SID"):
        parse_inbound(params)


@pytest.mark.parametrize("sid", BAD_SIDS)
def test_a_status_callback_sid_out_of_format_is_refused_with_a_reason(sid):
    params = {**fixture_params("status_delivered"), "MessageSid": sid}
    with pytest.raises(PayloadError, match="MessageSid is not a Twilio message SID"):
        parse_status(params)


def test_the_deprecated_sid_parameters_are_checked_when_they_are_the_ones_read():
    """Without `MessageSid` the older names are read, so they get the same check."""
    inbound = fixture_params("text")
    del inbound["MessageSid"]
    assert parse_inbound(inbound).messages[0].provider_message_id == inbound["SmsMessageSid"]
    with pytest.raises(PayloadError, match="SmsMessageSid"):
        parse_inbound({**inbound, "SmsMessageSid": GOOD + "x"})

    status = fixture_params("status_delivered")
    del status["MessageSid"]
    assert parse_status(status).statuses[0].provider_message_id == status["SmsSid"]
    with pytest.raises(PayloadError, match="SmsSid"):
        parse_status({**status, "SmsSid": GOOD.upper()})


def test_an_early_status_with_a_bad_sid_is_refused_too():
    """The SID is checked before the status decides whether there is anything to store."""
    params = {**fixture_params("status_sent"), "MessageStatus": "queued", "MessageSid": "SM123"}
    with pytest.raises(PayloadError):
        parse_status(params)


@pytest.mark.parametrize("sid", ["SM" + "0" * 32, "MM" + "f" * 32, GOOD])
def test_well_formed_sms_and_mms_sids_are_kept_exactly(sid):
    assert parse_inbound({**fixture_params("text"), "MessageSid": sid}).messages[0].provider_message_id == sid
    assert (
        parse_status({**fixture_params("status_read"), "MessageSid": sid}).statuses[0].provider_message_id
        == sid
    )


# -- the webhooks --------------------------------------------------------------------------------


def shifted(params: dict[str, str]) -> dict[str, str]:
    """The captured form with `MessageType` moved into `MessageSid`: a different form, the same signature."""
    altered = dict(params)
    altered["MessageSid"] = params["MessageSid"] + "MessageType" + altered.pop("MessageType")
    return altered


def post_with_signature_of(client, path: str, sent: dict[str, str], signed: dict[str, str]):
    """POST `sent` carrying the signature Twilio computed for `signed` (a replayed capture)."""
    url = f"{settings.PUBLIC_BASE_URL}{path}"
    return client.post(
        path,
        data=urlencode(sent),
        content_type="application/x-www-form-urlencoded",
        headers={SIGNATURE_HEADER: sign(url, signed, AUTH_TOKEN)},
    )


@pytest.mark.django_db
def test_a_replayed_form_with_a_shifted_sid_passes_the_signature_but_stores_nothing(
    client, twilio_account, django_capture_on_commit_callbacks
):
    """The shifted form verifies (400, not 403), so the SID check alone keeps it out of the inbox."""
    captured = fixture_params("text")
    assert post_signed(client, INBOUND_PATH, captured).status_code == 200
    stored = Message.objects.get()
    jobs.recorded.clear()

    with django_capture_on_commit_callbacks(execute=True):
        replay = post_with_signature_of(client, INBOUND_PATH, shifted(captured), captured)

    assert replay.status_code == 400
    assert "MessageSid is not a Twilio message SID" in replay.json()["error"]
    assert list(Message.objects.values_list("pk", flat=True)) == [stored.pk]
    assert jobs.recorded == [], "a refused form schedules nothing"


@pytest.mark.django_db
def test_a_signed_form_with_a_bad_sid_stores_nothing_and_a_good_one_still_does(client, twilio_account):
    refused = post_signed(client, INBOUND_PATH, {**fixture_params("text"), "MessageSid": GOOD + "0"})
    assert refused.status_code == 400
    assert not Message.objects.exists()

    accepted = post_signed(client, INBOUND_PATH, {**fixture_params("text"), "MessageSid": GOOD})
    assert accepted.status_code == 200
    assert Message.objects.get().provider_message_id == GOOD


@pytest.mark.django_db
def test_a_status_callback_with_a_bad_sid_changes_nothing(client, twilio_account):
    sent = outbound(twilio_account, sid=GOOD)
    params = {**fixture_params("status_read"), "From": f"whatsapp:{TWILIO_NUMBER}"}

    refused = post_signed(client, STATUS_PATH, {**params, "MessageSid": GOOD.upper(), "SmsSid": GOOD.upper()})
    assert refused.status_code == 400
    sent.refresh_from_db()
    assert sent.status == MessageStatus.SENT

    assert post_signed(client, STATUS_PATH, {**params, "MessageSid": GOOD, "SmsSid": GOOD}).status_code == 200
    sent.refresh_from_db()
    assert sent.status == MessageStatus.READ

"""TwilioWhatsAppProvider through the real `twilio` SDK against the loopback Twilio API."""

from __future__ import annotations

import json
import logging

import pytest

from channels_app.testing.twilio_api import TwilioAPIStandIn
from channels_app.twilio.provider import TwilioWhatsAppProvider
from channels_app.twilio.tests.helpers import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CONTENT_SID,
    PUBLIC_BASE_URL,
    TWILIO_NUMBER,
)
from conversations.providers import OutboundTemplate, OutboundText, SendFailure, SendReceipt

CONTACT = "15551230001"


def text(body: str = "Thanks, we will check.", **fields) -> OutboundText:
    fields.setdefault("to", CONTACT)
    fields.setdefault("account_address", TWILIO_NUMBER)
    return OutboundText(text=body, **fields)


def template(content_sid: str = CONTENT_SID, **fields) -> OutboundTemplate:
    return OutboundTemplate(account_address=TWILIO_NUMBER, to=CONTACT, template=content_sid, **fields)


def failure_of(provider: TwilioWhatsAppProvider, message: OutboundText | None = None) -> SendFailure:
    with pytest.raises(SendFailure) as caught:
        provider.send_text(message or text())
    return caught.value


def test_a_send_reaches_the_api_as_twilios_form_with_basic_auth_and_the_status_callback(provider, twilio_api):
    receipt = provider.send_text(text("Hello there"))

    (request,) = twilio_api.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.basic_auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.form == {
        "To": f"whatsapp:+{CONTACT}",
        "From": f"whatsapp:{TWILIO_NUMBER}",
        "Body": "Hello there",
        "StatusCallback": f"{PUBLIC_BASE_URL}/webhook/twilio/status",
    }
    assert isinstance(receipt, SendReceipt)
    assert receipt.provider_message_id == twilio_api.sent_messages()[0].sid
    assert receipt.provider_message_id.startswith("SM") and len(receipt.provider_message_id) == 34


def test_the_status_callback_follows_the_public_base_url_at_call_time(provider, twilio_api, settings):
    settings.PUBLIC_BASE_URL = "https://other.example.org"
    provider.send_text(text())
    assert twilio_api.sent_messages()[0].status_callback == "https://other.example.org/webhook/twilio/status"


@pytest.mark.parametrize("to", ["+15551230001", "whatsapp:+15551230001", "1 (555) 123-0001"])
def test_any_spelling_of_the_contact_number_becomes_one_whatsapp_address(provider, twilio_api, to):
    provider.send_text(text(to=to))
    assert twilio_api.sent_messages()[0].to == "whatsapp:+15551230001"


def test_a_known_phone_wins_over_the_address(provider, twilio_api):
    provider.send_text(text(to="not-a-number", to_phone="15551230001"))
    assert twilio_api.sent_messages()[0].to == "whatsapp:+15551230001"


def test_the_longest_body_twilio_allows_goes_out(provider, twilio_api):
    assert provider.max_text_length == 1600
    provider.send_text(text("x" * 1600))
    assert len(twilio_api.sent_messages()[0].body) == 1600


@pytest.mark.parametrize(
    ("message", "code"),
    [
        pytest.param(text("x" * 1601), "text_too_long", id="too-long"),
        pytest.param(text("  "), "empty_text", id="empty"),
        pytest.param(text(to=""), "no_recipient", id="no-recipient"),
        pytest.param(text(account_address=""), "no_account", id="no-sender"),
    ],
)
def test_sends_twilio_would_refuse_fail_permanently_without_a_request(provider, twilio_api, message, code):
    failure = failure_of(provider, message)
    assert (failure.code, failure.retryable) == (code, False)
    assert twilio_api.requests == []


def test_a_template_goes_out_by_content_sid_without_a_body(provider, twilio_api):
    receipt = provider.send_template(template())
    (sent,) = twilio_api.sent_messages()
    assert sent.content_sid == CONTENT_SID
    assert sent.body == "" and "Body" not in sent.form
    assert (sent.to, sent.from_) == (f"whatsapp:+{CONTACT}", f"whatsapp:{TWILIO_NUMBER}")
    assert sent.status_callback == f"{PUBLIC_BASE_URL}/webhook/twilio/status"
    assert receipt.provider_message_id == sent.sid


def test_template_variables_go_as_content_variables_json(provider, twilio_api):
    provider.send_template(template(variables=(("1", "Gatekeeper"), ("2", "your bill"))))
    assert json.loads(twilio_api.sent_messages()[0].content_variables) == {
        "1": "Gatekeeper",
        "2": "your bill",
    }


@pytest.mark.parametrize(
    ("content_sid", "code"),
    [("", "no_template"), ("hello_world", "invalid_template"), ("HX123", "invalid_template")],
)
def test_a_missing_or_malformed_content_sid_fails_permanently_without_a_request(
    provider, twilio_api, content_sid, code
):
    with pytest.raises(SendFailure) as caught:
        provider.send_template(template(content_sid))
    assert (caught.value.code, caught.value.retryable) == (code, False)
    assert twilio_api.requests == []


def test_outside_the_window_63016_is_flagged_and_not_retried(provider, twilio_api):
    twilio_api.fail_next(63016)
    failure = failure_of(provider)
    assert (failure.code, failure.window_closed, failure.retryable) == ("63016", True, False)
    assert "window" in failure.detail


@pytest.mark.parametrize(
    ("code", "http_status"), [(20429, 429), (63018, 429), (63018, 400), (20500, 500), (20503, 503)]
)
def test_rate_limits_and_twilio_side_errors_are_retryable(provider, twilio_api, code, http_status):
    twilio_api.fail_next(code, http_status=http_status)
    failure = failure_of(provider)
    assert (failure.code, failure.retryable, failure.window_closed) == (str(code), True, False)


@pytest.mark.parametrize("code", [21211, 21610, 63003, 63007, 21408])
def test_other_refusals_fail_permanently(provider, twilio_api, code):
    twilio_api.fail_next(code)
    failure = failure_of(provider)
    assert (failure.code, failure.retryable, failure.window_closed) == (str(code), False, False)


def test_a_proxys_html_error_page_is_retryable(provider, twilio_api):
    twilio_api.respond_next(502, "<html>Bad Gateway</html>")
    failure = failure_of(provider)
    assert (failure.code, failure.retryable) == ("http_502", True)
    assert failure.detail == "HTTP 502 from the Twilio API"


def test_an_rfc_9457_problem_is_classified_too(provider, twilio_api):
    twilio_api.respond_next(
        503,
        {
            "type": "https://www.twilio.com/docs/errors/20503",
            "title": "Service unavailable",
            "status": 503,
            "code": 20503,
        },
    )
    failure = failure_of(provider)
    assert (failure.code, failure.retryable, failure.detail) == ("20503", True, "Service unavailable")


def test_an_accepted_send_with_an_unreadable_answer_is_not_retried(provider, twilio_api):
    twilio_api.respond_next(201, "<html>ok</html>")
    failure = failure_of(provider)
    assert (failure.code, failure.retryable) == ("bad_response", False)


def test_an_accepted_send_without_a_sid_is_not_retried(provider, twilio_api):
    twilio_api.respond_next(201, {"status": "queued"})
    assert failure_of(provider).code == "bad_response"


def test_a_wrong_auth_token_is_a_permanent_failure(twilio_api):
    twilio = TwilioWhatsAppProvider(
        "twilio", account_sid=ACCOUNT_SID, auth_token="expired", api_base_url=twilio_api.url
    )
    try:
        failure = failure_of(twilio)
    finally:
        twilio.close()
    assert (failure.code, failure.retryable) == ("20003", False)
    assert twilio_api.requests[0].status == 401


def test_an_answer_that_comes_too_late_is_not_retried_because_twilio_may_have_queued_it(twilio_api):
    twilio = TwilioWhatsAppProvider(
        "twilio", account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base_url=twilio_api.url, timeout=0.2
    )
    twilio_api.delay_next(1.0)
    try:
        failure = failure_of(twilio)
    finally:
        twilio.close()
    assert (failure.code, failure.retryable) == ("timeout", False)
    # Twilio, like the stand-in, may have queued it anyway: retrying would send it twice.
    assert len(twilio_api.sent_messages()) == 1


def test_an_unreachable_api_is_retryable():
    with TwilioAPIStandIn() as gone:
        url = gone.url
    twilio = TwilioWhatsAppProvider(
        "twilio", account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base_url=url, timeout=2
    )
    try:
        failure = failure_of(twilio)
    finally:
        twilio.close()
    assert (failure.code, failure.retryable) == ("network", True)


def test_missing_credentials_fail_permanently(settings):
    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = ""
    failure = failure_of(TwilioWhatsAppProvider("twilio"))
    assert (failure.code, failure.retryable) == ("not_configured", False)


def test_without_options_the_settings_are_read_at_call_time(twilio_api, settings):
    twilio = TwilioWhatsAppProvider("twilio")
    settings.TWILIO_API_BASE_URL = twilio_api.url
    try:
        twilio.send_text(text("from settings"))
    finally:
        twilio.close()
    assert twilio_api.sent_messages()[0].body == "from settings"
    assert twilio_api.requests[0].basic_auth == (ACCOUNT_SID, AUTH_TOKEN)


def test_an_edge_in_the_environment_does_not_redirect_a_base_url_override(twilio_api, monkeypatch):
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    twilio = TwilioWhatsAppProvider(
        "twilio", account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base_url=twilio_api.url
    )
    try:
        twilio.send_text(text())
    finally:
        twilio.close()
    assert len(twilio_api.sent_messages()) == 1


def test_one_sdk_client_per_provider_created_on_first_use(provider, twilio_api):
    assert provider._client is None
    provider.send_text(text("one"))
    client = provider._client
    provider.send_text(text("two"))
    assert provider._client is client
    assert [sent.body for sent in twilio_api.sent_messages()] == ["one", "two"]


def test_the_auth_token_never_reaches_the_logs(twilio_api, caplog):
    twilio = TwilioWhatsAppProvider(
        "twilio", account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base_url=twilio_api.url, timeout=1.0
    )
    twilio_api.fail_next(20429, http_status=429)
    twilio_api.fail_next(63016)
    with caplog.at_level(logging.DEBUG):
        for _ in range(2):
            with pytest.raises(SendFailure) as caught:
                twilio.send_text(text())
            assert AUTH_TOKEN not in str(caught.value)
        twilio_api.delay_next(10.0)
        with pytest.raises(SendFailure):
            twilio.send_text(text())
        twilio.send_text(text())
    twilio.close()
    assert caplog.records
    assert AUTH_TOKEN not in caplog.text

"""X-Twilio-Signature: the library's own signing, the exact public URL, and refusals before parsing."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import pytest
from twilio.request_validator import HMAC_SHA256

from channels_app.twilio.signature import SETTINGS_HEADER, SIGNATURE_HEADER, sign
from channels_app.twilio.tests.helpers import (
    AUTH_TOKEN,
    INBOUND_PATH,
    PUBLIC_BASE_URL,
    STATUS_PATH,
    fixture_params,
    post_signed,
)

pytestmark = [pytest.mark.urls("channels_app.urls"), pytest.mark.django_db]

# Twilio's worked example (twilio.com/docs/usage/security), reproduced in the reference (B2).
DOCS_URL = "https://example.com/myapp.php?foo=1&bar=2"
DOCS_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675310",
    "Digits": "1234",
    "From": "+14158675310",
    "To": "+18005551212",
}


def test_the_library_reproduces_twilios_documented_example():
    assert sign(DOCS_URL, DOCS_PARAMS, "12345") == "L/OH5YylLD5NRKLltdqwSvS0BnU="


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        ("https://example.com/webhooks/twilio/whatsapp/", "hfDbXVxB13vXxVzcncNgDkzUb0Y="),
        ("https://example.com:443/webhooks/twilio/whatsapp/", "A5GGqgTSIgIIxom/Sch8P3fUJTs="),
    ],
)
def test_the_text_fixture_signs_to_the_reference_vectors(url, signature):
    assert sign(url, fixture_params("text"), "12345") == signature


def test_a_form_signed_for_the_public_url_is_accepted(client):
    response = post_signed(client, INBOUND_PATH, fixture_params("text"))
    assert response.status_code == 200


def test_behind_a_tls_proxy_the_public_https_url_is_what_counts(client):
    """The proxy speaks http to us; Twilio signed the https URL typed into its console."""
    params = fixture_params("text")
    behind_proxy = {"HTTP_X_FORWARDED_PROTO": "https"}  # and the internal host, "testserver"

    accepted = post_signed(client, INBOUND_PATH, params, **behind_proxy)
    internal = [
        post_signed(
            client, INBOUND_PATH, params, signed_url=f"{scheme}://testserver{INBOUND_PATH}", **behind_proxy
        )
        for scheme in ("http", "https")
    ]

    assert PUBLIC_BASE_URL.startswith("https://")
    assert accepted.status_code == 200
    assert [response.status_code for response in internal] == [403, 403]


def test_the_url_twilio_called_with_its_port_is_accepted_too(client):
    params = fixture_params("text")
    response = post_signed(
        client, INBOUND_PATH, params, signed_url=f"https://gatekeeper.example.com:443{INBOUND_PATH}"
    )
    assert response.status_code == 200


def test_a_query_string_is_part_of_the_signed_url(client):
    params = fixture_params("text")
    path = f"{INBOUND_PATH}?account=home&x=%20y"
    signed = sign(f"{PUBLIC_BASE_URL}{path}", params, AUTH_TOKEN)
    unsigned_query = sign(f"{PUBLIC_BASE_URL}{INBOUND_PATH}", params, AUTH_TOKEN)

    def post(signature: str):
        return client.post(
            path,
            data=urlencode(params),
            content_type="application/x-www-form-urlencoded",
            headers={SIGNATURE_HEADER: signature},
        )

    assert post(signed).status_code == 200
    assert post(unsigned_query).status_code == 403


def test_parameters_twilio_adds_without_notice_are_signed_and_accepted(client):
    params = {**fixture_params("text"), "SomethingNew2027": "value", "Empty": ""}
    assert post_signed(client, INBOUND_PATH, params).status_code == 200


def test_status_callbacks_are_checked_against_their_own_url(client):
    params = fixture_params("status_read")
    assert post_signed(client, STATUS_PATH, params).status_code == 200
    wrong_path = post_signed(client, STATUS_PATH, params, signed_url=f"{PUBLIC_BASE_URL}{INBOUND_PATH}")
    assert wrong_path.status_code == 403


def test_a_missing_signature_is_refused(client):
    response = client.post(
        INBOUND_PATH, data=urlencode(fixture_params("text")), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 403
    assert response.json() == {"error": "missing X-Twilio-Signature"}


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda p: p.update(Body="Reply NO to cancel autopay."), id="body-changed"),
        pytest.param(lambda p: p.update(Extra="1"), id="param-added"),
        pytest.param(lambda p: p.pop("ProfileName"), id="param-removed"),
        pytest.param(lambda p: p.update(Body=p["Body"] + " "), id="whitespace"),
    ],
)
def test_a_form_changed_after_signing_is_refused(client, tamper):
    params = fixture_params("text")
    signature = sign(f"{PUBLIC_BASE_URL}{INBOUND_PATH}", params, AUTH_TOKEN)
    tamper(params)
    response = client.post(
        INBOUND_PATH,
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={SIGNATURE_HEADER: signature},
    )
    assert response.status_code == 403
    assert response.json() == {"error": "invalid X-Twilio-Signature"}


def test_a_signature_made_with_another_token_is_refused(client):
    response = post_signed(client, INBOUND_PATH, fixture_params("text"), token="not-our-token")
    assert response.status_code == 403


def test_without_an_auth_token_nothing_is_accepted_and_the_misconfiguration_is_logged(
    client, settings, caplog
):
    settings.TWILIO_AUTH_TOKEN = ""
    with caplog.at_level(logging.ERROR):
        response = post_signed(client, INBOUND_PATH, fixture_params("text"), token="")
    assert response.status_code == 403
    assert "TWILIO_AUTH_TOKEN is not set" in caplog.text


def test_a_webhook_signed_with_a_shared_key_is_checked_with_its_algorithm(client, settings):
    settings.TWILIO_WEBHOOK_SIGNING_KEY = "shared-key-secret"
    params = fixture_params("text")
    url = f"{PUBLIC_BASE_URL}{INBOUND_PATH}"

    def post(secret: str, algorithm: str | None):
        return client.post(
            INBOUND_PATH,
            data=urlencode(params),
            content_type="application/x-www-form-urlencoded",
            headers={
                SIGNATURE_HEADER: sign(url, params, secret, algorithm=algorithm),
                SETTINGS_HEADER: "key=webhooks_sharedkey_test,algorithm=HMAC_SHA256",
            },
        )

    assert post("shared-key-secret", HMAC_SHA256).status_code == 200
    assert post("another-secret", HMAC_SHA256).status_code == 403
    assert post("shared-key-secret", None).status_code == 403, "the header names SHA-256, not SHA-1"


def test_refusals_never_log_the_token_or_the_signature(client, caplog):
    params = fixture_params("text")
    with caplog.at_level(logging.DEBUG):
        post_signed(client, INBOUND_PATH, params, token="wrong")
    assert caplog.records
    assert AUTH_TOKEN not in caplog.text
    assert sign(f"{PUBLIC_BASE_URL}{INBOUND_PATH}", params, "wrong") not in caplog.text

"""X-Hub-Signature-256: known-answer vector, raw-byte semantics with escaped unicode, refusals."""

from __future__ import annotations

import json

import pytest

from channels_app.whatsapp.signature import sign, verify_signature
from channels_app.whatsapp.tests.helpers import fixture_bytes

SECRET = "test_app_secret"
# The compact form of Meta's A3.1 text example and its signature (reference doc, section A2).
KNOWN_BODY = (
    b'{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":'
    b'{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881",'
    b'"phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Sheena Nelson"},'
    b'"wa_id":"16505551234"}],"messages":[{"from":"16505551234",'
    b'"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=","timestamp":"1749416383",'
    b'"type":"text","text":{"body":"Does it come in another color?"}}]},"field":"messages"}]}]}'
)
KNOWN_SIGNATURE = "sha256=ded1d1d9621cffa39832ccf2b330fa476b4dc8ec2a5d102e1e554312b3f21d42"
# What Meta signs for non-ASCII text: lowercase \u escapes, emoji as surrogate pairs.
ESCAPED_BODY = b'{"text":{"body":"caf\\u00e9 \\u00e4\\u00f6\\u00e5 \\ud83d\\ude2e"}}'


def test_known_answer_vector_from_the_reference():
    assert len(KNOWN_BODY) == 499
    assert sign(KNOWN_BODY, SECRET) == KNOWN_SIGNATURE
    assert verify_signature(KNOWN_BODY, KNOWN_SIGNATURE, SECRET)


def test_text_fixture_is_the_signed_reference_body():
    assert fixture_bytes("text") == KNOWN_BODY


def test_escaped_unicode_verifies_against_the_raw_bytes_only():
    header = sign(ESCAPED_BODY, SECRET)
    assert verify_signature(ESCAPED_BODY, header, SECRET)
    # The same JSON re-serialised (as a framework would) hashes differently.
    decoded = json.loads(ESCAPED_BODY)
    assert decoded["text"]["body"] == "café äöå 😮"
    reserialised = json.dumps(decoded, ensure_ascii=False, separators=(",", ":")).encode()
    assert reserialised != ESCAPED_BODY
    assert not verify_signature(reserialised, header, SECRET)


def test_fixture_with_escaped_emoji_verifies_over_its_file_bytes():
    body = fixture_bytes("text_forwarded")
    assert b"\\ud83c\\udf89" in body
    assert verify_signature(body, sign(body, SECRET), SECRET)


def test_uppercase_prefix_and_hex_are_accepted():
    assert verify_signature(KNOWN_BODY, KNOWN_SIGNATURE.upper(), SECRET)


@pytest.mark.parametrize(
    ("body", "header", "secret"),
    [
        pytest.param(KNOWN_BODY + b" ", KNOWN_SIGNATURE, SECRET, id="body-changed"),
        pytest.param(KNOWN_BODY, KNOWN_SIGNATURE, "another_secret", id="wrong-secret"),
        pytest.param(KNOWN_BODY, None, SECRET, id="missing-header"),
        pytest.param(KNOWN_BODY, "", SECRET, id="empty-header"),
        pytest.param(KNOWN_BODY, KNOWN_SIGNATURE.removeprefix("sha256="), SECRET, id="no-prefix"),
        pytest.param(KNOWN_BODY, "sha1=" + KNOWN_SIGNATURE.removeprefix("sha256="), SECRET, id="sha1-prefix"),
        pytest.param(KNOWN_BODY, KNOWN_SIGNATURE[:-2], SECRET, id="truncated"),
        pytest.param(KNOWN_BODY, "sha256=é" + KNOWN_SIGNATURE[8:], SECRET, id="non-ascii"),
        pytest.param(KNOWN_BODY, "sha256=", SECRET, id="prefix-only"),
    ],
)
def test_wrong_or_missing_signatures_are_refused(body, header, secret):
    assert not verify_signature(body, header, secret)


def test_an_empty_app_secret_never_verifies_even_a_matching_signature():
    assert not verify_signature(KNOWN_BODY, sign(KNOWN_BODY, ""), "")

"""/webhook/whatsapp: the verification handshake, refusals before parsing, and durable ingest."""

from __future__ import annotations

import copy
import json
import logging

import pytest
from django.db import connection
from django.test import Client

from channels_app.whatsapp.signature import sign
from channels_app.whatsapp.tests.helpers import PHONE_NUMBER_ID, fixture_bytes, fixture_names, post_signed
from conversations.models import (
    Author,
    ChannelAccount,
    Contact,
    Conversation,
    Direction,
    Message,
    MessageStatus,
    User,
)

pytestmark = pytest.mark.urls("channels_app.urls")

URL = "/webhook/whatsapp"
SECRET = "test_app_secret"
VERIFY_TOKEN = "test-verify-token"


def signed_post(client: Client, body: bytes, *, secret: str = SECRET, **extra):
    return post_signed(client, body, secret=secret, **extra)


@pytest.fixture
def account(db):
    owner = User.objects.create_user(username="owner", password="x")
    return ChannelAccount.objects.create(owner=owner, provider="whatsapp", address=PHONE_NUMBER_ID)


# -- GET: the subscription handshake ------------------------------------------------------------


def test_handshake_echoes_the_challenge_as_plain_text(client):
    response = client.get(
        URL, {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    )
    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


def test_handshake_echoes_the_challenge_byte_for_byte(client):
    response = client.get(
        f"{URL}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=%FFab+c%C3%A9-_.~"
    )
    assert response.status_code == 200
    assert response.content == b"\xffab c\xc3\xa9-_.~"


@pytest.mark.parametrize(
    "params",
    [
        pytest.param(
            {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "42"}, id="wrong-token"
        ),
        pytest.param(
            {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}, id="mode"
        ),
        pytest.param({"hub.mode": "subscribe", "hub.challenge": "42"}, id="no-token"),
        pytest.param({"hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}, id="no-mode"),
        pytest.param({"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN}, id="no-challenge"),
        pytest.param(
            {"hub_mode": "subscribe", "hub_verify_token": VERIFY_TOKEN, "hub_challenge": "42"}, id="php"
        ),
        pytest.param({}, id="nothing"),
    ],
)
def test_handshake_is_refused_without_the_right_token_and_mode(client, params):
    response = client.get(URL, params)
    assert response.status_code == 403
    assert b"42" not in response.content


def test_handshake_is_refused_when_no_verify_token_is_configured(client, settings, caplog):
    settings.WHATSAPP_VERIFY_TOKEN = ""
    with caplog.at_level(logging.ERROR):
        response = client.get(URL, {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "42"})
    assert response.status_code == 403
    assert "WHATSAPP_VERIFY_TOKEN" in caplog.text


def test_other_methods_are_not_allowed(client):
    assert client.put(URL, data=b"{}", content_type="application/json").status_code == 405


# -- POST: refused before parsing --------------------------------------------------------------


def test_a_missing_signature_is_refused(client):
    response = client.post(URL, data=fixture_bytes("text"), content_type="application/json")
    assert response.status_code == 403
    assert response.json() == {"error": "missing X-Hub-Signature-256"}


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(sign(b"another body", SECRET), id="other-body"),
        pytest.param(sign(fixture_bytes("text"), "not-the-app-secret"), id="other-secret"),
        pytest.param("sha256=" + "0" * 64, id="zeros"),
        pytest.param("garbage", id="garbage"),
    ],
)
def test_a_wrong_signature_is_refused(client, header):
    response = client.post(
        URL, data=fixture_bytes("text"), content_type="application/json", HTTP_X_HUB_SIGNATURE_256=header
    )
    assert response.status_code == 403
    assert response.json() == {"error": "invalid X-Hub-Signature-256"}


def test_without_an_app_secret_nothing_is_accepted_and_the_misconfiguration_is_logged(
    client, settings, caplog
):
    settings.WHATSAPP_APP_SECRET = ""
    with caplog.at_level(logging.ERROR):
        response = signed_post(client, fixture_bytes("text"), secret="")
    assert response.status_code == 403
    assert "WHATSAPP_APP_SECRET is not set" in caplog.text


def test_a_body_over_the_limit_is_refused_with_413(client, settings):
    settings.WEBHOOK_MAX_BYTES = 400
    response = signed_post(client, fixture_bytes("text"))  # 499 bytes
    assert response.status_code == 413


def test_the_declared_length_is_checked_before_reading(client):
    response = signed_post(client, fixture_bytes("text"), CONTENT_LENGTH=str(3 * 1024 * 1024 + 1))
    assert response.status_code == 413


def test_the_documented_three_megabyte_limit_applies(client, settings):
    assert settings.WEBHOOK_MAX_BYTES == 3 * 1024 * 1024
    body = b" " * (settings.WEBHOOK_MAX_BYTES + 1)
    assert client.post(URL, data=body, content_type="application/json").status_code == 413


def test_an_invalid_content_length_is_a_bad_request(client):
    assert signed_post(client, fixture_bytes("text"), CONTENT_LENGTH="many").status_code == 400


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"{not json", "malformed JSON", id="broken"),
        pytest.param(b"\xff\xfe\x00garbage", "malformed JSON", id="not-utf8"),
        pytest.param(b"", "malformed JSON", id="empty"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "malformed JSON", id="too-deep"),
    ],
)
def test_malformed_json_is_a_bad_request(client, body, reason):
    response = signed_post(client, body)
    assert response.status_code == 400
    assert response.json() == {"error": reason}


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param([], id="a-list"),
        pytest.param({"object": "page", "entry": []}, id="not-whatsapp"),
        pytest.param({"object": "whatsapp_business_account", "entry": "x"}, id="entry-not-a-list"),
    ],
)
def test_a_body_that_is_not_a_whatsapp_webhook_is_a_bad_request(client, payload):
    response = signed_post(client, json.dumps(payload).encode())
    assert response.status_code == 400
    assert "not" in response.json()["error"]


@pytest.fixture
def database_down(db):
    """Point the connection at a database that cannot be reached (a dead port, a missing folder); `up()` restores it."""
    real = copy.deepcopy(connection.settings_dict)

    def reconnect(**changes: object) -> None:
        connection.close()
        if hasattr(connection, "close_pool"):
            connection.close_pool()
        connection.settings_dict.update(copy.deepcopy(real), **changes)

    if connection.vendor == "postgresql":
        down: dict[str, object] = {"PORT": "1"}  # nothing listens there
        if isinstance(real.get("OPTIONS", {}).get("pool"), dict):
            down["OPTIONS"] = {**real["OPTIONS"], "pool": {**real["OPTIONS"]["pool"], "timeout": 1}}
    else:
        down = {"NAME": "/nonexistent-gatekeeper-folder/db.sqlite3"}
    reconnect(**down)
    yield lambda: reconnect()
    reconnect()


@pytest.mark.django_db(transaction=True)
def test_a_database_outage_answers_503_so_meta_retries(client, account, database_down, caplog):
    with caplog.at_level(logging.ERROR):
        response = signed_post(client, fixture_bytes("text"))
    database_down()  # the database is back

    assert response.status_code == 503
    assert "database unavailable" in caplog.text
    assert not Message.objects.exists(), "nothing half-written"
    assert signed_post(client, fixture_bytes("text")).status_code == 200, "Meta's retry is stored"
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_secrets_and_contents_stay_out_of_the_info_logs(client, account, caplog):
    """Operators see counts and ids; the app secret, signatures and message texts never appear."""
    with caplog.at_level(logging.INFO):
        assert signed_post(client, fixture_bytes("text")).status_code == 200
        signed_post(client, b"{broken")
        client.post(
            URL, data=fixture_bytes("text"), content_type="application/json", HTTP_X_HUB_SIGNATURE_256="x"
        )
    assert "1 new" in caplog.text
    assert SECRET not in caplog.text
    assert "another color" not in caplog.text
    assert sign(fixture_bytes("text"), SECRET) not in caplog.text


# -- POST: stored before 200 -------------------------------------------------------------------


@pytest.mark.django_db
def test_a_signed_text_is_stored_and_answered_200_ok(client, account):
    response = signed_post(client, fixture_bytes("text"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    message = Message.objects.get()
    assert message.provider_message_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert message.text == "Does it come in another color?"
    assert (message.direction, message.author, message.kind) == (Direction.IN, Author.CONTACT, "text")
    contact = message.conversation.contact
    assert (contact.address, contact.phone, contact.name) == ("16505551234", "16505551234", "Sheena Nelson")


@pytest.mark.django_db
def test_csrf_does_not_apply_to_the_webhook(account):
    response = signed_post(Client(enforce_csrf_checks=True), fixture_bytes("text"))
    assert response.status_code == 200


@pytest.mark.django_db
def test_a_redelivery_changes_nothing(client, account):
    assert signed_post(client, fixture_bytes("text")).status_code == 200
    assert signed_post(client, fixture_bytes("text")).status_code == 200
    assert Message.objects.count() == 1
    assert Conversation.objects.count() == 1


@pytest.mark.django_db
def test_escaped_unicode_arrives_intact(client, account):
    assert signed_post(client, fixture_bytes("text_forwarded")).status_code == 200
    message = Message.objects.get()
    assert message.text == "Café promo: 50% off 🎉 forward to 10 friends"
    assert message.metadata["frequently_forwarded"] is True


@pytest.mark.django_db
def test_the_phoneless_sender_becomes_a_contact_keyed_on_its_user_id(client, account):
    assert signed_post(client, fixture_bytes("text_bsuid")).status_code == 200
    contact = Contact.objects.get()
    assert (contact.address, contact.phone, contact.name) == ("US.13491208655302741918", "", "Sheena Nelson")


@pytest.mark.django_db
def test_an_unknown_phone_number_id_is_logged_and_still_acknowledged(client, caplog):
    with caplog.at_level(logging.INFO, logger="channels_app"):
        response = signed_post(client, fixture_bytes("text"))
    assert response.status_code == 200
    assert Message.objects.count() == 0
    assert PHONE_NUMBER_ID in caplog.text


@pytest.mark.django_db
def test_a_batch_is_stored_for_every_known_account(client, account):
    ChannelAccount.objects.create(owner=account.owner, provider="whatsapp", address="109876543210987")
    assert signed_post(client, fixture_bytes("batch")).status_code == 200
    assert sorted(Message.objects.values_list("provider_message_id", flat=True)) == [
        "wamid.BATCH.A1",
        "wamid.BATCH.A2",
        "wamid.BATCH.A3",
        "wamid.BATCH.B1",
    ]
    assert Conversation.objects.count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize("name", fixture_names())
def test_every_recorded_payload_is_acknowledged(client, account, name):
    assert signed_post(client, fixture_bytes(name)).status_code == 200


@pytest.mark.django_db
def test_a_read_receipt_moves_our_outbound_message_forward(client, account):
    contact = Contact.objects.create(owner=account.owner, address="16505551234")
    conversation = Conversation.objects.create(owner=account.owner, account=account, contact=contact)
    outbound = Message.objects.create(
        conversation=conversation,
        account=account,
        direction=Direction.OUT,
        author=Author.ASSISTANT,
        text="We will look into it.",
        provider_message_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
        status=MessageStatus.SENT,
    )
    assert signed_post(client, fixture_bytes("status_read")).status_code == 200
    outbound.refresh_from_db()
    assert outbound.status == MessageStatus.READ
    # A late "delivered" never overwrites "read".
    assert signed_post(client, fixture_bytes("status_delivered")).status_code == 200
    outbound.refresh_from_db()
    assert outbound.status == MessageStatus.READ

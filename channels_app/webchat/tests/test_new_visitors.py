"""A chat page takes at most `WEBCHAT_NEW_VISITOR_RATE` new visitors a minute; returning ones are never counted.

A flood of fresh visitors (each a new contact, each an owner notification) is refused before
anything is stored, with the same 429 / error frame as the other limits.
"""

from __future__ import annotations

import json
import time

import pytest
from asgiref.sync import async_to_sync
from django.core.checks import run_checks
from django.test import Client

from channels_app.webchat import ratelimit
from channels_app.webchat.tests.conftest import SLUG, chat_socket
from conversations.models import Contact, Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def one_window(settings):
    """Twenty new visitors a minute, the default, counted by a clock held in the middle of one minute.

    The limit counts in fixed one-minute windows: a test that crossed a window's end would see
    its count split in two. The clock is the limiter's own (`ratelimit.clock`), never slept on.
    """
    settings.WEBCHAT_NEW_VISITOR_RATE = "20/m"
    start = time.time() // 60 * 60 + 30  # the middle of the current minute, and it stays there
    ratelimit.clock = lambda: start
    yield start
    ratelimit.clock = time.time


def post(client: Client, text: str, token: str | None = None):
    body = {"account": SLUG, "text": text, **({"visitor_token": token} if token else {})}
    return client.post("/webchat", data=json.dumps(body), content_type="application/json")


def test_the_21st_new_visitor_in_a_minute_is_refused_over_http_and_nothing_is_stored(
    client, chat_account, one_window
):
    tokens = []
    for number in range(20):
        response = post(client, f"visitor {number}")
        assert response.status_code == 202, number
        tokens.append(response.json()["visitor_token"])

    refused = post(client, "visitor 21")
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "rate_limited"
    assert body["error"].startswith("This chat is busy")
    assert 1 <= int(refused["Retry-After"]) <= 60 and body["retry_after"] == int(refused["Retry-After"])
    assert not Message.objects.filter(text="visitor 21").exists()
    assert Contact.objects.count() == 20

    again = post(client, "I am still here", tokens[0])
    assert again.status_code == 202, "a returning visitor is never counted"
    assert again.json()["conversation"] == Message.objects.get(text="visitor 0").conversation_id


def test_the_21st_new_visitor_in_a_minute_is_refused_over_the_socket_and_nothing_is_stored(
    chat_account, one_window
):
    async def first_message(text: str, token: str = "") -> tuple[dict, str]:
        path = f"/ws/chat/{SLUG}/" + (f"?visitor_token={token}" if token else "")
        async with chat_socket(path) as socket:
            await socket.connect()
            history = await socket.receive_json_from()
            await socket.send_json_to({"type": "message", "text": text, "client_id": text.replace(" ", "-")})
            return await socket.receive_json_from(), history["visitor_token"]

    async def scenario():
        tokens = []
        for number in range(20):
            frame, token = await first_message(f"visitor {number}")
            assert (frame["type"], frame["text"]) == ("message", f"visitor {number}")
            tokens.append(token)
        refused, _ = await first_message("visitor 21")
        assert refused["type"] == "error"
        assert (refused["code"], refused["client_id"]) == ("rate_limited", "visitor-21")
        assert refused["error"].startswith("This chat is busy")
        assert 1 <= refused["retry_after"] <= 60
        returning, _ = await first_message("back again", tokens[5])
        assert (returning["type"], returning["text"]) == ("message", "back again")

    async_to_sync(scenario)()
    assert not Message.objects.filter(text="visitor 21").exists()
    assert Contact.objects.count() == 20
    assert Message.objects.count() == 21


def test_a_new_visitor_counts_once_not_for_every_message(chat_account, settings):
    """After its first message is stored a socket's visitor is returning, even without reconnecting."""
    settings.WEBCHAT_NEW_VISITOR_RATE = "1/h"

    async def scenario():
        async with chat_socket() as talkative, chat_socket() as latecomer:
            await talkative.connect()
            await latecomer.connect()
            await talkative.receive_json_from()
            await latecomer.receive_json_from()
            for number in range(3):
                await talkative.send_json_to({"type": "message", "text": f"line {number}"})
                assert (await talkative.receive_json_from())["type"] == "message"
            await latecomer.send_json_to({"type": "message", "text": "me too"})
            assert (await latecomer.receive_json_from())["code"] == "rate_limited"

    async_to_sync(scenario)()
    assert Message.objects.count() == 3


def test_a_token_a_socket_handed_out_before_any_message_does_not_get_round_the_cap(
    client, chat_account, settings
):
    """Opening sockets mints valid tokens for free; a visitor is returning only once something is stored."""
    settings.WEBCHAT_NEW_VISITOR_RATE = "1/h"
    assert post(client, "the first new visitor").status_code == 202

    async def minted_token() -> str:
        async with chat_socket() as socket:
            await socket.connect()
            return (await socket.receive_json_from())["visitor_token"]

    token = async_to_sync(minted_token)()
    refused = post(client, "flood", token)
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    assert Contact.objects.count() == 1


def test_a_refusal_by_another_limit_uses_none_of_the_pages_allowance(client, chat_account, settings):
    settings.WEBCHAT_NEW_VISITOR_RATE = "2/h"
    settings.WEBCHAT_ADDRESS_RATE = "1/h"
    assert post(client, "one").status_code == 202
    assert post(client, "two").status_code == 429, "the address limit"
    settings.WEBCHAT_ADDRESS_RATE = "100/h"
    assert post(client, "three").status_code == 202, "the second new visitor of the page's two"
    assert post(client, "four").json()["error"].startswith("This chat is busy")


def test_a_bad_new_visitor_rate_fails_the_system_checks(settings):
    settings.WEBCHAT_NEW_VISITOR_RATE = "plenty"
    assert any(
        error.id == "webchat.E001" and "WEBCHAT_NEW_VISITOR_RATE" in error.msg for error in run_checks()
    )

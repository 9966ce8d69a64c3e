"""The visitor token travels outside URLs: `X-Visitor-Token` for `/webchat`, a subprotocol for the socket.

The older forms (`?visitor_token=`, the POST body's `visitor_token`) keep working.
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager

import pytest
from asgiref.sync import async_to_sync

from channels_app.webchat.tests.conftest import ORIGIN, SLUG, chat_socket
from channels_app.webchat.visitors import (
    SUBPROTOCOL,
    Visitor,
    issue_token,
    new_visitor,
    token_from_subprotocols,
    token_subprotocol,
)
from conversations.models import Conversation, Message
from conversations.tests.sockets import PatientCommunicator

pytestmark = pytest.mark.django_db(transaction=True)


@asynccontextmanager
async def socket_offering(protocols: list[str]):
    """A socket on the real ASGI application that offers `protocols`, as the chat page's script does."""
    from gatekeeper_site.asgi import application

    communicator = PatientCommunicator(
        application, f"/ws/chat/{SLUG}/", headers=[(b"origin", ORIGIN.encode())], subprotocols=protocols
    )
    communicator.scope["client"] = ("10.0.0.1", 50000)
    try:
        yield communicator
    finally:
        await communicator.disconnect()


def post(client, body: dict, **headers: str):
    return client.post("/webchat", data=json.dumps(body), content_type="application/json", **headers)


def first_message(client) -> dict:
    response = post(client, {"account": SLUG, "text": "one"})
    assert response.status_code == 202
    return response.json()


def test_a_post_with_the_token_in_the_header_continues_the_visitors_conversation(client, chat_account):
    first = first_message(client)

    second = post(client, {"account": SLUG, "text": "two"}, HTTP_X_VISITOR_TOKEN=first["visitor_token"])

    assert second.status_code == 202
    assert second.json()["conversation"] == first["conversation"]
    assert Conversation.objects.count() == 1


def test_a_get_with_the_token_in_the_header_lists_the_visitors_messages(client, chat_account):
    first = first_message(client)

    listed = client.get("/webchat", {"account": SLUG}, HTTP_X_VISITOR_TOKEN=first["visitor_token"])

    assert listed.status_code == 200
    assert [message["text"] for message in listed.json()["messages"]] == ["one"]


def test_the_older_query_and_body_forms_still_work(client, chat_account):
    first = first_message(client)
    token = first["visitor_token"]

    second = post(client, {"account": SLUG, "text": "two", "visitor_token": token})
    listed = client.get("/webchat", {"account": SLUG, "visitor_token": token})

    assert second.json()["conversation"] == first["conversation"]
    assert [message["text"] for message in listed.json()["messages"]] == ["one", "two"]


def test_a_forged_header_token_is_refused_and_stores_nothing(client, chat_account):
    forged = issue_token(Visitor(id="0" * 32, slug="another-page"))

    listed = client.get("/webchat", {"account": SLUG}, HTTP_X_VISITOR_TOKEN=forged)
    posted = post(client, {"account": SLUG, "text": "hi"}, HTTP_X_VISITOR_TOKEN=forged)

    assert (listed.status_code, listed.json()["code"]) == (403, "invalid_visitor_token")
    assert (posted.status_code, posted.json()["code"]) == (403, "invalid_visitor_token")
    assert not Message.objects.exists()


def test_an_allowed_site_may_send_the_header_cross_origin(client, chat_account):
    chat_account.allowed_origins = ["https://shop.example"]
    chat_account.save()

    preflight = client.options(
        "/webchat",
        HTTP_ORIGIN="https://shop.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-visitor-token",
    )

    assert preflight.status_code == 204
    allowed = {name.strip().lower() for name in preflight["Access-Control-Allow-Headers"].split(",")}
    assert "x-visitor-token" in allowed


def test_the_token_subprotocol_round_trips_and_garbage_reads_as_no_token():
    token = issue_token(new_visitor(SLUG))
    protocol = token_subprotocol(token)

    assert ":" not in protocol and "=" not in protocol
    assert token_from_subprotocols([SUBPROTOCOL, protocol]) == token
    assert token_from_subprotocols([SUBPROTOCOL]) == ""
    assert token_from_subprotocols(["gatekeeper.visitor-token.%%%"]) == ""
    assert token_from_subprotocols(["gatekeeper.visitor-token." + "A" * 5000]) == ""


def test_a_socket_resumes_the_visitor_from_the_token_subprotocol_and_echoes_only_the_protocol_name(
    chat_account, client
):
    token = first_message(client)["visitor_token"]

    async def scenario():
        async with socket_offering([SUBPROTOCOL, token_subprotocol(token)]) as socket:
            connected, chosen = await socket.connect()
            assert connected
            assert chosen == SUBPROTOCOL
            return await socket.receive_json_from()

    history = async_to_sync(scenario)()

    assert history["type"] == "history"
    assert [message["text"] for message in history["messages"]] == ["one"]


def test_a_socket_without_a_token_is_a_new_visitor_and_a_bad_one_too(chat_account, client):
    first_message(client)
    forged = issue_token(Visitor(id="1" * 32, slug="another-page"))

    async def scenario(protocols):
        async with socket_offering(protocols) as socket:
            connected, chosen = await socket.connect()
            assert connected and chosen == SUBPROTOCOL
            return await socket.receive_json_from()

    for protocols in ([SUBPROTOCOL], [SUBPROTOCOL, token_subprotocol(forged)]):
        history = async_to_sync(scenario)(protocols)
        assert history["messages"] == []
        assert history["visitor_token"]


def test_the_query_form_still_resumes_a_socket(chat_account, client):
    token = first_message(client)["visitor_token"]

    async def scenario():
        async with chat_socket(f"/ws/chat/{SLUG}/?visitor_token={token}") as socket:
            connected, chosen = await socket.connect()
            assert connected and chosen is None
            return await socket.receive_json_from()

    assert [message["text"] for message in async_to_sync(scenario)()["messages"]] == ["one"]

"""`POST/GET /webchat` (the socket's HTTP twin) and the chat page `GET /chat/<slug>/`."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from channels_app.webchat.tests.conftest import SLUG, chat_socket
from channels_app.webchat.visitors import Visitor, issue_token
from conversations import jobs
from conversations.models import Author, Contact, Conversation, Direction, Message, MessageStatus, Rule

pytestmark = pytest.mark.django_db(transaction=True)


def post(client: Client, body: object, **headers: str):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post("/webchat", data=data, content_type="application/json", **headers)


def test_a_post_stores_the_message_and_answers_202_with_token_conversation_and_message(client, chat_account):
    response = post(client, {"account": SLUG, "text": "Your bill is ready", "name": " Acme   Mobile "})

    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"visitor_token", "conversation", "message"}
    message = Message.objects.get()
    assert body["conversation"] == message.conversation_id
    assert body["message"] == {
        "id": message.pk,
        "author": "visitor",
        "text": "Your bill is ready",
        "created_at": message.created_at.isoformat(),
    }
    assert message.conversation.contact.name == "Acme Mobile"
    assert [job.path for job in jobs.recorded] == ["conversations.tasks.draft_reply"]


def test_the_token_keeps_a_visitor_in_one_conversation_and_get_lists_it(client, chat_account):
    first = post(client, {"account": SLUG, "text": "one"}).json()
    second = post(client, {"account": SLUG, "text": "two", "visitor_token": first["visitor_token"]}).json()
    assert second["conversation"] == first["conversation"]

    listed = client.get("/webchat", {"account": SLUG, "visitor_token": second["visitor_token"]}).json()
    assert [m["text"] for m in listed["messages"]] == ["one", "two"]
    assert listed["held"] is False
    after = client.get(
        "/webchat",
        {"account": SLUG, "visitor_token": second["visitor_token"], "after": first["message"]["id"]},
    ).json()
    assert [m["text"] for m in after["messages"]] == ["two"]


def test_get_shows_replies_only_once_they_are_handed_to_the_visitor(client, chat_account, delegate):
    delegate("cellphone_provider")
    token = post(client, {"account": SLUG, "text": "My mobile data plan is wrong"}).json()["visitor_token"]
    jobs.run_recorded_jobs()

    messages = client.get("/webchat", {"account": SLUG, "visitor_token": token}).json()["messages"]
    assert [m["author"] for m in messages] == ["visitor", "assistant"]


def test_a_reply_handed_over_after_the_visitors_next_message_still_reaches_a_polling_page(
    client, chat_account
):
    first = post(client, {"account": SLUG, "text": "one"}).json()
    token = first["visitor_token"]
    conversation = Conversation.objects.get(pk=first["conversation"])
    reply = Message.objects.create(
        conversation=conversation,
        account=conversation.account,
        direction=Direction.OUT,
        author=Author.ASSISTANT,
        text="Noted, thank you.",
        status=MessageStatus.QUEUED,
    )
    second = post(client, {"account": SLUG, "text": "two", "visitor_token": token}).json()

    def poll() -> list[str]:
        query = {"account": SLUG, "visitor_token": token, "after": second["message"]["id"]}
        return [m["text"] for m in client.get("/webchat", query).json()["messages"]]

    assert poll() == []  # the page shows everything up to "two"; the reply is not out yet
    Message.objects.filter(pk=reply.pk).update(status=MessageStatus.SENT, updated_at=timezone.now())
    assert poll() == ["Noted, thank you."]


def test_a_retried_post_with_the_same_client_id_is_stored_once(client, chat_account):
    first = post(client, {"account": SLUG, "text": "hello", "client_id": "retry-1"}).json()
    jobs.recorded.clear()
    again = post(
        client,
        {"account": SLUG, "text": "hello", "client_id": "retry-1", "visitor_token": first["visitor_token"]},
    )
    assert again.status_code == 202
    assert again.json()["message"]["id"] == first["message"]["id"]
    assert Message.objects.count() == 1
    assert jobs.recorded == []


def test_a_visitor_sees_only_their_own_conversation_whatever_they_send(client, chat_account):
    alice = post(client, {"account": SLUG, "text": "Alice's message"}).json()
    bob = post(client, {"account": SLUG, "text": "Bob's message"}).json()
    assert alice["conversation"] != bob["conversation"]

    listed = client.get(
        "/webchat", {"account": SLUG, "visitor_token": bob["visitor_token"], "after": 0}
    ).json()
    assert [m["text"] for m in listed["messages"]] == ["Bob's message"]

    alice_id = Contact.objects.get(conversations__pk=alice["conversation"]).address.removeprefix("webchat:")
    foreign = issue_token(Visitor(id=alice_id, slug="another-chat"))
    for token in (foreign, bob["visitor_token"][:-3] + "xyz", "garbage"):
        response = client.get("/webchat", {"account": SLUG, "visitor_token": token})
        assert response.status_code == 403
        assert response.json()["code"] == "invalid_visitor_token"
        assert post(client, {"account": SLUG, "text": "x", "visitor_token": token}).status_code == 403
    assert Message.objects.filter(conversation__pk=alice["conversation"]).count() == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{nope", 400, "malformed_json"),
        ("[]", 400, "malformed_frame"),
        ({"account": "no-such-chat", "text": "hi"}, 404, "unknown_chat"),
        ({"account": SLUG}, 400, "empty_text"),
        ({"account": SLUG, "text": "x" * 2001}, 400, "text_too_long"),
        ({"account": SLUG, "text": "hi", "client_id": "no spaces"}, 400, "invalid_client_id"),
        ({"account": SLUG, "text": "hi", "visitor_token": 7}, 403, "invalid_visitor_token"),
    ],
)
def test_bad_posts_get_a_clear_error_and_store_nothing(client, chat_account, body, status, code):
    response = post(client, body)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert response.json()["error"]
    assert not Message.objects.exists()


def test_a_get_needs_a_known_account_a_token_and_a_numeric_cursor(client, chat_account):
    token = post(client, {"account": SLUG, "text": "hi"}).json()["visitor_token"]
    assert client.get("/webchat", {"account": "nope", "visitor_token": token}).status_code == 404
    assert client.get("/webchat", {"account": SLUG}).json()["code"] == "missing_visitor_token"
    assert (
        client.get("/webchat", {"account": SLUG, "visitor_token": token, "after": "1 OR 1=1"}).status_code
        == 400
    )


def test_a_large_body_is_refused_before_it_is_parsed(client, chat_account):
    response = post(client, json.dumps({"account": SLUG, "text": "x" * 20000}))
    assert response.status_code == 413


def test_posting_too_fast_answers_429_with_retry_after(client, chat_account, settings):
    settings.WEBCHAT_VISITOR_RATE = "2/m"
    token = post(client, {"account": SLUG, "text": "1"}).json()["visitor_token"]
    assert post(client, {"account": SLUG, "text": "2", "visitor_token": token}).status_code == 202
    refused = post(client, {"account": SLUG, "text": "3", "visitor_token": token})
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert Message.objects.count() == 2


def test_browsers_may_call_it_only_from_this_site_or_the_accounts_allowed_sites(client, chat_account):
    chat_account.allowed_origins = ["https://shop.example"]
    chat_account.save()

    allowed = post(client, {"account": SLUG, "text": "hi"}, HTTP_ORIGIN="https://shop.example")
    assert allowed.status_code == 202
    assert allowed["Access-Control-Allow-Origin"] == "https://shop.example"
    assert post(client, {"account": SLUG, "text": "hi"}, HTTP_ORIGIN="http://testserver").status_code == 202
    assert post(client, {"account": SLUG, "text": "hi"}).status_code == 202, "servers send no Origin"

    # A page elsewhere may not post into the owner's inbox from its visitors' browsers (no preflight
    # is needed for a text/plain body, so the refusal has to be the server's).
    stranger = client.post(
        "/webchat",
        data=json.dumps({"account": SLUG, "text": "spam"}),
        content_type="text/plain",
        HTTP_ORIGIN="https://evil.example",
    )
    assert stranger.status_code == 403
    assert stranger.json()["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in stranger
    assert not Message.objects.filter(text="spam").exists()

    preflight = client.options(
        "/webchat", HTTP_ORIGIN="https://shop.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert preflight.status_code == 204
    assert "POST" in preflight["Access-Control-Allow-Methods"]
    assert preflight["Access-Control-Allow-Headers"] == "Content-Type, X-Visitor-Token"
    refused = client.options(
        "/webchat", HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert "Access-Control-Allow-Origin" not in refused


def test_a_message_posted_over_http_appears_on_the_visitors_open_socket(chat_account):
    async def scenario():
        async with chat_socket() as socket:
            await socket.connect()
            token = (await socket.receive_json_from())["visitor_token"]
            response = await database_sync_to_async(post)(
                Client(), {"account": SLUG, "text": "sent from another tab", "visitor_token": token}
            )
            assert response.status_code == 202
            live = await socket.receive_json_from()
            assert (live["type"], live["text"]) == ("message", "sent from another tab")

    async_to_sync(scenario)()


# -- the chat page --------------------------------------------------------------------------------


def test_the_chat_page_loads_its_own_static_files_and_names_the_limits(client, chat_account):
    response = client.get(f"/chat/{SLUG}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'src="/static/webchat/chat.js"' in html
    assert 'href="/static/webchat/chat.css"' in html
    assert f'data-slug="{SLUG}"' in html
    assert 'maxlength="2000"' in html
    assert '<label for="message-text"' in html
    assert "http://" not in html.replace("http://testserver", ""), "nothing loads from another site"


def test_the_chat_page_may_be_framed_only_by_the_accounts_allowed_sites(client, chat_account):
    chat_account.allowed_origins = ["https://shop.example", "http://127.0.0.1:8123/", "javascript:alert(1)"]
    chat_account.save()

    response = client.get(f"/chat/{SLUG}/?embed=1")
    assert "X-Frame-Options" not in response
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";") if part.strip()
    )
    assert policy["frame-ancestors"] == "'self' https://shop.example http://127.0.0.1:8123"
    assert policy["script-src"] == "'self'"
    assert 'id="close"' in response.content.decode()


def test_an_unknown_chat_page_is_a_clear_404(client, chat_account):
    response = client.get("/chat/nobody/")
    assert response.status_code == 404
    assert "No chat page is called" in response.content.decode()


def test_the_slug_in_the_page_is_escaped(client, chat_account):
    response = client.get("/chat/%3Cscript%3Ealert(1)%3C%2Fscript%3E/")
    assert response.status_code == 404
    assert "<script>alert(1)</script>" not in response.content.decode()


def test_the_widget_script_is_served_as_a_static_file(client, chat_account):
    response = client.get("/static/webchat/widget.js")
    assert response.status_code == 200
    assert b"data-slug" in b"".join(response.streaming_content)


def test_a_visitor_who_types_a_known_company_name_is_unverified_and_not_answered(
    client, chat_account, delegate
):
    """The rule's keyword says what it is about, but the name the visitor typed is only a claim."""
    delegate("cellphone_provider")
    Rule.objects.filter(owner=chat_account.owner, category="cellphone_provider").update(
        match_senders=["Vodafone"]
    )
    token = post(client, {"account": SLUG, "text": "My mobile bill is wrong", "name": "Vodafone"}).json()[
        "visitor_token"
    ]
    jobs.run_recorded_jobs()

    messages = client.get("/webchat", {"account": SLUG, "visitor_token": token}).json()["messages"]
    assert [m["author"] for m in messages] == ["visitor"]
    conversation = Conversation.objects.get()
    assert conversation.claims_to_be == "Vodafone"
    assert conversation.drafts.get().status == "pending"

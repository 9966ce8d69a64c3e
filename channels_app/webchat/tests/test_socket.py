"""`WS /ws/chat/<slug>/`: the contract's frames, the shared pipeline, identity, isolation and abuse."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from channels_app.webchat.consumer import UNKNOWN_CHAT
from channels_app.webchat.tests.conftest import SLUG, chat_socket
from channels_app.webchat.visitors import Visitor, issue_token
from conversations import jobs, services
from conversations.models import Author, Contact, Conversation, Direction, Draft, DraftStatus, Message

pytestmark = pytest.mark.django_db(transaction=True)

BILL = "My mobile data plan and the roaming charges on my phone"
METER = "Please send your electricity meter reading for the gas and power supply"


def run(scenario) -> None:
    """Run an async scenario from a sync test (thread-sensitive ORM calls land on this thread)."""
    async_to_sync(scenario)()


run_jobs = database_sync_to_async(jobs.run_recorded_jobs)


async def frame_of(socket, kind: str, *, timeout: float = 3.0) -> dict:
    """The next frame of this type, skipping typing indicators and held notes on the way."""
    while True:
        frame = await socket.receive_json_from(timeout=timeout)
        if frame["type"] == kind:
            return frame
        assert frame["type"] in {"typing", "held"}, frame


async def next_is_echo_of_a_probe(socket, text: str) -> dict:
    """Send `text` and return the next frame, asserting it is that message's echo.

    The socket's frames arrive in order, so a frame that should not have been sent before the
    probe (a duplicate echo, another visitor's message) would arrive ahead of its echo: a
    positive signal instead of waiting a while for nothing.
    """
    client_id = "probe-" + "".join(char if char.isalnum() else "_" for char in text)
    await socket.send_json_to({"type": "message", "text": text, "client_id": client_id})
    frame = await socket.receive_json_from(timeout=3)
    assert (frame["type"], frame.get("text"), frame.get("client_id")) == ("message", text, client_id), frame
    return frame


def test_a_new_visitor_gets_an_empty_history_and_a_token(chat_account):
    async def scenario():
        async with chat_socket() as socket:
            connected, _ = await socket.connect()
            assert connected
            history = await socket.receive_json_from()
            assert history["type"] == "history"
            assert history["messages"] == []
            assert history["held"] is False
            assert history["visitor_token"]

    run(scenario)


def test_a_message_goes_through_the_same_ingest_as_whatsapp_and_is_echoed(chat_account):
    async def scenario():
        async with chat_socket() as socket:
            await socket.connect()
            await socket.receive_json_from()
            await socket.send_json_to({"type": "message", "text": "  Hello there  ", "client_id": "c-1"})
            echo = await socket.receive_json_from()
            assert echo["type"] == "message"
            assert echo["author"] == "visitor"
            assert echo["text"] == "Hello there"
            assert echo["client_id"] == "c-1"
            assert set(echo) >= {"id", "author", "text", "created_at"}
            await next_is_echo_of_a_probe(socket, "And another thing")  # echoed once, nothing else

    run(scenario)
    message = Message.objects.get(text="Hello there")
    assert message.direction == Direction.IN and message.author == Author.CONTACT
    assert message.conversation.account == chat_account
    assert message.conversation.contact.address.startswith("webchat:")
    assert [job.path for job in jobs.recorded] == ["conversations.tasks.draft_reply"] * 2


def test_a_retried_message_with_the_same_client_id_is_stored_once_and_schedules_nothing(chat_account):
    async def scenario():
        async with chat_socket() as socket:
            await socket.connect()
            await socket.receive_json_from()
            await socket.send_json_to({"type": "message", "text": "Hello", "client_id": "same"})
            first = await socket.receive_json_from()
            await database_sync_to_async(jobs.recorded.clear)()
            await socket.send_json_to({"type": "message", "text": "Hello", "client_id": "same"})
            retried_jobs = await database_sync_to_async(lambda: list(jobs.recorded))()
            await next_is_echo_of_a_probe(socket, "Next")  # the retry was already shown on this socket
            return first, retried_jobs

    first, retried_jobs = async_to_sync(scenario)()
    assert Message.objects.filter(text="Hello").count() == 1
    assert Message.objects.get(text="Hello").pk == first["id"]
    assert retried_jobs == []


def test_the_assistants_reply_reaches_the_socket_live_after_a_typing_indicator(chat_account, delegate):
    delegate("cellphone_provider")

    async def scenario():
        async with chat_socket() as socket:
            await socket.connect()
            await socket.receive_json_from()
            await socket.send_json_to({"type": "message", "text": BILL})
            await frame_of(socket, "message")
            await run_jobs()
            assert (await socket.receive_json_from())["type"] == "typing"
            reply = await frame_of(socket, "message")
            assert reply["author"] == "assistant"
            assert "mobile service" in reply["text"]

    run(scenario)
    reply = Message.objects.get(direction=Direction.OUT)
    assert reply.status == "sent" and reply.provider_message_id.startswith("webchat-out.")


def test_a_held_reply_shows_a_note_and_arrives_live_when_the_owner_approves_it(chat_account):
    async def scenario():
        async with chat_socket() as socket:
            await socket.connect()
            await socket.receive_json_from()
            await socket.send_json_to({"type": "message", "text": METER})
            await frame_of(socket, "message")
            await run_jobs()
            assert await frame_of(socket, "held") == {"type": "held"}
            # Held: the jobs have run and nothing went out (state, not a wait for a frame that never comes).
            assert not await database_sync_to_async(Message.objects.filter(direction=Direction.OUT).exists)()
            draft = await database_sync_to_async(Draft.objects.get)(status=DraftStatus.PENDING)
            await database_sync_to_async(services.draft_approve)(
                draft_id=draft.pk, by=chat_account.owner, text="We will read the meter on Monday."
            )
            await run_jobs()
            approved = await frame_of(socket, "message")
            assert approved["author"] == "assistant"
            assert approved["text"] == "We will read the meter on Monday."

    run(scenario)


def test_the_owners_own_reply_reaches_the_socket_as_the_owner(chat_account):
    async def scenario():
        async with chat_socket() as socket:
            await socket.connect()
            await socket.receive_json_from()
            await socket.send_json_to({"type": "message", "text": "Is anyone there?"})
            await frame_of(socket, "message")
            conversation = await database_sync_to_async(Conversation.objects.get)()
            await database_sync_to_async(services.conversation_reply)(
                conversation_id=conversation.pk, by=chat_account.owner, text="Yes, it's me."
            )
            await run_jobs()
            reply = await frame_of(socket, "message")
            assert (reply["author"], reply["text"]) == ("owner", "Yes, it's me.")

    run(scenario)


def test_a_reconnect_with_the_token_restores_the_history_including_replies_sent_while_away(
    chat_account, delegate
):
    delegate("cellphone_provider")

    async def scenario():
        async with chat_socket() as socket:
            await socket.connect()
            token = (await socket.receive_json_from())["visitor_token"]
            await socket.send_json_to({"type": "message", "text": BILL})
            await frame_of(socket, "message")
        await run_jobs()  # the reply goes out while the visitor is away
        async with chat_socket(f"/ws/chat/{SLUG}/?visitor_token={token}") as socket:
            await socket.connect()
            history = await socket.receive_json_from()
            assert [m["author"] for m in history["messages"]] == ["visitor", "assistant"]
            assert history["messages"][0]["text"] == BILL
            assert history["visitor_token"]

    run(scenario)


def test_two_visitors_never_see_each_others_messages(chat_account, delegate):
    delegate("cellphone_provider")

    async def scenario():
        async with chat_socket() as alice, chat_socket() as bob:
            await alice.connect()
            await bob.connect()
            await alice.receive_json_from()
            await bob.receive_json_from()
            await alice.send_json_to({"type": "message", "text": BILL})
            await frame_of(alice, "message")
            await run_jobs()
            assert (await frame_of(alice, "message"))["author"] == "assistant"
            await next_is_echo_of_a_probe(bob, "Bob here")  # nothing of Alice's came first
            await next_is_echo_of_a_probe(alice, "Alice again")  # nor Bob's to her

    run(scenario)
    assert Contact.objects.count() == 2
    assert Conversation.objects.count() == 2


def test_a_forged_or_foreign_token_gets_a_new_identity_not_someone_elses_conversation(chat_account):
    async def scenario():
        async with chat_socket() as alice:
            await alice.connect()
            token = (await alice.receive_json_from())["visitor_token"]
            await alice.send_json_to({"type": "message", "text": "Alice's secret"})
            await frame_of(alice, "message")
        alice_id = (await database_sync_to_async(Contact.objects.get)()).address.removeprefix("webchat:")
        forged = [
            token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # tampered signature
            issue_token(Visitor(id=alice_id, slug="another-chat")),  # Alice's id, signed for another page
            "not-a-token",
        ]
        for bad in forged:
            async with chat_socket(f"/ws/chat/{SLUG}/?visitor_token={bad}") as mallory:
                await mallory.connect()
                history = await mallory.receive_json_from()
                assert history["messages"] == []
                assert history["visitor_token"] != token

    run(scenario)


def test_an_unknown_slug_gets_a_clear_error_and_a_closed_socket(chat_account):
    async def scenario():
        async with chat_socket("/ws/chat/no-such-chat/") as socket:
            connected, _ = await socket.connect()
            assert connected
            error = await socket.receive_json_from()
            assert error["type"] == "error"
            assert "no-such-chat" in error["error"]
            assert error["code"] == "unknown_chat"
            closed = await socket.receive_output()
            assert closed == {"type": "websocket.close", "code": UNKNOWN_CHAT}

    run(scenario)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "malformed_json"),
        ("[1, 2]", "malformed_frame"),
        ('{"type": "shout", "text": "hi"}', "unknown_type"),
        ('{"type": "message"}', "empty_text"),
        ('{"type": "message", "text": "   "}', "empty_text"),
        ('{"type": "message", "text": 42}', "empty_text"),
        ('{"type": "message", "text": "hi", "client_id": "../../etc"}', "invalid_client_id"),
        ('{"type": "message", "text": "a\\u0000b"}', "invalid_text"),
    ],
)
def test_a_malformed_frame_gets_an_error_frame_and_the_socket_stays_usable(chat_account, raw, code):
    async def scenario():
        async with chat_socket() as socket:
            await socket.connect()
            await socket.receive_json_from()
            await socket.send_to(text_data=raw)
            error = await socket.receive_json_from()
            assert (error["type"], error["code"]) == ("error", code)
            assert error["error"]
            await socket.send_json_to({"type": "message", "text": "still here"})
            assert (await socket.receive_json_from())["text"] == "still here"

    run(scenario)
    assert Message.objects.count() == 1


def test_binary_frames_and_over_long_texts_are_refused_with_an_error_frame(chat_account, settings):
    settings.WEBCHAT_MAX_TEXT_LENGTH = 50

    async def scenario():
        async with chat_socket() as socket:
            await socket.connect()
            await socket.receive_json_from()
            await socket.send_to(bytes_data=b"\x00\x01")
            assert (await socket.receive_json_from())["code"] == "binary_frame"
            await socket.send_json_to({"type": "message", "text": "x" * 51, "client_id": "long"})
            error = await socket.receive_json_from()
            assert (error["code"], error["client_id"]) == ("text_too_long", "long")
            assert "50" in error["error"]
            await socket.send_to(text_data="x" * 70000)
            assert (await socket.receive_json_from())["code"] == "frame_too_large"
            await socket.send_json_to({"type": "message", "text": "x" * 50})
            assert (await socket.receive_json_from())["type"] == "message"

    run(scenario)


def test_html_is_stored_and_sent_back_as_plain_text(chat_account):
    payload = '<img src=x onerror="alert(1)"><script>alert(2)</script>'

    async def scenario():
        async with chat_socket() as socket:
            await socket.connect()
            await socket.receive_json_from()
            await socket.send_json_to({"type": "message", "text": payload})
            assert (await socket.receive_json_from())["text"] == payload

    run(scenario)
    assert Message.objects.get().text == payload


def test_a_visitor_sending_too_fast_is_told_to_wait_and_others_are_not_affected(chat_account, settings):
    settings.WEBCHAT_VISITOR_RATE = "3/m"

    async def scenario():
        async with chat_socket() as fast, chat_socket() as calm:
            await fast.connect()
            await calm.connect()
            await fast.receive_json_from()
            await calm.receive_json_from()
            for number in range(3):
                await fast.send_json_to({"type": "message", "text": f"spam {number}"})
                assert (await frame_of(fast, "message"))["author"] == "visitor"
            await fast.send_json_to({"type": "message", "text": "spam 4", "client_id": "c4"})
            error = await fast.receive_json_from()
            assert (error["code"], error["client_id"]) == ("rate_limited", "c4")
            assert 1 <= error["retry_after"] <= 60
            await calm.send_json_to({"type": "message", "text": "hello"})
            assert (await frame_of(calm, "message"))["text"] == "hello"

    run(scenario)
    assert Message.objects.count() == 4


def test_one_address_opening_many_visitors_is_limited_too(chat_account, settings):
    settings.WEBCHAT_ADDRESS_RATE = "2/m"

    async def scenario():
        codes = []
        for number in range(3):
            async with chat_socket(client="203.0.113.9") as socket:
                await socket.connect()
                await socket.receive_json_from()
                await socket.send_json_to({"type": "message", "text": f"visitor {number}"})
                codes.append((await socket.receive_json_from())["type"])
        async with chat_socket(client="198.51.100.7") as elsewhere:
            await elsewhere.connect()
            await elsewhere.receive_json_from()
            await elsewhere.send_json_to({"type": "message", "text": "another address"})
            codes.append((await elsewhere.receive_json_from())["type"])
        assert codes == ["message", "message", "error", "message"]

    run(scenario)


def test_sockets_from_unknown_sites_are_refused_and_the_accounts_allowed_origins_accepted(chat_account):
    chat_account.allowed_origins = ["https://shop.example"]
    chat_account.save()

    async def scenario():
        async with chat_socket(origin="https://evil.example") as socket:
            connected, _ = await socket.connect()
            assert not connected
        async with chat_socket(origin="") as socket:
            connected, _ = await socket.connect()
            assert not connected
        async with chat_socket(origin="https://shop.example") as socket:
            connected, _ = await socket.connect()
            assert connected
            assert (await socket.receive_json_from())["type"] == "history"
        async with chat_socket("/ws/chat/other/", origin="https://shop.example") as socket:
            connected, _ = await socket.connect()
            assert not connected, "an origin allowed by one account opens no other account's socket"

    run(scenario)

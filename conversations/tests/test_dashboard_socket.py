"""`WS /ws/dashboard/`: who may listen, to what, and how often a change rings.

Sockets run on the real ASGI application (routing, origin check, session authentication) with the
settings' channel layer (in memory, or Redis with REDIS_URL); changes are made through the real
services and ingest, so the hooks are the ones production runs.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer
from django.db import transaction
from django.test import Client

from channels_app.whatsapp.signature import sign
from channels_app.whatsapp_payloads import encode, text_message_payload
from conversations import dashboard_events, deliveries, ingest, layer_loop, services
from conversations.admin.socket import FORBIDDEN
from conversations.inbound import InboundBatch, StatusUpdate
from conversations.ingest import ingest_batch
from conversations.models import Author, Conversation, Direction, Message, MessageStatus, User
from conversations.tests.review_support import staff_owner
from conversations.tests.sockets import PatientCommunicator

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "http://localhost"


def run(scenario) -> None:
    async_to_sync(scenario)()


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@asynccontextmanager
async def dashboard(user: User | None = None, *, origin: str = ORIGIN):
    """A socket on the real application with the user's admin session (none: anonymous)."""
    from gatekeeper_site.asgi import application

    headers = [(b"origin", origin.encode())]
    if user is not None:
        cookie = await database_sync_to_async(session_cookie)(user)
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = PatientCommunicator(application, "/ws/dashboard/", headers=headers)
    try:
        yield communicator
    finally:
        await communicator.disconnect()


async def opened(socket: PatientCommunicator) -> None:
    connected, _ = await socket.connect()
    assert connected
    assert await socket.receive_json_from() == {"type": "hello"}


@pytest.fixture
def alice():
    return staff_owner("alice")


@pytest.fixture
def bob():
    return staff_owner("bob")


@pytest.fixture
def alice_chats(alice, make_conversation) -> list[Conversation]:
    return [
        make_conversation(alice, contact_name="Alice Telco", contact_address="5511000000001"),
        make_conversation(alice, contact_name="Alice Power", contact_address="5511000000002"),
    ]


@pytest.fixture
def bob_chat(bob, make_conversation) -> Conversation:
    return make_conversation(bob, contact_name="Bobs Bank Ltd", contact_address="4420000000000")


def take_over(conversation: Conversation) -> None:
    services.conversation_take_over(conversation_id=conversation.pk, by=conversation.owner)


def marker(owner: User) -> None:
    """A change of the owner's outside any conversation: rings with no ids, to mark "everything before"."""
    with transaction.atomic():
        dashboard_events.changed_ids(owner.pk)


def test_an_anonymous_socket_is_refused(db):
    async def scenario():
        async with dashboard(None) as socket:
            connected, code = await socket.connect()
            assert (connected, code) == (False, FORBIDDEN)

    run(scenario)


def test_a_logged_in_user_who_is_not_staff_is_refused(db):
    visitor = User.objects.create_user(username="visitor", password="visitor-password")

    async def scenario():
        async with dashboard(visitor) as socket:
            connected, code = await socket.connect()
            assert (connected, code) == (False, FORBIDDEN)

    run(scenario)


def test_a_staff_session_from_another_site_is_refused(alice):
    async def scenario():
        async with dashboard(alice, origin="https://evil.example") as socket:
            connected, _ = await socket.connect()
            assert not connected

    run(scenario)


def test_an_owner_hears_only_their_own_conversations(alice, bob, alice_chats, bob_chat):
    async def scenario():
        async with dashboard(alice) as socket:
            await opened(socket)
            await database_sync_to_async(take_over)(bob_chat)  # bob's change first
            await database_sync_to_async(take_over)(alice_chats[0])
            frame = await socket.receive_json_from(timeout=3)
            assert frame == {"type": "changed", "conversations": [alice_chats[0].pk]}

    run(scenario)


def test_an_operator_hears_every_owner(alice, bob, alice_chats, bob_chat):
    root = User.objects.create_superuser(username="root", password="root-password", email="r@example.com")

    async def scenario():
        async with dashboard(root) as socket:
            await opened(socket)
            await database_sync_to_async(take_over)(bob_chat)
            await database_sync_to_async(take_over)(alice_chats[0])
            first = await socket.receive_json_from(timeout=3)
            second = await socket.receive_json_from(timeout=3)
            assert [first["conversations"], second["conversations"]] == [[bob_chat.pk], [alice_chats[0].pk]]

    run(scenario)


def test_one_transaction_rings_each_owner_once_with_every_conversation_it_changed(
    alice, bob, alice_chats, bob_chat
):
    def batch():
        with transaction.atomic():
            dashboard_events.changed(alice_chats[0])
            dashboard_events.changed(bob_chat, alice_chats[1])
            dashboard_events.changed(alice_chats[0])
        marker(alice)

    async def scenario():
        async with dashboard(alice) as socket:
            await opened(socket)
            await database_sync_to_async(batch)()
            first = await socket.receive_json_from(timeout=3)
            assert first["conversations"] == sorted(c.pk for c in alice_chats)
            assert await socket.receive_json_from(timeout=3) == {"type": "changed", "conversations": []}

    run(scenario)


def test_a_rolled_back_change_rings_nothing(alice, alice_chats):
    def rolled_back():
        with pytest.raises(RuntimeError), transaction.atomic():
            dashboard_events.changed(alice_chats[0])
            raise RuntimeError("the change failed")
        marker(alice)

    async def scenario():
        async with dashboard(alice) as socket:
            await opened(socket)
            await database_sync_to_async(rolled_back)()
            assert await socket.receive_json_from(timeout=3) == {"type": "changed", "conversations": []}

    run(scenario)


def test_a_webhook_delivery_rings_the_owner_of_the_conversation_once(alice, alice_chats, settings):
    account = alice_chats[0].account
    body = encode(
        text_message_payload(
            phone_number_id=account.address, sender="5511000000001", name="Alice Telco", text="Still there?"
        )
    )

    def deliver():
        response = Client().post(
            "/webhook/whatsapp",
            data=body,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=sign(body, settings.WHATSAPP_APP_SECRET),
        )
        assert response.status_code == 200
        deliveries.ingest_waiting()  # the worker's job
        marker(alice)

    async def scenario():
        async with dashboard(alice) as socket:
            await opened(socket)
            await database_sync_to_async(deliver)()
            assert await socket.receive_json_from(timeout=3) == {
                "type": "changed",
                "conversations": [alice_chats[0].pk],
            }
            assert await socket.receive_json_from(timeout=3) == {"type": "changed", "conversations": []}

    run(scenario)


def test_a_delivery_receipt_rings_apart_and_only_when_the_status_moved(alice, alice_chats):
    sent = Message.objects.create(
        conversation=alice_chats[0],
        account=alice_chats[0].account,
        direction=Direction.OUT,
        author=Author.OWNER,
        text="I paid it this morning.",
        status=MessageStatus.SENT,
        provider_message_id="wamid.PAID",
    )

    def receipt(status: str) -> InboundBatch:
        account = alice_chats[0].account
        update = StatusUpdate(
            provider=account.provider,
            account_address=account.address,
            provider_message_id="wamid.PAID",
            status=status,
        )
        return InboundBatch(statuses=(update,))

    def receipts():
        ingest_batch(receipt(MessageStatus.DELIVERED))
        ingest_batch(receipt(MessageStatus.DELIVERED))  # again: the status did not move
        with transaction.atomic():  # a receipt and a new message in one conversation: one `changed`
            ingest.store_batch(receipt(MessageStatus.READ))
            dashboard_events.changed(alice_chats[0])
        marker(alice)

    async def scenario():
        async with dashboard(alice) as socket:
            await opened(socket)
            await database_sync_to_async(receipts)()
            assert await socket.receive_json_from() == {
                "type": "receipts",
                "conversations": [alice_chats[0].pk],
            }
            assert await socket.receive_json_from() == {
                "type": "changed",
                "conversations": [alice_chats[0].pk],
            }
            assert await socket.receive_json_from() == {"type": "changed", "conversations": []}

    run(scenario)
    sent.refresh_from_db()
    assert sent.status == MessageStatus.READ


class FirstSendSlowLayer(InMemoryChannelLayer):
    """An in-memory layer whose first group send takes a while, as a busy Redis round trip can."""

    slow = True

    async def group_send(self, group: str, message: dict) -> None:
        if FirstSendSlowLayer.slow:
            FirstSendSlowLayer.slow = False
            await asyncio.sleep(0.3)
        await super().group_send(group, message)


def test_pages_hear_commits_in_the_order_they_were_made(alice, alice_chats, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.FirstSendSlowLayer"}}
    FirstSendSlowLayer.slow = True

    def two_commits():
        for conversation in alice_chats:
            with transaction.atomic():
                dashboard_events.changed(conversation)

    async def scenario():
        async with dashboard(alice) as socket:
            await opened(socket)
            await database_sync_to_async(two_commits)()
            first = await socket.receive_json_from()
            second = await socket.receive_json_from()
            assert [first["conversations"], second["conversations"]] == [
                [alice_chats[0].pk],
                [alice_chats[1].pk],
            ]

    run(scenario)


def test_a_channel_layer_that_is_down_never_fails_the_change(alice, alice_chats, settings, caplog):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    caplog.set_level(logging.WARNING, logger="conversations.dashboard_events")

    take_over(alice_chats[0])
    layer_loop.drain(timeout=30)  # the commit does not wait for its doorbells

    assert Conversation.objects.get(pk=alice_chats[0].pk).bot_paused
    assert Message.objects.filter(conversation=alice_chats[0]).exists()
    assert "dashboard event for dashboard.owner" in caplog.text

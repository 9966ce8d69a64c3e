"""`WS /ws/chat/<slug>/`: one visitor's live view of their conversation.

On connect: the `history` frame (with a fresh visitor token). A returning visitor's token comes in
a subprotocol (`visitors.token_from_subprotocols`) or, from older clients, in `?visitor_token=`.
Then every new message of the conversation as a `message` frame, read from the database when the
group's doorbell rings; `typing` and `held` frames while a reply is on its way; an `error` frame
for anything refused, after which the socket stays open. An unknown slug gets an error and a
closed socket (4404).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError

from channels_app.webchat import chat, groups
from channels_app.webchat.addresses import client_address
from channels_app.webchat.frames import ChatError, client_frame, decode_frame
from channels_app.webchat.visitors import (
    SUBPROTOCOL,
    Visitor,
    issue_token,
    new_visitor,
    read_token,
    token_from_subprotocols,
)

logger = logging.getLogger(__name__)

#: Close code for an unknown chat page (4000-4999 are the application's own).
UNKNOWN_CHAT = 4404
#: Ids remembered to tell new messages from those already shown; older ones are not re-sent anyway.
SEEN_LIMIT = 500
UNAVAILABLE = ChatError(
    "unavailable", "Your message could not be stored just now. Please try again.", status=503
)


class ChatConsumer(AsyncWebsocketConsumer):
    """A visitor's socket: small, every ORM call through `database_sync_to_async`."""

    account: chat.ChatAccount | None = None
    visitor: Visitor | None = None
    group: str = ""

    async def connect(self) -> None:
        groups.remember_server_loop()
        self.seen: set[int] = set()
        self.last_reply_at: datetime | None = None  # when the newest reply this socket showed was written
        slug = self.scope["url_route"]["kwargs"]["slug"]
        offered = [protocol for protocol in self.scope.get("subprotocols") or [] if isinstance(protocol, str)]
        token = (
            token_from_subprotocols(offered)
            or parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("visitor_token", [""])[0]
        )
        known = read_token(token, slug=slug)
        visitor = known or new_visitor(slug)
        # Join before reading the history, so nothing sent in between is missed (duplicates are dropped).
        self.group = groups.group_name(slug, visitor.id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        # Only the protocol's name is echoed, never the one carrying the token.
        await self.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        opened = await database_sync_to_async(chat.open_chat)(slug, visitor, returning=known is not None)
        if opened is None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = ""
            await self.send_frame(
                ChatError("unknown_chat", f"There is no chat called {slug!r}.", status=404).as_frame()
            )
            await self.close(code=UNKNOWN_CHAT)
            return
        self.account, self.visitor = opened.account, visitor
        self.seen.update(message["id"] for message in opened.messages)
        await self.send_frame(
            {
                "type": "history",
                "messages": opened.messages,
                "visitor_token": issue_token(visitor),
                "held": opened.held,
            }
        )

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.account is None or self.visitor is None:
            return
        client_id = ""
        try:
            data = decode_frame(text_data)
            client_id = data.get("client_id") if isinstance(data.get("client_id"), str) else ""
            incoming = client_frame(data)
            posted = await database_sync_to_async(chat.post_visitor_message)(
                self.account, self.visitor, incoming, client_address=self._client_address()
            )
        except ChatError as refused:
            await self.send_frame(refused.as_frame(client_id=client_id[:64]))
            return
        except DatabaseError:
            logger.exception("web-chat message not stored (database unavailable)")
            await self.send_frame(UNAVAILABLE.as_frame(client_id=client_id[:64]))
            return
        await self.send_new([posted.message])
        if posted.created:  # the visitor's other tabs; this socket has shown it already
            await self.channel_layer.group_send(
                self.group, {"type": groups.REFRESH, "from": self.channel_name}
            )

    # -- doorbells from the group ---------------------------------------------------------------

    async def webchat_refresh(self, event: dict) -> None:
        """Something changed in the conversation: send whatever visible message is not shown yet."""
        if event.get("from") == self.channel_name or self.account is None:
            return
        messages = await database_sync_to_async(chat.latest_messages)(self.account.id, self.visitor, limit=50)
        await self.send_new(messages)

    async def webchat_typing(self, event: dict) -> None:
        if not self._stale(event):
            await self.send_frame({"type": "typing"})

    async def webchat_held(self, event: dict) -> None:
        if not self._stale(event):
            await self.send_frame({"type": "held"})

    # -- helpers --------------------------------------------------------------------------------

    async def send_new(self, messages: list[dict]) -> None:
        """Send the messages this socket has not shown yet, oldest first."""
        for message in sorted(messages, key=lambda m: m["id"]):
            if message["id"] in self.seen:
                continue
            self.seen.add(message["id"])
            if message["author"] != "visitor":
                written = datetime.fromisoformat(message["created_at"])
                self.last_reply_at = max(filter(None, [self.last_reply_at, written]))
            await self.send_frame({"type": "message", **message})
        if len(self.seen) > SEEN_LIMIT:
            self.seen = set(sorted(self.seen)[-SEEN_LIMIT // 2 :])

    async def send_frame(self, frame: dict) -> None:
        await self.send(text_data=json.dumps(frame))

    def _stale(self, event: dict) -> bool:
        """A signal rung before the latest reply this socket showed (the doorbells raced)."""
        rung = event.get("at")
        if not isinstance(rung, int | float) or self.last_reply_at is None:
            return False
        return datetime.fromtimestamp(rung, tz=UTC) < self.last_reply_at

    def _client_address(self) -> str:
        """The visitor's address: the peer, or behind a trusted proxy what it appended to X-Forwarded-For."""
        client = self.scope.get("client") or ("", 0)
        forwarded = [
            value.decode("latin-1")
            for name, value in self.scope.get("headers", ())
            if name.lower() == b"x-forwarded-for"
        ]
        return client_address(str(client[0] or ""), ",".join(forwarded) or None)

"""The outbound side of web chat: a reply is already in the database, so sending rings the doorbell.

`sending.send_pending` marks the message `sending` (committed) before calling `send_text`,
so the page that hears the doorbell finds it. A doorbell lost on the way costs nothing but
immediacy: the page reads the same messages when it reconnects.
"""

from __future__ import annotations

import uuid

from channels_app.webchat import groups
from channels_app.webchat.visitors import visitor_id_of
from conversations.providers import ChannelProvider, OutboundText, SendFailure, SendReceipt


class WebChatProvider(ChannelProvider):
    """Delivers to the visitor's open chat pages through the channel layer."""

    max_text_length = 4000

    def send_text(self, message: OutboundText) -> SendReceipt:
        """Ring the visitor's group; the receipt's id is unique, as the domain requires."""
        group = self._group(message.account_address, message.to)
        groups.ring(group, groups.REFRESH)
        return SendReceipt(provider_message_id=f"webchat-out.{uuid.uuid4().hex}")

    def show_typing(self, *, account_address: str, to: str, conversation_id: int | None = None) -> None:
        """Show "typing…" on the visitor's page while the reply is drafted."""
        groups.ring(self._group(account_address, to), groups.TYPING)

    def notify_held(self, *, account_address: str, to: str, conversation_id: int | None = None) -> None:
        """Tell the visitor their reply waits for the owner's approval."""
        groups.ring(self._group(account_address, to), groups.HELD)

    @staticmethod
    def _group(account_address: str, to: str) -> str:
        visitor_id = visitor_id_of(to)
        if visitor_id is None:
            raise SendFailure(f"{to!r} is not a web-chat visitor", code="bad_recipient")
        return groups.group_name(account_address, visitor_id)

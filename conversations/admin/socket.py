"""`WS /ws/dashboard/`: an open admin page hears that something of its owner's changed.

Authenticated by the admin session (the route is wrapped in Channels' `AuthMiddlewareStack`);
anonymous, inactive and non-staff users are refused before the handshake completes. A staff owner
joins their own group only; an operator (superuser) the operators' group, as `scoping.py` scopes
the admin. Frames from the server: `{"type": "hello"}` on connect, then
`{"type": "changed", "conversations": [ids]}`, and `{"type": "receipts", "conversations": [ids]}` when
only messages' delivery statuses moved; the page fetches what changed over HTTP.
"""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from conversations import dashboard_events
from conversations.models import User

#: Close code for a socket without a staff session (4000-4999 are the application's own).
FORBIDDEN = 4403


def groups_for(user: User) -> list[str]:
    """The groups a user's dashboard listens to: everyone's for an operator, else their own."""
    if user.is_superuser:
        return [dashboard_events.OPERATORS_GROUP]
    return [dashboard_events.owner_group(user.pk)]


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    """Thin: checks who is asking, joins their group, forwards doorbells."""

    joined: list[str]

    async def connect(self) -> None:
        dashboard_events.remember_server_loop()
        self.joined = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
            await self.close(code=FORBIDDEN)  # before accept: the handshake is refused (HTTP 403)
            return
        self.joined = groups_for(user)
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello"})

    async def disconnect(self, code: int) -> None:
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: object, **kwargs: object) -> None:
        """The page has nothing to say; anything it sends is ignored."""

    async def dashboard_changed(self, event: dict) -> None:
        await self.send_json({"type": "changed", "conversations": _ids(event)})

    async def dashboard_receipts(self, event: dict) -> None:
        await self.send_json({"type": "receipts", "conversations": _ids(event)})


def _ids(event: dict) -> list[int]:
    return [pk for pk in event.get("conversations", []) if isinstance(pk, int)]

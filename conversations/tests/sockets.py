"""A test WebSocket that waits as long as a loaded CI machine may need for the frame it expects."""

from __future__ import annotations

from channels.testing import WebsocketCommunicator

#: Seconds to wait for an expected frame. Channels' default (1 s) is shorter than a first query,
#: a Redis round trip and a busy scheduler can take on two shared cores; a test that waits for
#: a frame which should not come asks for the next expected one instead (a positive signal).
PATIENCE = 10.0


class PatientCommunicator(WebsocketCommunicator):
    """`WebsocketCommunicator` whose connect and receives wait at least `PATIENCE` seconds."""

    async def receive_output(self, timeout: float = 1) -> dict:
        return await super().receive_output(max(timeout, PATIENCE))

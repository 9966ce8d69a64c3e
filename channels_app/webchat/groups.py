"""The channel-layer side of web chat: one group per visitor, and doorbells rung into it.

Events carry no message content: a consumer that hears `webchat.refresh` reads what is new
from the database, which is the record (the layer delivers at most once and may drop). A job
or a view runs in a thread without the server's event loop, so `ring()` hands the send to
that loop when it knows it (the in-memory layer only works there) and otherwise runs its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from concurrent.futures import Future

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)

#: A new visible message may be in the database.
REFRESH = "webchat.refresh"
#: A reply is being drafted.
TYPING = "webchat.typing"
#: A reply waits for the owner's approval.
HELD = "webchat.held"

_server_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def group_name(slug: str, visitor_id: str) -> str:
    """The group of one visitor's sockets; hashed, as slugs may hold characters groups may not."""
    digest = hashlib.blake2b(f"{slug}\n{visitor_id}".encode(), digest_size=16).hexdigest()
    return f"webchat.{digest}"


def remember_server_loop() -> None:
    """Called by consumers: the loop that serves sockets in this process (needed by the in-memory layer)."""
    global _server_loop
    loop = asyncio.get_running_loop()
    if _server_loop is not loop:
        with _loop_lock:
            _server_loop = loop


def ring(group: str, event_type: str) -> None:
    """Ring a group's doorbell from synchronous code; a layer failure is logged, never raised.

    The event says when it was rung, so a page never shows "typing…" for a reply it already has.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    event = {"type": event_type, "at": time.time()}
    loop = _server_loop
    try:
        if loop is not None and loop.is_running() and not loop.is_closed():
            if _running_loop() is loop:
                loop.create_task(layer.group_send(group, event))
            else:
                future = asyncio.run_coroutine_threadsafe(layer.group_send(group, event), loop)
                future.add_done_callback(_log_failure)
        elif not isinstance(layer, InMemoryChannelLayer):
            async_to_sync(layer.group_send)(group, event)
        # else: an in-memory layer with no socket ever opened in this process: nobody to tell.
    except Exception:
        logger.exception(
            "could not ring web-chat group %s (%s); the page catches up on reconnect", group, event_type
        )


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _log_failure(future: Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("web-chat doorbell failed: %s", future.exception())

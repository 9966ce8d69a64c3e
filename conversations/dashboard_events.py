"""Doorbells for the owner's open dashboard pages: "something of yours changed, fetch it again".

The domain calls `changed()` inside its transactions (a message stored, a draft written or decided,
a conversation escalated, taken over or handed back). Nothing is sent then: the conversations of
one transaction are collected and, on commit, each owner's group hears one `dashboard.changed`
event, and the operators' group one for the whole batch. A rolled-back change rings nothing.

A delivery receipt (sent, delivered, read, failed) rings apart, as `dashboard.receipts`: only a
page that shows one of those conversations fetches itself again, so a busy owner's queue and lists
do not refresh for every tick of every message.

Events carry only conversation ids; a page reads what is new over HTTP, through the same scoped
admin views, so the layer (at most once, may drop) is never the record. A send never fails the
caller: with the layer down it is logged and dropped, and the page catches up on its next event or
reconnect. As in web chat, a send from a thread goes to the server's loop when this process serves
sockets (the in-memory layer only works there), else through its own loop (Redis).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol

from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from conversations import layer_loop

logger = logging.getLogger(__name__)

#: The consumer method the event calls (`dashboard_changed`).
CHANGED = "dashboard.changed"
#: A message's delivery status moved (`dashboard_receipts`): only pages showing its conversation care.
RECEIPTS = "dashboard.receipts"
#: Operators (superusers) see every owner's conversations, as in the admin.
OPERATORS_GROUP = "dashboard.operators"
#: Seconds one commit's events may take to reach the layer before they are dropped.
SEND_TIMEOUT = 5.0

_server_loop: asyncio.AbstractEventLoop | None = None
_turn: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
_loop_lock = threading.Lock()
_local = threading.local()


class OwnedConversation(Protocol):
    pk: int
    owner_id: int


def owner_group(owner_id: int) -> str:
    """The group of one owner's dashboard sockets."""
    return f"dashboard.owner.{int(owner_id)}"


def changed(*conversations: OwnedConversation) -> None:
    """Conversations changed in the current transaction; their owners' pages hear it on commit."""
    for conversation in conversations:
        changed_ids(conversation.owner_id, conversation.pk)


def changed_ids(owner_id: int, conversation_id: int | None = None) -> None:
    """As `changed()`, by ids (`conversation_id` None: something of the owner's outside a conversation)."""
    try:
        batch = _current_batch()
        batch.owners.setdefault(int(owner_id), set())
        if conversation_id is not None:
            batch.owners[int(owner_id)].add(int(conversation_id))
    except Exception:  # a doorbell never breaks the change it announces
        logger.exception("could not note a dashboard change of owner %s", owner_id)


def receipt_applied(conversation: OwnedConversation) -> None:
    """A message of this conversation changed its delivery status in the current transaction."""
    try:
        _current_batch().receipts.setdefault(int(conversation.owner_id), set()).add(int(conversation.pk))
    except Exception:  # a doorbell never breaks the change it announces
        logger.exception("could not note a delivery receipt of conversation %s", conversation.pk)


@dataclass(eq=False)
class _Batch:
    """The owners and conversations one transaction changed, flushed once on commit."""

    owners: dict[int, set[int]] = field(default_factory=dict)
    receipts: dict[int, set[int]] = field(default_factory=dict)

    def flush(self) -> None:
        if getattr(_local, "batch", None) is self:
            _local.batch = None
        owners, self.owners = self.owners, {}
        receipts, self.receipts = self.receipts, {}
        if owners or receipts:
            publish(owners, receipts)


def _current_batch() -> _Batch:
    """This transaction's batch: reused while its commit callback is still pending, else a new one.

    A rolled-back transaction drops its callbacks, and so its batch: the next change starts afresh.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    batch = getattr(_local, "batch", None)
    pending = connection.run_on_commit if connection.in_atomic_block else []
    if batch is not None and any(callback == batch.flush for _, callback, *_ in pending):
        return batch
    batch = _Batch()
    _local.batch = batch if connection.in_atomic_block else None
    transaction.on_commit(batch.flush)
    return batch


def publish(owners: dict[int, Iterable[int]], receipts: dict[int, Iterable[int]] | None = None) -> None:
    """Ring each owner's group once, and the operators' group once, with the conversations that changed;
    then, apart, the conversations whose only change was a delivery receipt."""
    changed = {owner_id: set(ids) for owner_id, ids in owners.items()}
    receipts_only = {}
    for owner_id, ids in (receipts or {}).items():
        if rest := set(ids) - changed.get(owner_id, set()):
            receipts_only[owner_id] = rest
    events = []
    for kind, by_owner in ((CHANGED, changed), (RECEIPTS, receipts_only)):
        if not by_owner:
            continue
        events += [(owner_group(owner_id), _event(kind, ids)) for owner_id, ids in by_owner.items()]
        events.append((OPERATORS_GROUP, _event(kind, set().union(*by_owner.values()))))
    _send(events)


def _event(kind: str, conversation_ids: Iterable[int]) -> dict:
    return {"type": kind, "conversations": sorted(conversation_ids), "at": time.time()}


def remember_server_loop() -> None:
    """Called by the dashboard consumer: the loop that serves sockets in this process."""
    global _server_loop
    loop = asyncio.get_running_loop()
    if _server_loop is not loop:
        with _loop_lock:
            _server_loop = loop


def _send(events: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _server_loop
    try:
        if loop is not None and loop.is_running() and not loop.is_closed():
            if _running_loop() is loop:
                loop.create_task(_ring_in_turn(layer, events))
            else:
                future = asyncio.run_coroutine_threadsafe(_ring_in_turn(layer, events), loop)
                future.add_done_callback(_log_failure)
        elif not isinstance(layer, InMemoryChannelLayer):
            # The process's own loop keeps the layer's Redis connections open between events;
            # the commit does not wait for them (a doorbell is at most once).
            layer_loop.submit(_ring(layer, events), timeout=SEND_TIMEOUT)
        # else: an in-memory layer and no dashboard socket ever opened in this process: nobody listens.
    except Exception:
        logger.warning("dashboard events for %s dropped", [group for group, _ in events], exc_info=True)


async def _ring_in_turn(layer: BaseChannelLayer, events: list[tuple[str, dict]]) -> None:
    """`_ring`, on the socket server's loop, after the events of earlier commits: pages hear them in
    commit order, as they do through `layer_loop` (asyncio's lock is first come, first served, and
    the tasks start in the order they were handed to the loop)."""
    async with _turn_on(asyncio.get_running_loop()):
        try:
            await asyncio.wait_for(_ring(layer, events), SEND_TIMEOUT)
        except TimeoutError:  # a stuck layer must not hold back the commits after this one
            logger.warning("dashboard events for %s dropped after %s s", [g for g, _ in events], SEND_TIMEOUT)


def _turn_on(loop: asyncio.AbstractEventLoop) -> asyncio.Lock:
    """The ordering lock of this loop (a lock belongs to the loop it first waits on)."""
    global _turn
    if _turn is None or _turn[0] is not loop:
        _turn = (loop, asyncio.Lock())
    return _turn[1]


async def _ring(layer: BaseChannelLayer, events: list[tuple[str, dict]]) -> None:
    """Send each event to its group if anyone listens; a group the layer cannot reach is logged and skipped."""
    try:
        listened = await layer_loop.listened(layer, [group for group, _ in events])
    except Exception:
        for group, _ in events:
            logger.warning("dashboard event for %s dropped (channel layer unavailable)", group, exc_info=True)
        return
    for group, event in events:
        if group not in listened:
            continue
        try:
            await layer.group_send(group, event)
        except Exception:
            logger.warning("dashboard event for %s dropped (channel layer unavailable)", group, exc_info=True)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _log_failure(future: Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("dashboard event dropped: %s", future.exception())

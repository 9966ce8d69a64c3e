"""One event loop per process for synchronous code that talks to an async channel layer.

`async_to_sync(layer.group_send)` from a request or a job starts a thread and a fresh event
loop on every call, and channels_redis keeps its connection pools per loop, so each doorbell
paid for a new thread, a new loop and a new TCP connection to Redis: under load that was a
third of a webhook's time. Here the loop (and with it the layer's pools) lives as long as
the process; a forked child (an RQ work horse, a gunicorn worker) starts its own.

`submit` does not wait: a doorbell is at most once (docs/architecture.md, the dashboard socket),
so the request answers while its events travel. Submitted work runs one at a time in the order
it was submitted, each bounded in time, and a backlog past `MAX_PENDING` is dropped and logged.
A process that exits at once (os._exit, as a forking RQ worker's work horse does) may lose what
it submitted last; the Procfile's workers are SimpleWorkers, which live on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from channels_redis.core import RedisChannelLayer

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Submitted coroutines waiting or running at most; past it a new one is dropped (the layer is stuck).
MAX_PENDING = 1000

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_order: asyncio.Lock | None = None
_pid = 0
_pending = 0


def _current_loop() -> asyncio.AbstractEventLoop:
    """This process's loop thread, started on first use (again after a fork)."""
    global _loop, _thread, _order, _pid, _pending
    with _lock:
        if _loop is None or _pid != os.getpid() or _thread is None or not _thread.is_alive():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="gatekeeper-layer-loop", daemon=True)
            thread.start()
            _loop, _thread, _order, _pid, _pending = loop, thread, asyncio.Lock(), os.getpid(), 0
        return _loop


async def _in_turn(coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
    """Run after everything submitted before (the lock is first come, first served), within `timeout`."""
    global _pending
    try:
        async with _order:
            return await asyncio.wait_for(coroutine, timeout)
    finally:
        with _lock:
            _pending -= 1


def submit(coroutine: Coroutine[Any, Any, object], *, timeout: float) -> bool:
    """Run `coroutine` on the process's loop after what was submitted before, without waiting for it.

    The coroutine handles (and logs) its own failures; one still raising, or running past
    `timeout` seconds, is logged here. False when it was dropped because too much is pending.
    """
    global _pending
    loop = _current_loop()
    with _lock:
        if _pending >= MAX_PENDING:
            coroutine.close()
            logger.warning("channel layer backlog of %d: an event was dropped", _pending)
            return False
        _pending += 1
    asyncio.run_coroutine_threadsafe(_in_turn(coroutine, timeout), loop).add_done_callback(_log_failure)
    return True


def drain(timeout: float) -> None:
    """Wait until everything submitted so far has run (tests; a process about to exit)."""
    run(asyncio.sleep(0), timeout=timeout, in_turn=True)


def _log_failure(future: Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("channel layer event dropped: %r", future.exception())


async def listened(layer: object, groups: list[str]) -> set[str]:
    """Those of `groups` with at least one member: asked in one pipelined round trip per Redis host.

    channels_redis's `group_send` reads a group's members in two round trips of its own before it
    finds the group empty, which is what a doorbell nobody listens to meets almost every time; the
    count here is the same test it makes (members added within `group_expiry`). Another layer
    gets every group back.
    """
    if not isinstance(layer, RedisChannelLayer):
        return set(groups)
    by_host: dict[int, list[str]] = {}
    for group in groups:
        by_host.setdefault(layer.consistent_hash(group), []).append(group)
    since = int(time.time()) - layer.group_expiry
    found: set[str] = set()
    for index, named in by_host.items():
        pipeline = layer.connection(index).pipeline(transaction=False)
        for group in named:
            pipeline.zcount(layer._group_key(group), f"({since}", "+inf")
        counts = await pipeline.execute()
        found.update(group for group, count in zip(named, counts, strict=True) if count)
    return found


def run(coroutine: Coroutine[Any, Any, T], *, timeout: float, in_turn: bool = False) -> T:
    """Run `coroutine` on the process's loop and wait for it; raises TimeoutError past `timeout` seconds.

    `in_turn`: only after everything submitted before it.
    """
    global _pending
    loop = _current_loop()
    if in_turn:
        with _lock:
            _pending += 1
        coroutine = _in_turn(coroutine, timeout)
    future = asyncio.run_coroutine_threadsafe(coroutine, loop)
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise

"""One event loop per process for synchronous code that talks to an async channel layer.

`async_to_sync(layer.group_send)` from a request or a job starts a thread and a fresh event
loop on every call, and channels_redis keeps its connection pools per loop, so each doorbell
paid for a new thread, a new loop and a new TCP connection to Redis: under load that was a
third of a webhook's time. Here the loop (and with it the layer's pools) lives as long as
the process; a forked child (an RQ work horse, a gunicorn worker) starts its own.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_pid = 0


def _current_loop() -> asyncio.AbstractEventLoop:
    """This process's loop thread, started on first use (again after a fork)."""
    global _loop, _thread, _pid
    with _lock:
        if _loop is None or _pid != os.getpid() or _thread is None or not _thread.is_alive():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="gatekeeper-layer-loop", daemon=True)
            thread.start()
            _loop, _thread, _pid = loop, thread, os.getpid()
        return _loop


def run(coroutine: Coroutine[Any, Any, T], *, timeout: float) -> T:
    """Run `coroutine` on the process's loop and wait for it; raises TimeoutError past `timeout` seconds."""
    future = asyncio.run_coroutine_threadsafe(coroutine, _current_loop())
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise

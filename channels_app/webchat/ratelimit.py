"""Fixed-window rate limits in Django's cache, shared by every server process when it is Redis.

A rate is written "20/m" (per second, minute, hour or day). Each call counts one hit; the
call that goes over the limit is refused with the seconds left in the window.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from functools import cache

from django.core.cache import BaseCache, caches
from django.core.signals import setting_changed

logger = logging.getLogger(__name__)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

#: The clock windows are counted by; a test sets one that stays inside one window.
clock = time.time


@dataclass(frozen=True)
class Rate:
    """At most `limit` hits per `period` seconds."""

    limit: int
    period: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """Read "20/m", "5/s", "1000/h" or "100/30s"."""
        count, _, per = text.strip().partition("/")
        unit = per.strip()[-1:].lower()
        multiple = per.strip()[:-1] or "1"
        if unit not in _UNITS or not count.strip().isdigit() or not multiple.isdigit():
            raise ValueError(f"not a rate: {text!r} (write it like '20/m')")
        return cls(limit=int(count), period=int(multiple) * _UNITS[unit])


def hit(scope: str, key: str, rate: Rate, *, now: float | None = None) -> int | None:
    """Count one hit for `key`; None when allowed, else the seconds until the window resets."""
    now = clock() if now is None else now
    window = int(now // rate.period)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    cache_key = f"webchat:rate:{scope}:{digest}:{window}"
    try:
        count = _count(cache_key, rate.period + 1)
    except Exception:  # the cache (Redis) is down: serving visitors matters more than counting them
        logger.warning("rate limit %s not checked: the cache is unavailable", scope, exc_info=True)
        return None
    if count > rate.limit:
        return max(1, int((window + 1) * rate.period - now + 0.999))
    return None


@cache
def counters() -> BaseCache:
    """One cache client for the whole process.

    Django's `cache` is one client per async task: under the ASGI server that is a Redis
    connection pool per chat socket, thousands of connections for thousands of visitors.
    """
    return caches.create_connection("default")


def _forget_counters(*, setting: str, **kwargs) -> None:
    if setting == "CACHES":
        counters.cache_clear()


setting_changed.connect(_forget_counters)


def _count(key: str, timeout: int) -> int:
    store = counters()
    if store.add(key, 1, timeout=timeout):
        return 1
    try:
        return store.incr(key)
    except ValueError:  # expired between add() and incr()
        store.add(key, 1, timeout=timeout)
        return 1

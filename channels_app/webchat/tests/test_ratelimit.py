"""Fixed-window rate limits in the cache."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
from asgiref.sync import sync_to_async
from django.core.checks import run_checks

from channels_app.webchat.ratelimit import Rate, hit


@pytest.fixture(autouse=True)
def _own_cache(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "rl"}
    }


@pytest.mark.parametrize(
    ("text", "rate"),
    [("20/m", Rate(20, 60)), ("5/s", Rate(5, 1)), ("1000/h", Rate(1000, 3600)), ("100/30s", Rate(100, 30))],
)
def test_rates_are_read_like_twenty_per_minute(text, rate):
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["20", "x/m", "20/w", "/m", "-1/m"])
def test_unreadable_rates_are_refused(text):
    with pytest.raises(ValueError, match="not a rate"):
        Rate.parse(text)


def test_the_hit_over_the_limit_is_refused_until_the_window_resets():
    rate = Rate(2, 60)
    assert hit("t", "k", rate, now=120.0) is None
    assert hit("t", "k", rate, now=130.0) is None
    assert hit("t", "k", rate, now=150.0) == 30
    assert hit("t", "other", rate, now=150.0) is None, "keys are counted apart"
    assert hit("t", "k", rate, now=180.0) is None, "a new window"


def test_a_bad_rate_in_settings_fails_the_system_checks(settings):
    settings.WEBCHAT_VISITOR_RATE = "lots"
    settings.WEBCHAT_SLUG = "has spaces"
    ids = {error.id for error in run_checks()}
    assert {"webchat.E001", "webchat.E003"} <= ids


def test_chat_sockets_counting_at_once_share_one_process_wide_redis_pool(settings, redis_url):
    """Each socket is its own async task; Django's `cache` would open a Redis pool for each."""
    url = redis_url
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"rl-{uuid.uuid4().hex[:8]}",
        }
    }
    observer = redis.Redis.from_url(url)
    before = observer.info("clients")["connected_clients"]

    async def sockets() -> None:
        async def visitor(n: int) -> None:
            await sync_to_async(hit, thread_sensitive=False)("t", f"visitor-{n}", Rate(20, 60))

        await asyncio.gather(*(visitor(n) for n in range(60)))

    asyncio.run(sockets())

    opened = observer.info("clients")["connected_clients"] - before
    observer.close()
    assert opened <= 12, f"{opened} Redis connections for 60 sockets"

"""The channel layer under a burst: thousands of sockets leaving their groups at once (a deploy,
a proxy restart) must all leave, not fail on a full Redis connection pool."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
from channels_redis.core import RedisChannelLayer
from redis.exceptions import MaxConnectionsError

from channels_app.webchat.layer import WaitingRedisChannelLayer

SOCKETS = 300


def leave_all_at_once(layer_class: type[RedisChannelLayer], redis_url: str) -> int:
    """Join SOCKETS channels to a group, then discard them all concurrently; returns who is left."""
    prefix = f"layer-test-{uuid.uuid4().hex[:8]}"
    host = {"address": redis_url, "max_connections": 4}
    if layer_class is WaitingRedisChannelLayer:
        host["timeout"] = 20
    layer = layer_class(hosts=[host], prefix=prefix)

    async def burst() -> None:
        channels = [f"{prefix}.socket-{n}" for n in range(SOCKETS)]
        try:
            for channel in channels:  # one by one: joining is not what is tested
                await layer.group_add("visitors", channel)
            await asyncio.gather(*(layer.group_discard("visitors", channel) for channel in channels))
        finally:
            await layer.close_pools()

    try:
        asyncio.run(burst())
    finally:
        client = redis.Redis.from_url(redis_url)
        left = client.zcard(f"{prefix}:group:visitors")
        client.delete(f"{prefix}:group:visitors")
        client.close()
    return left


def test_the_stock_pool_fails_such_a_burst(redis_url):
    with pytest.raises(MaxConnectionsError):
        leave_all_at_once(RedisChannelLayer, redis_url)


def test_every_socket_leaves_its_group_when_all_close_at_once(redis_url):
    assert leave_all_at_once(WaitingRedisChannelLayer, redis_url) == 0

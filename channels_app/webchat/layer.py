"""The Redis channel layer, with a connection pool that waits for a free connection.

channels_redis pools a bounded number of connections and raises `MaxConnectionsError`
beyond them. When a few thousand chat sockets close at once (a deploy, a proxy restart,
a network blip), each leaves its group through Redis at the same moment: the stock pool
fails most of them and leaves their group entries behind. Waiting a few milliseconds
for a connection is the behaviour a burst needs.
"""

from __future__ import annotations

import redis.asyncio
from channels_redis.core import RedisChannelLayer


class WaitingRedisChannelLayer(RedisChannelLayer):
    """`channels_redis.core.RedisChannelLayer` whose pools block (up to `timeout` s) when full."""

    def create_pool(self, index: int) -> redis.asyncio.ConnectionPool:
        host = dict(self.hosts[index])
        if "address" not in host:  # sentinels or host/port pairs: the stock pool
            return super().create_pool(index)
        return redis.asyncio.BlockingConnectionPool.from_url(host.pop("address"), **host)

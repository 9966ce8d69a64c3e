"""The RQ job backend keeps one Redis client per process: a new one per enqueue costs a connection each time."""

from __future__ import annotations

from conversations.jobs import RQBackend


def test_every_enqueue_of_a_process_goes_through_one_queue_and_connection_pool(settings):
    settings.RQ_QUEUES = {"reuse": {"URL": "redis://127.0.0.1:1/0", "DEFAULT_TIMEOUT": 5}}
    backend = RQBackend(queue="reuse")

    first, second = backend._queue(), backend._queue()

    assert first is second
    assert first.connection.connection_pool is second.connection.connection_pool
    assert first.name == "reuse"

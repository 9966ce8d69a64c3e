"""The RQ job backend: one Redis client per process, and urgent jobs ahead of the rest."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler

from conversations.jobs import RQBackend

SEND = "conversations.tasks.send_pending"
DRAFT = "conversations.tasks.draft_reply"


@pytest.fixture
def queue_settings(settings, redis_url):
    name = f"urgent-{uuid.uuid4().hex[:8]}"
    settings.RQ_QUEUES = {name: {"URL": redis_url, "DEFAULT_TIMEOUT": 5}}
    backend = RQBackend(queue=name, urgent=[SEND])
    yield backend
    queue = backend._queue()
    queue.empty()
    ScheduledJobRegistry(queue=queue).cleanup(timestamp=float("inf"))


def test_every_enqueue_of_a_process_goes_through_one_queue_and_connection_pool(settings):
    settings.RQ_QUEUES = {"reuse": {"URL": "redis://127.0.0.1:1/0", "DEFAULT_TIMEOUT": 5}}
    backend = RQBackend(queue="reuse")

    first, second = backend._queue(), backend._queue()

    assert first is second
    assert first.connection.connection_pool is second.connection.connection_pool
    assert first.name == "reuse"


def test_a_send_enqueued_behind_drafts_runs_before_them(queue_settings):
    backend = queue_settings
    for conversation_id in (1, 2, 3):
        backend.enqueue(DRAFT, conversation_id)

    backend.enqueue(SEND, 9)

    order = [(job.func_name, job.args) for job in backend._queue().get_jobs()]
    assert order == [(SEND, (9,)), (DRAFT, (1,)), (DRAFT, (2,)), (DRAFT, (3,))]


def test_a_delayed_send_still_goes_to_the_front_when_it_falls_due(queue_settings):
    backend = queue_settings
    queue = backend._queue()
    backend.enqueue(DRAFT, 1)
    backend.enqueue(SEND, 9, delay=30)
    backend.enqueue(DRAFT, 2, delay=30)
    registry = ScheduledJobRegistry(queue=queue)
    for job_id in registry.get_job_ids():  # thirty seconds pass
        registry.schedule(queue.fetch_job(job_id), datetime.now(UTC) - timedelta(seconds=1))

    scheduler = RQScheduler([queue], connection=queue.connection)
    assert scheduler.acquire_locks()
    try:
        scheduler.enqueue_scheduled_jobs()
    finally:
        scheduler.release_locks()

    assert [(job.func_name, job.args) for job in queue.get_jobs()] == [
        (SEND, (9,)),
        (DRAFT, (1,)),
        (DRAFT, (2,)),
    ]


def test_jobs_enqueued_together_arrive_in_order_now_or_later(queue_settings):
    backend = queue_settings
    queue = backend._queue()

    backend.enqueue_each(DRAFT, [(1,), (2,), (3,)])
    backend.enqueue_each(DRAFT, [(4,), (5,)], delay=30)
    backend.enqueue_each(SEND, [(8,), (9,)])

    assert [(job.func_name, job.args) for job in queue.get_jobs()] == [
        (SEND, (9,)),
        (SEND, (8,)),
        (DRAFT, (1,)),
        (DRAFT, (2,)),
        (DRAFT, (3,)),
    ]
    later = [queue.fetch_job(job_id).args for job_id in ScheduledJobRegistry(queue=queue).get_job_ids()]
    assert sorted(later) == [(4,), (5,)]


def test_a_coalesced_job_is_queued_once_until_it_starts_even_from_another_process(queue_settings, settings):
    backend = queue_settings
    INGEST = "conversations.tasks.ingest_deliveries"
    other_process = RQBackend(queue=backend.options["queue"])  # its own Redis client, same queue

    backend.enqueue_coalesced(INGEST)
    other_process.enqueue_coalesced(INGEST)
    backend.enqueue_coalesced(INGEST)
    assert [job.func_name for job in backend._queue().get_jobs()] == [INGEST]

    other_process.started_coalesced(INGEST)  # the worker took it: the next trigger queues another
    backend.enqueue_coalesced(INGEST)
    assert [job.func_name for job in backend._queue().get_jobs()] == [INGEST, INGEST]
    backend.started_coalesced(INGEST)

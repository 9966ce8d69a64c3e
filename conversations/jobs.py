"""Where background work runs: RQ on Redis, a thread in process, or a recording list in tests.

Jobs are dotted paths to plain functions taking ids, so any backend can run them. The
database, not the queue, is the record of pending work: a job that is lost is found again
by the sweeper (`conversations.sweeper`), so enqueueing may fail without losing anything.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.db import close_old_connections, transaction
from django.utils.module_loading import import_string

from ai.backends import load_backend

logger = logging.getLogger(__name__)


class JobBackend:
    """Base class: run `path(*args)` soon, or after `delay` seconds."""

    #: Whether jobs run in this process (the health check reports it).
    in_process = False

    def __init__(self, **options) -> None:
        self.options = options
        self._coalesced: set[str] = set()
        self._coalesce_lock = threading.Lock()

    def enqueue(self, path: str, *args: object, delay: float = 0) -> None:
        raise NotImplementedError("subclasses of JobBackend must provide enqueue()")

    def enqueue_each(self, path: str, calls: list[tuple], *, delay: float = 0) -> None:
        """One job per argument tuple; backends with a network round trip send them together."""
        for args in calls:
            self.enqueue(path, *args, delay=delay)

    def enqueue_coalesced(self, path: str) -> None:
        """Enqueue `path()` unless one is already waiting to start: many triggers, one run.

        The job calls `started_coalesced(path)` first, so a trigger after that enqueues again.
        """
        with self._coalesce_lock:
            if path in self._coalesced:
                return
            self._coalesced.add(path)
        self.enqueue(path)

    def started_coalesced(self, path: str) -> None:
        """The coalesced job `path` has started: the next trigger enqueues another."""
        with self._coalesce_lock:
            self._coalesced.discard(path)

    def ping(self) -> None:
        """Raise if the queue cannot take work."""

    def depth(self) -> dict[str, int]:
        """Jobs waiting, by state (`queued`, `scheduled`, ...), for /metrics; raise if the queue is down."""
        return {}


class RQBackend(JobBackend):
    """RQ on Redis; delayed jobs need a worker started with `--with-scheduler`.

    Jobs named in the `urgent` option (sends, the owner's notifications) go to the front of
    the queue: under a burst, a reply already decided never waits behind a thousand drafts.
    """

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.urgent = frozenset(options.get("urgent", ()))
        self._cached_queue = None
        self._cached_pid = 0

    def _queue(self):
        """One queue (one Redis connection pool) per process: django_rq builds a new client on every call."""
        if self._cached_queue is None or self._cached_pid != os.getpid():
            import django_rq

            self._cached_queue = django_rq.get_queue(self.options.get("queue", "default"))
            self._cached_pid = os.getpid()
        return self._cached_queue

    def enqueue(self, path: str, *args: object, delay: float = 0) -> None:
        self._enqueue(self._queue(), path, args, delay)

    def enqueue_each(self, path: str, calls: list[tuple], *, delay: float = 0) -> None:
        """All in one Redis round trip: a webhook of 100 senders schedules 100 drafts at once."""
        queue = self._queue()
        with queue.connection.pipeline() as pipeline:
            for args in calls:
                self._enqueue(queue, path, args, delay, pipeline=pipeline)
            pipeline.execute()

    def _enqueue(self, queue, path: str, args: tuple, delay: float, pipeline=None) -> None:
        options = {"at_front": path in self.urgent, "pipeline": pipeline}
        if delay > 0:
            queue.enqueue_in(timedelta(seconds=delay), path, *args, **options)
        else:
            queue.enqueue(path, *args, **options)

    #: How long a coalesced job's "waiting" mark outlives a job that never started (a worker killed
    #: before it, a queue flushed); the sweeper covers the work meanwhile.
    COALESCE_SECONDS = 60

    def enqueue_coalesced(self, path: str) -> None:
        """Shared by every process through Redis: one SET NX, and the enqueue only when it set the mark."""
        queue = self._queue()
        if queue.connection.set(self._mark(path), b"1", nx=True, ex=self.COALESCE_SECONDS):
            self.enqueue(path)

    def started_coalesced(self, path: str) -> None:
        self._queue().connection.delete(self._mark(path))

    def _mark(self, path: str) -> str:
        return f"gatekeeper:{self.options.get('queue', 'default')}:waiting:{path}"

    def ping(self) -> None:
        self._queue().connection.ping()

    def depth(self) -> dict[str, int]:
        """The queue's length and its registries' sizes, read in one round trip and without cleaning them."""
        queue = self._queue()
        registries = {
            "scheduled": queue.scheduled_job_registry,
            "started": queue.started_job_registry,
            "deferred": queue.deferred_job_registry,
            "failed": queue.failed_job_registry,
        }
        with queue.connection.pipeline(transaction=False) as pipeline:
            pipeline.llen(queue.key)
            for registry in registries.values():
                pipeline.zcard(registry.key)
            counts = pipeline.execute()
        return dict(zip(["queued", *registries], (int(count) for count in counts), strict=True))


class ThreadBackend(JobBackend):
    """One worker thread in this process: the embedded default without Redis.

    A single thread keeps SQLite writers serialised; it also runs the sweeper every
    `sweep_every` seconds, which is what recovers work after a restart.
    """

    in_process = True

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.sweep_every = float(options.get("sweep_every", 15))
        self._heap: list[tuple[float, int, str, tuple]] = []
        self._counter = itertools.count()
        self._wakeup = threading.Condition()
        self._thread: threading.Thread | None = None

    def enqueue(self, path: str, *args: object, delay: float = 0) -> None:
        with self._wakeup:
            heapq.heappush(self._heap, (time.monotonic() + max(delay, 0), next(self._counter), path, args))
            self._wakeup.notify()
        self.start()

    def depth(self) -> dict[str, int]:
        """Jobs in this process's heap: due now (`queued`) or later (`scheduled`)."""
        with self._wakeup:
            now = time.monotonic()
            due = sum(1 for entry in self._heap if entry[0] <= now)
            return {"queued": due, "scheduled": len(self._heap) - due}

    def start(self) -> None:
        """Start the worker thread once per process."""
        with self._wakeup:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="gatekeeper-jobs", daemon=True)
                self._thread.start()

    def _work(self) -> None:
        next_sweep = time.monotonic()
        while True:
            with self._wakeup:
                now = time.monotonic()
                wait = next_sweep - now
                if self._heap:
                    wait = min(wait, self._heap[0][0] - now)
                if wait > 0:
                    self._wakeup.wait(timeout=wait)
                    continue
                job = heapq.heappop(self._heap) if self._heap and self._heap[0][0] <= now else None
            if job is None:
                next_sweep = time.monotonic() + self.sweep_every
                self._run("conversations.sweeper.sweep_stalled_work", ())
            else:
                self._run(job[2], job[3])

    @staticmethod
    def _run(path: str, args: tuple) -> None:
        close_old_connections()
        try:
            import_string(path)(*args)
        except Exception:
            logger.exception("job %s%r failed; the sweeper will pick its work up again", path, args)
        finally:
            close_old_connections()


@dataclass
class RecordedJob:
    path: str
    args: tuple
    delay: float = 0
    enqueued_at: float = field(default_factory=time.monotonic)


#: Jobs recorded by LocmemBackend, like django.core.mail.outbox.
recorded: list[RecordedJob] = []


class LocmemBackend(JobBackend):
    """Records jobs for the test to run with `run_recorded_jobs()`; never a production default."""

    in_process = True

    def enqueue(self, path: str, *args: object, delay: float = 0) -> None:
        recorded.append(RecordedJob(path, args, delay))

    def enqueue_coalesced(self, path: str) -> None:
        """Recorded once while one is recorded and not yet run (running takes it off the list)."""
        if not any(job.path == path for job in recorded):
            self.enqueue(path)

    def started_coalesced(self, path: str) -> None:
        """Nothing to clear: a job being run is no longer recorded."""

    def depth(self) -> dict[str, int]:
        due = sum(1 for job in recorded if job.delay <= 0)
        return {"queued": due, "scheduled": len(recorded) - due}


def run_recorded_jobs(
    *, delayed: bool = False, limit: int = 1000, around=contextlib.nullcontext
) -> list[RecordedJob]:
    """Run recorded jobs (and the jobs they record) in order; returns what ran.

    Jobs enqueued with a delay stay recorded unless `delayed` is true: a test moves the
    pending work's due time itself, then runs them. `around()` wraps each job; tests pass one
    that runs on-commit callbacks inside their enclosing test transaction.
    """
    ran = []
    while len(ran) < limit:
        job = next((job for job in recorded if delayed or job.delay <= 0), None)
        if job is None:
            break
        recorded.remove(job)
        with around():
            import_string(job.path)(*job.args)
        ran.append(job)
    return ran


#: Short names GATEKEEPER_JOBS_BACKEND (settings.GATEKEEPER_JOBS["BACKEND"]) may use for a dotted path.
SHORT_NAMES = {
    "rq": "conversations.jobs.RQBackend",
    "thread": "conversations.jobs.ThreadBackend",
    "locmem": "conversations.jobs.LocmemBackend",
}
#: How the backend setting is named in errors and checks.
BACKEND_SETTING = "GATEKEEPER_JOBS['BACKEND']"


@cache
def get_backend() -> JobBackend:
    """The job backend named in settings.GATEKEEPER_JOBS (a short name of SHORT_NAMES or a dotted path)."""
    config = settings.GATEKEEPER_JOBS
    backend = load_backend(BACKEND_SETTING, config.get("BACKEND"), SHORT_NAMES)
    return backend(**config.get("OPTIONS", {}))


def _reset_backend(*, setting: str, **kwargs) -> None:
    if setting == "GATEKEEPER_JOBS":
        get_backend.cache_clear()


setting_changed.connect(_reset_backend)


def enqueue_now(path: str, *args: object, delay: float = 0) -> None:
    """Enqueue outside any transaction; a queue outage is logged, the sweeper recovers the work."""
    _enqueue_or_log(path, [args], delay)


def schedule(path: str, *args: object, delay: float = 0) -> None:
    """Enqueue once the current transaction commits, so a job never sees uncommitted work."""
    schedule_each(path, [args], delay=delay)


def schedule_each(path: str, calls: list[tuple], *, delay: float = 0) -> None:
    """`schedule` for many jobs of one kind, handed to the queue together."""
    if calls:
        transaction.on_commit(lambda: _enqueue_or_log(path, calls, delay))


def schedule_coalesced(path: str) -> None:
    """Once the current transaction commits, enqueue `path()` unless one is already waiting to start.

    For a job that does all the work waiting when it runs (ingesting stored deliveries): a burst
    of triggers costs one job, not one each.
    """
    transaction.on_commit(lambda: _enqueue_coalesced_or_log(path))


def started_coalesced(path: str) -> None:
    """Called first by a coalesced job: triggers from now on enqueue another run."""
    try:
        get_backend().started_coalesced(path)
    except Exception:
        logger.exception("could not clear the waiting mark of %s; it expires by itself", path)


def _enqueue_coalesced_or_log(path: str) -> None:
    try:
        get_backend().enqueue_coalesced(path)
    except Exception:
        logger.exception("could not enqueue %s; the sweeper will re-schedule it", path)


def _enqueue_or_log(path: str, calls: list[tuple], delay: float) -> None:
    try:
        get_backend().enqueue_each(path, calls, delay=delay)
    except Exception:
        logger.exception("could not enqueue %s %s; the sweeper will re-schedule it", path, calls)

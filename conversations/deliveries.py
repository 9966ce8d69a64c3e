"""Webhook deliveries: stored as they came before the provider is answered, ingested by a job.

Providers time their webhooks and deliver again when an answer is slow (Meta backs off for
days, then disables the subscription), so the request does the least a correct webhook can:
the edge checks the signature and that the body reads, `accept` stores it with one INSERT and
schedules the ingest job (one for any number of deliveries waiting), and the 200 goes back with
the body durably committed.

The job reads each body again with the reader its edge registered, stores what it carried
(`ingest.store_batch`) and deletes the delivery, in one transaction: a delivery is ingested
once, whichever worker claims it. Deliveries that wait are claimed together, up to `BATCH`,
so under load one job stores many of them as one set-based batch. One that cannot be
ingested is tried again after a growing pause (`RETRY_BACKOFF`), so a passing fault (a
deadlock, a restart mid-deploy) does not use up its tries within seconds; after `MAX_ATTEMPTS`
it is set aside with its error and stays for the admin. The sweeper reschedules the others
(`reschedule_stalled`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from conversations import ingest, jobs
from conversations.inbound import InboundBatch
from conversations.models import Delivery

logger = logging.getLogger(__name__)

#: Reads a stored body back into what it carried; raises ValueError when it cannot.
Reader = Callable[[bytes], InboundBatch]

#: The job that ingests waiting deliveries (a dotted path, as every job is named).
JOB = "conversations.tasks.ingest_deliveries"
#: Deliveries one job claims at most: a batch of 100 messages costs about what one costs.
BATCH = 100
#: Tries before a delivery is set aside for the owner's administrator (a database outage does not count:
#: its transaction rolls back with the count).
MAX_ATTEMPTS = 5
#: The pause after each failed try, first to last: a delivery that keeps failing is set aside
#: about 21 minutes after its first failure.
RETRY_BACKOFF = (timedelta(seconds=15), timedelta(minutes=1), timedelta(minutes=4), timedelta(minutes=16))

_readers: dict[str, Reader] = {}


def register_reader(provider: str, reader: Reader) -> None:
    """The edge that accepts `provider`'s webhooks says how its bodies read (from its AppConfig.ready)."""
    _readers[provider] = reader


def accept(provider: str, body: bytes) -> Delivery:
    """Store a verified webhook body for ingestion; the caller answers the provider once this returns.

    Runs in autocommit: the INSERT is committed when it returns, and the job is handed to the
    queue after it. If the queue is down, the sweeper schedules the delivery later.
    """
    if provider not in _readers:
        raise LookupError(f"no reader registered for {provider!r} deliveries")
    delivery = Delivery.objects.create(provider=provider, body=body)
    jobs.schedule_coalesced(JOB)
    return delivery


def ingest_job() -> None:
    """The job: a batch of what waits; another job after it when the batch was full (other jobs run between)."""
    jobs.started_coalesced(JOB)
    if ingest_waiting() == BATCH:
        jobs.schedule_coalesced(JOB)


def ingest_waiting(limit: int = BATCH, *, now: datetime | None = None) -> int:
    """Ingest up to `limit` waiting deliveries, oldest first; returns how many were ingested.

    Safe to run any number of times at once: each delivery is claimed by one job (row locks,
    skipping those another job holds), and a job that finds none does nothing. `now` is for
    tests that move the clock past a backoff.
    """
    now = now or timezone.now()
    results: list[ingest.IngestResult] = []
    with transaction.atomic(durable=True):
        claimed = list(
            Delivery.objects.select_for_update(skip_locked=True).filter(_due(now)).order_by("pk")[:limit]
        )
        if not claimed:
            return 0
        batches = _read(claimed, now)
        failed = _store(batches, results)
        done = [delivery.pk for delivery in batches if delivery not in failed]
        Delivery.objects.filter(pk__in=done).delete()
        for delivery, error in failed.items():
            _count_failure(delivery, error, now)
    _log(results, len(done))
    return len(done)


def _due(now: datetime) -> Q:
    """Deliveries a job may try now: not set aside, and past any backoff."""
    return Q(attempts__lt=MAX_ATTEMPTS) & (Q(retry_at__isnull=True) | Q(retry_at__lte=now))


def _read(claimed: list[Delivery], now: datetime) -> dict[Delivery, InboundBatch]:
    """Each delivery's batch. A body its reader refuses (ValueError) will read no better later: set
    aside at once; a reader that failed otherwise counts a try."""
    batches = {}
    for delivery in claimed:
        reader = _readers.get(delivery.provider)
        try:
            if reader is None:
                raise ValueError(f"no reader registered for {delivery.provider!r} deliveries")
            batches[delivery] = reader(bytes(delivery.body))
        except ValueError as exc:
            _count_failure(delivery, f"unreadable: {exc}", now, final=True)
        except Exception as exc:  # a reader's bug must not hold the other deliveries back
            logger.exception("%s delivery %s could not be read", delivery.provider, delivery.pk)
            _count_failure(delivery, f"{type(exc).__name__}: {exc}", now)
    return batches


def _store(batches: dict[Delivery, InboundBatch], results: list[ingest.IngestResult]) -> dict[Delivery, str]:
    """All batches together in a savepoint; if that fails, each alone, to find the ones that cannot be stored.

    Returns the deliveries that failed, with their error. An error that breaks the whole
    transaction (the database went away) propagates: nothing is recorded and every delivery waits.
    """
    if len(batches) > 1:
        try:
            with transaction.atomic():
                results.append(ingest.store_batch(_merged(batches.values())))
            return {}
        except Exception:  # one delivery's fault must not hold the others back
            logger.warning("%d deliveries could not be ingested together; trying each alone", len(batches))
    failed = {}
    for delivery, batch in batches.items():
        try:
            with transaction.atomic():
                results.append(ingest.store_batch(batch))
        except Exception as exc:
            logger.exception("%s delivery %s could not be ingested", delivery.provider, delivery.pk)
            failed[delivery] = f"{type(exc).__name__}: {exc}"
    return failed


def _merged(batches: Iterable[InboundBatch]) -> InboundBatch:
    """One batch of everything several deliveries carried, in their order."""
    parts = list(batches)
    return InboundBatch(
        messages=tuple(m for batch in parts for m in batch.messages),
        statuses=tuple(s for batch in parts for s in batch.statuses),
        errors=tuple(e for batch in parts for e in batch.errors),
        echoes=tuple(e for batch in parts for e in batch.echoes),
    )


def _count_failure(delivery: Delivery, error: str, now: datetime, *, final: bool = False) -> None:
    """Count a failed try and pause before the next; the last (or a `final` one) sets the delivery
    aside for inspection and says so."""
    delivery.attempts = MAX_ATTEMPTS if final else delivery.attempts + 1
    delivery.error = error[:2000]
    delivery.retry_at = (
        now + RETRY_BACKOFF[delivery.attempts - 1] if delivery.attempts < MAX_ATTEMPTS else None
    )
    Delivery.objects.filter(pk=delivery.pk).update(
        attempts=delivery.attempts, error=delivery.error, retry_at=delivery.retry_at
    )
    if delivery.attempts >= MAX_ATTEMPTS:
        logger.error(
            "%s delivery %s set aside after %d tries (%s); it is kept in the admin under Deliveries",
            delivery.provider,
            delivery.pk,
            delivery.attempts,
            delivery.error,
        )


def _log(results: list[ingest.IngestResult], deliveries: int) -> None:
    if not results:
        return
    for result in results:
        ingest.log_unknown_accounts(result)
    logger.info(
        "ingested %d deliveries: %d new messages, %d duplicates, %d statuses applied",
        deliveries,
        sum(r.created for r in results),
        sum(r.duplicates for r in results),
        sum(r.statuses_applied for r in results),
    )


def reschedule_stalled(stalled: datetime, now: datetime) -> int:
    """Schedule ingestion when deliveries have waited since before `stalled` (their job was lost) or
    their backoff has passed."""
    waiting = Delivery.objects.filter(
        _due(now) & (Q(received_at__lt=stalled) | Q(retry_at__isnull=False))
    ).count()
    _enqueue_for(waiting)
    return waiting


def _enqueue_for(count: int) -> None:
    """Jobs enough for `count` deliveries, a batch each."""
    for _ in range(-(-count // BATCH)):
        jobs.enqueue_now(JOB)


def try_again(ids: list[int]) -> int:
    """The administrator's retry: the deliveries' tries start over and a job is scheduled for them."""
    count = Delivery.objects.filter(pk__in=ids).update(attempts=0, error="", retry_at=None)
    _enqueue_for(count)
    return count


def counts() -> dict[str, dict]:
    """Deliveries waiting to be ingested and set aside, each with its oldest `received_at` (for /metrics)."""
    set_aside = Q(attempts__gte=MAX_ATTEMPTS)
    found = Delivery.objects.aggregate(
        waiting=Count("pk", filter=~set_aside),
        waiting_oldest=Min("received_at", filter=~set_aside),
        set_aside=Count("pk", filter=set_aside),
        set_aside_oldest=Min("received_at", filter=set_aside),
    )
    return {
        state: {"count": found[state], "oldest": found[f"{state}_oldest"]}
        for state in ("waiting", "set_aside")
    }

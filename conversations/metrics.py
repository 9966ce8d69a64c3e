"""`GET /metrics`: Gatekeeper's figures in Prometheus's text format (docs/architecture.md, "The contract").

Gatekeeper runs as several processes (web workers, RQ workers, the sweeper), so nothing here
counts in memory: each scrape reads the figures from the database and the queue, which every
process shares, through one `Collector` (the `prometheus_client` library's way to expose
values it does not own). The number of queries is fixed, whatever the data: each one groups
or aggregates in the database, over the indexes the metrics added (migration 0005).

Readers: an operator's session (staff with the `view_metrics` permission; a superuser has it)
or a scraper with `Authorization: Bearer <METRICS_TOKEN>`. The figures cover every owner, so
an owner's own staff account does not see them. README.md, "Metrics", lists each metric.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from conversations import deliveries, window
from conversations.jobs import get_backend
from conversations.models import (
    Conversation,
    Direction,
    Draft,
    DraftKind,
    DraftStatus,
    Escalation,
    EscalationReason,
    Message,
    MessageStatus,
    Provider,
)
from conversations.trust import guards, loops, senders, vault

logger = logging.getLogger(__name__)

#: Upper bounds (seconds) of the draft latency buckets: the burst window, the engine, its retries.
DRAFT_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)
#: Upper bounds (seconds) of the send latency buckets: a provider's answer, then its retries.
SEND_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

#: What an owner or the policy did with a draft: `automatic` went out by itself, the rest were held.
DECISIONS = ("automatic", "held", "approved", "rejected", "withdrawn")
#: Draft statuses of a reply that was released to be sent (by the policy or by the owner).
RELEASED = (DraftStatus.APPROVED, DraftStatus.SENT, DraftStatus.PRINTED, DraftStatus.FAILED)
_HELD = {
    DraftStatus.PENDING: "held",
    DraftStatus.REJECTED: "rejected",
    DraftStatus.WITHDRAWN: "withdrawn",
}

#: Guard names reported even before they first fire, so a dashboard's series exist from the start.
KNOWN_GUARDS = (
    guards.IDENTIFIER,
    guards.PRIVATE_FACT,
    guards.CREDENTIAL,
    guards.MONEY,
    guards.COMMITMENT,
    guards.CODE_REQUEST,
    vault.VAULT,
    senders.CATEGORY,
    senders.UNVERIFIED_SENDER,
    loops.LOOP,
    window.GUARD,
)
#: A guard name as the code writes it; anything else in a draft's JSON is not made a label.
_GUARD_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")

OUTBOUND_STATUSES = tuple(status for status in MessageStatus.values if status != MessageStatus.RECEIVED)
IN_FLIGHT = (MessageStatus.QUEUED, MessageStatus.SENDING)


def _channels(*found: Sequence[str]) -> list[str]:
    """Every known channel, then any other found in the data."""
    channels = list(Provider.values)
    for names in found:
        channels += [name for name in names if name and name not in channels]
    return channels


def _latency(end: str, start: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def _histogram_aggregates(buckets: Sequence[float]) -> dict:
    """Cumulative bucket counts, the count and the sum of an annotated `latency`, in one aggregate."""
    aggregates = {
        f"le_{index}": Count("pk", filter=Q(latency__lte=timedelta(seconds=bound)))
        for index, bound in enumerate(buckets)
    }
    aggregates["observations"] = Count("pk")
    aggregates["latency_sum"] = Sum("latency")
    return aggregates


def _histogram_sample(row: dict, buckets: Sequence[float]) -> tuple[list[tuple[str, float]], float]:
    counts = [(floatToGoString(bound), row.get(f"le_{index}") or 0) for index, bound in enumerate(buckets)]
    counts.append(("+Inf", row.get("observations") or 0))
    total = row.get("latency_sum")
    return counts, total.total_seconds() if isinstance(total, timedelta) else float(total or 0)


def _seconds_since(moment: datetime | None, now: datetime) -> float:
    return max((now - moment).total_seconds(), 0.0) if moment else 0.0


class GatekeeperCollector(Collector):
    """Reads every figure at scrape time from the database and the job queue; keeps nothing itself."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        yield from self._messages()
        yield from self._drafts()
        yield self._guards()
        yield from self._escalations()
        yield self._draft_latency()
        yield self._send_latency()
        yield from self._pending_work(now)
        yield from self._deliveries(now)
        yield from self._queue()

    # --- messages --------------------------------------------------------------------------
    def _messages(self) -> Iterator[Metric]:
        received: dict[str, int] = defaultdict(int)
        outbound: dict[tuple[str, str], int] = defaultdict(int)
        rows = (
            Message.objects.values("direction", "status", "account__provider")
            .annotate(count=Count("*"))
            .order_by()
        )
        for row in rows:
            channel = row["account__provider"]
            if row["direction"] == Direction.IN:
                received[channel] += row["count"]
            else:
                outbound[(channel, row["status"])] += row["count"]
        channels = _channels(list(received), [channel for channel, _ in outbound])
        messages_in = CounterMetricFamily(
            "gatekeeper_messages_received",
            "Messages received from companies, by channel (stored messages; a redelivery counts once).",
            labels=["channel"],
        )
        for channel in channels:
            messages_in.add_metric([channel], received.get(channel, 0))
        yield messages_in
        sends = GaugeMetricFamily(
            "gatekeeper_outbound_messages",
            "Outbound messages (replies, the owner's, templates) by channel and current status; "
            "printed: no provider configured, nothing left the machine.",
            labels=["channel", "status"],
        )
        statuses = list(OUTBOUND_STATUSES) + sorted({s for _, s in outbound} - set(OUTBOUND_STATUSES))
        for channel in channels:
            for status in statuses:
                sends.add_metric([channel, status], outbound.get((channel, status), 0))
        yield sends

    # --- drafts ----------------------------------------------------------------------------
    def _drafts(self) -> Iterator[Metric]:
        decided: dict[str, int] = dict.fromkeys(DECISIONS, 0)
        rows = (
            Draft.objects.values("status").annotate(count=Count("*"), by_owner=Count("decided_by")).order_by()
        )
        for row in rows:
            if row["status"] in RELEASED:
                decided["approved"] += row["by_owner"]
                decided["automatic"] += row["count"] - row["by_owner"]
            elif row["status"] in _HELD:
                decided[_HELD[row["status"]]] += row["count"]
        family = GaugeMetricFamily(
            "gatekeeper_drafts",
            "Drafts by decision: automatic (the policy let it go out by itself), held (waiting for the "
            "owner), and approved, rejected or withdrawn (held, then decided).",
            labels=["decision"],
        )
        for decision in DECISIONS:
            family.add_metric([decision], decided[decision])
        yield family

    def _guards(self) -> Metric:
        counts = dict.fromkeys(KNOWN_GUARDS, 0)
        for guard, count in self._guard_counts():
            if isinstance(guard, str) and _GUARD_NAME.fullmatch(guard):
                counts[guard] = counts.get(guard, 0) + int(count)
        family = CounterMetricFamily(
            "gatekeeper_draft_guards",
            "Drafts on which a check fired, by the check's name (a draft with two counts under both).",
            labels=["guard"],
        )
        for guard, count in counts.items():
            family.add_metric([guard], count)
        return family

    @staticmethod
    def _guard_counts() -> list[tuple[str, int]]:
        """(guard name, drafts) from the drafts' `guards` JSON, unnested in the database in one query."""
        # The only name put into the SQL is the model's own table, quoted by the backend.
        table = connection.ops.quote_name(Draft._meta.db_table)
        if connection.vendor == "postgresql":
            sql = (
                "SELECT CASE WHEN jsonb_typeof(f.value) = 'object' THEN f.value ->> 'guard' END AS guard, "  # noqa: S608
                "COUNT(DISTINCT d.id) "
                f"FROM {table} d CROSS JOIN LATERAL jsonb_array_elements("
                "CASE WHEN jsonb_typeof(d.guards) = 'array' THEN d.guards ELSE '[]'::jsonb END) AS f(value) "
                "WHERE d.guards <> '[]'::jsonb GROUP BY 1"
            )
        elif connection.vendor == "sqlite":
            sql = (
                "SELECT CASE WHEN f.type = 'object' THEN json_extract(f.value, '$.guard') END AS guard, "  # noqa: S608
                "COUNT(DISTINCT d.id) "
                f"FROM {table} d, json_each(CASE WHEN json_valid(d.guards) AND json_type(d.guards) = 'array' "
                "THEN d.guards ELSE '[]' END) AS f "
                "WHERE d.guards <> '[]' GROUP BY 1"
            )
        else:  # another database: the same figures, read row by row
            found: dict[str, int] = defaultdict(int)
            for findings in Draft.objects.exclude(guards=[]).values_list("guards", flat=True).iterator():
                names = {f.get("guard") for f in findings or [] if isinstance(f, dict)}
                for name in names:
                    found[name] += 1
            return list(found.items())
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return [(guard, count) for guard, count in cursor.fetchall() if guard is not None]

    # --- escalations -----------------------------------------------------------------------
    def _escalations(self) -> Iterator[Metric]:
        total = dict.fromkeys(EscalationReason.values, 0)
        waiting = dict.fromkeys(EscalationReason.values, 0)
        rows = (
            Escalation.objects.values("reason")
            .annotate(count=Count("*"), notified=Count("notified_at"))
            .order_by()
        )
        for row in rows:
            total[row["reason"]] = row["count"]
            waiting[row["reason"]] = row["count"] - row["notified"]
        escalations = CounterMetricFamily(
            "gatekeeper_escalations",
            "Times the owner was needed, by reason.",
            labels=["reason"],
        )
        unnotified = GaugeMetricFamily(
            "gatekeeper_escalations_unnotified",
            "Escalations the owner has not been told about yet (waiting for the batched email), by reason.",
            labels=["reason"],
        )
        for reason in total:
            escalations.add_metric([reason], total[reason])
            unnotified.add_metric([reason], waiting[reason])
        yield escalations
        yield unnotified

    # --- latency ---------------------------------------------------------------------------
    def _draft_latency(self) -> Metric:
        row = (
            Draft.objects.filter(kind=DraftKind.TEXT, reply_to__isnull=False)
            .annotate(latency=_latency("created_at", "reply_to__created_at"))
            .aggregate(**_histogram_aggregates(DRAFT_BUCKETS))
        )
        buckets, total = _histogram_sample(row, DRAFT_BUCKETS)
        return HistogramMetricFamily(
            "gatekeeper_draft_latency_seconds",
            "The draft job: from the company's message to the decision (sent by itself or held for the "
            "owner), burst window and engine retries included.",
            buckets=buckets,
            sum_value=total,
        )

    def _send_latency(self) -> Metric:
        family = HistogramMetricFamily(
            "gatekeeper_send_latency_seconds",
            "A send: from queued to accepted by the provider (or printed), retries included, by channel.",
            labels=["channel"],
        )
        rows = (
            Message.objects.filter(direction=Direction.OUT, accepted_at__isnull=False)
            .annotate(latency=_latency("accepted_at", "created_at"))
            .values("account__provider")
            .annotate(**_histogram_aggregates(SEND_BUCKETS))
            .order_by()
        )
        by_channel = {row["account__provider"]: row for row in rows}
        for channel in _channels(list(by_channel)):
            buckets, total = _histogram_sample(by_channel.get(channel, {}), SEND_BUCKETS)
            family.add_metric([channel], buckets, total)
        return family

    # --- pending work and the queue ----------------------------------------------------------
    def _pending_work(self, now: datetime) -> Iterator[Metric]:
        drafts = Conversation.objects.filter(reply_due_at__isnull=False).aggregate(
            count=Count("*"), oldest=Min("reply_due_at")
        )
        sends = _in_flight().aggregate(count=Count("*"), oldest=Min("created_at"))
        pending = GaugeMetricFamily(
            "gatekeeper_pending_work",
            "Work recorded in the database and not done yet: draft (conversations with a reply due) and "
            "send (outbound messages queued or sending).",
            labels=["kind"],
        )
        oldest = GaugeMetricFamily(
            "gatekeeper_pending_work_oldest_seconds",
            "How long the oldest pending work has waited: a draft since it was due, a send since it was queued.",
            labels=["kind"],
        )
        for kind, row, start in (
            ("draft", drafts, drafts["oldest"]),
            ("send", sends, sends["oldest"]),
        ):
            pending.add_metric([kind], row["count"])
            oldest.add_metric([kind], _seconds_since(start, now))
        yield pending
        yield oldest

    def _deliveries(self, now: datetime) -> Iterator[Metric]:
        found = deliveries.counts()
        count = GaugeMetricFamily(
            "gatekeeper_deliveries",
            "Webhook deliveries stored and not ingested yet: waiting for the ingest job, or set aside after "
            "failing (kept in the admin under Deliveries).",
            labels=["state"],
        )
        oldest = GaugeMetricFamily(
            "gatekeeper_deliveries_oldest_seconds",
            "How long the oldest delivery in each state has been kept.",
            labels=["state"],
        )
        for state, row in found.items():
            count.add_metric([state], row["count"])
            oldest.add_metric([state], _seconds_since(row["oldest"], now))
        yield count
        yield oldest

    def _queue(self) -> Iterator[Metric]:
        backend = get_backend()
        queue = "in-process" if backend.in_process else str(backend.options.get("queue", "default"))
        try:
            depth = backend.depth()
        except Exception as exc:
            logger.warning("metrics: the job queue is unavailable: %s", exc)
            depth, up = {}, 0
        else:
            up = 1
        available = GaugeMetricFamily(
            "gatekeeper_queue_up", "1 when the job queue answered this scrape, else 0.", labels=["queue"]
        )
        available.add_metric([queue], up)
        yield available
        jobs = GaugeMetricFamily(
            "gatekeeper_queue_jobs",
            "Jobs in the queue by state: RQ's queue and registries (queued, scheduled, started, deferred, "
            "failed) with REDIS_URL, else this process's in-process queue (queued, scheduled).",
            labels=["queue", "state"],
        )
        for state, count in depth.items():
            jobs.add_metric([queue, state], count)
        yield jobs


def _in_flight() -> QuerySet[Message]:
    return Message.objects.filter(direction=Direction.OUT, status__in=IN_FLIGHT)


#: Only Gatekeeper's collector: no process metrics, which would describe one worker among several.
REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(GatekeeperCollector())


def _bearer_token(request: HttpRequest) -> str | None:
    """The credentials of `Authorization: Bearer <token>`, or None without that header."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def token_matches(given: str) -> bool:
    """Compare with METRICS_TOKEN in constant time; no token configured matches nothing."""
    expected = settings.METRICS_TOKEN
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def can_read_metrics(user) -> bool:
    """An operator: active staff with the `view_metrics` permission (every superuser has it)."""
    return bool(user.is_active and user.is_staff and user.has_perm("conversations.view_metrics"))


def _unauthorized(error: str = "") -> HttpResponse:
    response = HttpResponse(
        "Log in as an operator or send Authorization: Bearer <METRICS_TOKEN>.\n",
        status=401,
        content_type="text/plain; charset=utf-8",
    )
    challenge = 'Bearer realm="gatekeeper-metrics"'
    response["WWW-Authenticate"] = f'{challenge}, error="{error}"' if error else challenge
    return response


def refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the request may read the metrics; else 401 (no or a wrong token) or 403 (not an operator)."""
    token = _bearer_token(request)
    if token is not None:
        return None if token_matches(token) else _unauthorized("invalid_token")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return _unauthorized()
    if not can_read_metrics(user):
        return HttpResponse(
            "Only an operator reads /metrics: it covers every owner.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    return None


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """The figures in Prometheus's text format (OpenMetrics when the scraper asks for it)."""
    if (refused := refusal(request)) is not None:
        return refused
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    try:
        body = encoder(REGISTRY)
    except DatabaseError as exc:
        logger.warning("metrics: the database is unavailable: %s", exc)
        return HttpResponse("The database is unavailable.\n", status=503, content_type="text/plain")
    return HttpResponse(body, content_type=content_type)

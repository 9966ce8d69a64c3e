"""`GET /healthz`: can this process take work? Load balancers and `make run` ask; no login needed."""

from __future__ import annotations

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from conversations.jobs import get_backend

logger = logging.getLogger(__name__)

OK = "ok"
IN_PROCESS = "in-process"
UNAVAILABLE = "unavailable"


def database_status() -> str:
    """`ok` when the database answers a trivial query, else `unavailable`."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("health check: the database is unavailable: %s", exc)
        return UNAVAILABLE
    return OK


def queue_status() -> str:
    """`ok` (a reachable queue), `in-process` (jobs run in this process) or `unavailable`."""
    try:
        backend = get_backend()
        backend.ping()
    except Exception as exc:
        logger.warning("health check: the job queue is unavailable: %s", exc)
        return UNAVAILABLE
    return IN_PROCESS if backend.in_process else OK


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every dependency answers, 503 naming the one that does not, so traffic moves away."""
    report = {"database": database_status(), "queue": queue_status()}
    healthy = UNAVAILABLE not in report.values()
    return JsonResponse(report, status=200 if healthy else 503)

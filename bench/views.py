"""Reference points measured on the same server as the product's webhook.

`bare` is the cost of Django and the server alone. `minimal_ingest` is the issue's anchor: an
HMAC check, a JSON parse, one `INSERT ... ON CONFLICT DO NOTHING` and an RQ enqueue on commit.
"""

from __future__ import annotations

import json
from functools import cache

import django_rq
from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from channels_app.whatsapp.signature import verify_signature


def noop(*args: object) -> None:
    """The job the minimal ingest enqueues, and the worker-class benchmark runs."""


@cache
def minimal_queue():
    """One queue per process, as a careful minimal implementation would keep it."""
    return django_rq.get_queue(settings.BENCH_MINIMAL_QUEUE)


def bare(request: HttpRequest) -> HttpResponse:
    """Nothing but Django's request cycle and the server."""
    return HttpResponse(b"ok", content_type="text/plain")


@csrf_exempt
def minimal_ingest(request: HttpRequest) -> HttpResponse:
    """The least a correct webhook can do: verify, parse, store idempotently, enqueue after commit."""
    body = request.body
    if not verify_signature(body, request.headers.get("X-Hub-Signature-256"), settings.WHATSAPP_APP_SECRET):
        return JsonResponse({"error": "signature"}, status=403)
    payload = json.loads(body)
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    queue = minimal_queue()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_minimal (id, body) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [message["id"], json.dumps(message)],
        )
        transaction.on_commit(lambda: queue.enqueue("bench.views.noop", message["id"]))
    return JsonResponse({"status": "ok"})

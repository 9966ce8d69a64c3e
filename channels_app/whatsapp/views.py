"""`/webhook/whatsapp`: Meta's subscription handshake (GET) and its signed deliveries (POST).

The POST answers 200 once the delivery is committed as it came (conversations/deliveries.py: one
INSERT; a job stores what it carried), and 503 when the database is unavailable, so that Meta
delivers again later. A body that is not a WhatsApp webhook is refused with 400 here, before it
is kept. No AI call and no send happens here.
"""

from __future__ import annotations

import hmac
import logging
from urllib.parse import parse_qsl

from django.conf import settings
from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods

from channels_app.webhooks import reject, signed_webhook
from channels_app.whatsapp.parser import PayloadError, read_body
from channels_app.whatsapp.signature import verify_signature
from conversations import deliveries
from conversations.models import Provider

logger = logging.getLogger(__name__)


def meta_signature_problem(request: HttpRequest, body: bytes) -> str | None:
    """Why this body is not signed by our Meta app, or None when it is."""
    app_secret = settings.WHATSAPP_APP_SECRET
    if not app_secret:
        logger.error("WHATSAPP_APP_SECRET is not set: every WhatsApp webhook is refused until it is")
        return "webhook signing secret not configured"
    header = request.headers.get("X-Hub-Signature-256")
    if not header:
        return "missing X-Hub-Signature-256"
    if not verify_signature(body, header, app_secret):
        return "invalid X-Hub-Signature-256"
    return None


@require_http_methods(["GET", "POST"])
@transaction.non_atomic_requests
@signed_webhook(meta_signature_problem, name="WhatsApp")
def whatsapp_webhook(request: HttpRequest) -> HttpResponse:
    """Meta's single callback URL: GET verifies the subscription, POST delivers updates."""
    if request.method == "GET":
        return _verify_subscription(request)
    return _receive(request)


def _verify_subscription(request: HttpRequest) -> HttpResponse:
    """Echo `hub.challenge` when Meta presents our verify token; anything else is refused."""
    params = _raw_query(request)
    expected = settings.WHATSAPP_VERIFY_TOKEN.encode("utf-8")
    token = params.get("hub.verify_token")
    challenge = params.get("hub.challenge")
    if not expected:
        logger.error("WHATSAPP_VERIFY_TOKEN is not set: Meta's webhook verification is refused")
    elif (
        params.get("hub.mode") == b"subscribe"
        and token is not None
        and challenge is not None
        and hmac.compare_digest(token, expected)
    ):
        logger.info("WhatsApp webhook subscription verified")
        return HttpResponse(challenge, content_type="text/plain")
    logger.warning("WhatsApp webhook verification refused (wrong mode or token)")
    return HttpResponse("verification failed", status=403, content_type="text/plain")


def _raw_query(request: HttpRequest) -> dict[str, bytes]:
    """Query parameters as the bytes that were sent, so the challenge is echoed byte for byte."""
    query = request.META.get("QUERY_STRING", "")
    try:
        query.encode("latin-1")  # WSGI hands over the raw bytes as latin-1 text
    except UnicodeEncodeError:  # some ASGI servers decode them as UTF-8 first
        query = query.encode("utf-8").decode("latin-1")
    pairs = parse_qsl(query, keep_blank_values=True, encoding="latin-1")
    return {name: value.encode("latin-1") for name, value in reversed(pairs)}


def _receive(request: HttpRequest) -> HttpResponse:
    """Check that a signed delivery reads, and store it durably before acknowledging."""
    try:
        batch = read_body(request.body)
    except PayloadError as exc:
        logger.warning("WhatsApp webhook refused: %s", exc)
        return reject(400, str(exc))
    if batch.is_empty:
        logger.info("WhatsApp webhook with nothing Gatekeeper stores (acknowledged)")
        return JsonResponse({"status": "ok"}, status=200)
    try:
        deliveries.accept(Provider.WHATSAPP, request.body)
    except DatabaseError:
        logger.exception("WhatsApp webhook not stored (database unavailable); answering 503 so Meta retries")
        return reject(503, "temporarily unavailable")
    return JsonResponse({"status": "ok"}, status=200)

"""What every provider webhook checks before it reads a payload: a bounded body and a valid signature.

A provider module supplies only its signature rule; the size limit, CSRF exemption and
the 403/413 answers are shared, so the Meta and Twilio views behave alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger(__name__)

#: Returns None when the request is authentic, else a short reason for the 403 (never a secret).
SignatureCheck = Callable[[HttpRequest, bytes], str | None]
View = Callable[..., HttpResponse]


def reject(status: int, reason: str) -> JsonResponse:
    """The small JSON answer a refused webhook gets."""
    return JsonResponse({"error": reason}, status=status)


class WebhookRefused(Exception):
    """A webhook request refused before its payload is read; carries the HTTP status to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def read_limited_body(request: HttpRequest, max_bytes: int) -> bytes:
    """The raw body; refuses with 413 one larger than `max_bytes`, declared or actual."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise WebhookRefused(400, "invalid Content-Length") from None
    if declared > max_bytes:
        raise WebhookRefused(413, "payload too large")
    try:
        body = request.body
    except RequestDataTooBig:
        raise WebhookRefused(413, "payload too large") from None
    if len(body) > max_bytes:
        raise WebhookRefused(413, "payload too large")
    return body


def signed_webhook(check_signature: SignatureCheck, *, name: str) -> Callable[[View], View]:
    """Wrap a webhook view: POSTs reach it only when small enough and signed; GETs pass through."""

    def decorator(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            if request.method != "POST":
                return view(request, *args, **kwargs)
            try:
                body = read_limited_body(request, settings.WEBHOOK_MAX_BYTES)
            except WebhookRefused as refused:
                logger.warning("%s webhook refused: %s", name, refused.reason)
                return reject(refused.status, refused.reason)
            problem = check_signature(request, body)
            if problem is not None:
                logger.warning("%s webhook refused: %s", name, problem)
                return reject(403, problem)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator

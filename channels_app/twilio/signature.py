"""`X-Twilio-Signature`, checked with the `twilio` library's own RequestValidator.

Twilio signs the URL it called plus every form parameter. Behind a TLS-terminating proxy
Django sees `http://internal-host/...`, so the URL checked is always `PUBLIC_BASE_URL` plus
the path and query string: exactly what the owner typed into Twilio's console. All received
parameters are passed, never a fixed list: Twilio adds new ones without notice.

A webhook signed with a Twilio SharedKey (it then carries
`X-Twilio-Webhooks-Signature-Settings`, naming the algorithm) is checked against
`TWILIO_WEBHOOK_SIGNING_KEY`, falling back to the auth token.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.conf import settings
from django.http import HttpRequest, QueryDict
from twilio.request_validator import RequestValidator, get_signature_algorithm

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"


def public_url(request: HttpRequest) -> str:
    """The URL Twilio called: the configured public base, the path, and the query string as sent."""
    query = request.META.get("QUERY_STRING", "")
    return f"{settings.PUBLIC_BASE_URL}{request.path}" + (f"?{query}" if query else "")


def form_params(body: bytes) -> QueryDict:
    """The form fields of a Twilio POST, parsed from the raw body whatever its Content-Type says."""
    return QueryDict(body, encoding="utf-8")


def sign(url: str, params: Mapping[str, object], secret: str, *, algorithm: str | None = None) -> str:
    """The `X-Twilio-Signature` Twilio would send: for tests and the inbound simulator."""
    return RequestValidator(secret).compute_signature(url, params, algorithm)


def twilio_signature_problem(request: HttpRequest, body: bytes) -> str | None:
    """Why this request is not signed by our Twilio account, or None when it is."""
    auth_token = settings.TWILIO_AUTH_TOKEN
    shared_key = settings.TWILIO_WEBHOOK_SIGNING_KEY
    if not auth_token and not shared_key:
        logger.error("TWILIO_AUTH_TOKEN is not set: every Twilio webhook is refused until it is")
        return "webhook signing secret not configured"
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        return f"missing {SIGNATURE_HEADER}"
    signature_settings = request.headers.get(SETTINGS_HEADER, "")
    algorithm = get_signature_algorithm(signature_settings)
    secrets = [shared_key, auth_token] if signature_settings else [auth_token]
    url, params = public_url(request), form_params(body)
    for secret in secrets:
        if secret and RequestValidator(secret).validate(url, params, signature, algorithm):
            return None
    return f"invalid {SIGNATURE_HEADER}"

"""Twilio's recorded webhook forms (the fixtures folder) and posting them signed, as Twilio does."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.test import Client

from channels_app.twilio.signature import SIGNATURE_HEADER, sign
from conversations import deliveries

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
#: The owner's Twilio WhatsApp sender in these tests (Twilio's sandbox number).
TWILIO_NUMBER = "+14155238886"
ACCOUNT_SID = "AC" + "a" * 32
AUTH_TOKEN = "test-twilio-auth-token"
CONTENT_SID = "HX" + "b5b62575e6e4ff6129ad7c8efe1f983e"
#: The public address the tests pretend to be served at, behind a TLS-terminating proxy.
PUBLIC_BASE_URL = "https://gatekeeper.example.com"
INBOUND_PATH = "/webhook/twilio"
STATUS_PATH = "/webhook/twilio/status"


def fixture_params(name: str) -> dict[str, str]:
    """A recorded form, as name → value in Twilio's order."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def fixture_names(prefix: str = "") -> list[str]:
    """Every recorded form whose name starts with `prefix`."""
    return sorted(path.stem for path in FIXTURES.glob(f"{prefix}*.json"))


def post_signed(
    client: Client,
    path: str,
    params: dict[str, str],
    *,
    token: str = AUTH_TOKEN,
    signed_url: str | None = None,
    ingest: bool = True,
    **extra: str,
):
    """POST a form the way Twilio does: form-encoded, signed for the public URL of `path`; on a 200
    (unless `ingest` is False), ingest what was stored, as a worker's job does next. Jobs the
    ingest schedules after its commit are not run."""
    url = signed_url if signed_url is not None else f"{settings.PUBLIC_BASE_URL}{path}"
    response = client.post(
        path,
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={SIGNATURE_HEADER: sign(url, params, token)},
        **extra,
    )
    if ingest and response.status_code == 200 and path in (INBOUND_PATH, STATUS_PATH):
        deliveries.ingest_waiting()
    return response

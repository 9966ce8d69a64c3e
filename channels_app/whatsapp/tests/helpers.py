"""Meta's recorded payloads (the fixtures folder), read as the wire carries them."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings

from channels_app.whatsapp.signature import sign
from conversations import deliveries

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PHONE_NUMBER_ID = "106540352242922"
GRAPH_TOKEN = "test-graph-token"


def fixture_bytes(name: str) -> bytes:
    """A recorded payload exactly as it would arrive on the wire."""
    return (FIXTURES / f"{name}.json").read_bytes()


def fixture_payload(name: str) -> dict:
    """A recorded payload, decoded."""
    return json.loads(fixture_bytes(name))


def fixture_names() -> list[str]:
    """Every recorded payload in the fixtures folder."""
    return sorted(path.stem for path in FIXTURES.glob("*.json"))


def post_signed(client, body: bytes, *, secret: str = "", **extra):
    """POST a body as Meta does; on a 200, ingest what was stored, as a worker's job does next.

    `secret` defaults to WHATSAPP_APP_SECRET. Jobs the ingest schedules are not run.
    """
    response = client.post(
        "/webhook/whatsapp",
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=sign(body, secret or settings.WHATSAPP_APP_SECRET),
        **extra,
    )
    if response.status_code == 200:
        deliveries.ingest_waiting()
    return response

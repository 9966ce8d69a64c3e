"""Meta's recorded payloads (the fixtures folder), read as the wire carries them."""

from __future__ import annotations

import json
from pathlib import Path

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

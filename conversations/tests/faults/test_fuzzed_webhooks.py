"""Invariants 1-3 against hostile input: whatever arrives, never a 500, and nothing stored from a refusal.

Hypothesis throws random bytes, random JSON and mutated real Meta payloads at the webhook,
signed and unsigned; the real view, parser and ingest run in process against the suite's
database. The review dashboard's API is fuzzed separately (schemathesis).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from channels_app.whatsapp.signature import sign
from conversations import deliveries
from conversations.models import Contact, Conversation, Delivery, Draft, Escalation, Message

FIXTURES = Path(__file__).resolve().parents[3] / "channels_app" / "whatsapp" / "fixtures"
REAL_PAYLOADS = [json.loads(path.read_text()) for path in sorted(FIXTURES.glob("*.json"))]
fuzzing = hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Characters that break naive handling (NUL, separators, quotes, astral) mixed into any others.
awkward_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(["\x00", "\u2028", "\\", '"', "\U0001f600", "\ufeff"]), st.characters()
    ),
    max_size=300,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | awkward_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)


def stored() -> tuple[int, ...]:
    """How many rows of everything a webhook may create."""
    return tuple(model.objects.count() for model in (Message, Contact, Conversation, Draft, Escalation))


def post(body: bytes, signature: str | None) -> int:
    """POST the body as Meta would, with this X-Hub-Signature-256 (or none); the status answered."""
    headers = {} if signature is None else {"HTTP_X_HUB_SIGNATURE_256": signature}
    client = Client(raise_request_exception=True)
    status = client.post(
        "/webhook/whatsapp", data=body, content_type="application/json", **headers
    ).status_code
    if status == 200:
        assert deliveries.ingest_waiting() <= 1
        assert not Delivery.objects.filter(attempts__gt=0).exists(), "a stored body failed to ingest"
    return status


def deliver_and_check(body: bytes, *, signed: bool, signature: str | None = None) -> int:
    """Deliver; assert no server error and no trace left by a refused request."""
    before = stored()
    status = post(body, sign(body, settings.WHATSAPP_APP_SECRET) if signed else signature)
    assert status < 500, f"{status} for {body[:200]!r}"
    if status != 200:
        assert stored() == before, f"a refused request ({status}) stored something"
    if not signed:
        assert status == 403
    return status


@st.composite
def mutated_payloads(draw: st.DrawFn) -> Any:
    """A real payload with a few nodes replaced by random JSON, deleted, or a string changed."""
    payload = json.loads(json.dumps(draw(st.sampled_from(REAL_PAYLOADS))))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        parent, key = _pick_node(draw, payload)
        if parent is None:
            return draw(json_values)
        action = draw(st.sampled_from(["replace", "delete", "text"]))
        if action == "delete" and isinstance(parent, dict):
            parent.pop(key, None)
        elif action == "text":
            parent[key] = draw(awkward_text)
        else:
            parent[key] = draw(json_values)
    return payload


def _pick_node(draw: st.DrawFn, payload: Any) -> tuple[Any, Any]:
    """A random (container, key) inside the payload, reached by walking down from the root."""
    parent, key, node = None, None, payload
    while isinstance(node, dict | list) and node and draw(st.integers(min_value=0, max_value=5)) > 0:
        keys = list(node.keys()) if isinstance(node, dict) else list(range(len(node)))
        parent, key = node, draw(st.sampled_from(keys))
        node = node[key]
    return parent, key


@pytest.fixture
def webhook_owner(owner, settings):
    """The owner of the fixtures' phone_number_id; the rules engine, so drafting stays offline."""
    settings.AI_ENGINE = "rules"
    return owner


@pytest.mark.django_db
@fuzzing
@given(body=st.binary(max_size=2000), signed=st.booleans())
def test_random_bytes_never_cause_a_server_error_or_a_stored_row(webhook_owner, body, signed):
    """docs/architecture.md invariant 1 (the signature is checked first) and 2 (only what is stored is acknowledged)."""
    deliver_and_check(body, signed=signed)


@pytest.mark.django_db
@fuzzing
@given(payload=json_values, signed=st.booleans())
def test_random_json_never_causes_a_server_error_or_a_stored_row(webhook_owner, payload, signed):
    """docs/architecture.md invariant 1: a payload of the wrong shape is refused (400) or ignored, never a crash."""
    deliver_and_check(json.dumps(payload).encode(), signed=signed)


@pytest.mark.django_db
@fuzzing
@given(payload=mutated_payloads(), signed=st.booleans(), ascii_only=st.booleans())
def test_mutated_real_payloads_never_cause_a_server_error(webhook_owner, payload, signed, ascii_only):
    """docs/architecture.md invariants 1 and 3: odd pieces are skipped, the rest stored once; a redelivery stores nothing."""
    body = json.dumps(payload, ensure_ascii=ascii_only).encode()
    if deliver_and_check(body, signed=signed) == 200:
        before = stored()
        assert deliver_and_check(body, signed=True) == 200
        assert stored() == before, "a redelivery stored something"


@pytest.mark.django_db
@fuzzing
@given(signature=st.text(max_size=90))
def test_forged_signatures_on_a_real_payload_are_refused_and_store_nothing(webhook_owner, signature):
    """docs/architecture.md invariant 1: only the app secret's HMAC of these exact bytes gets in."""
    body = json.dumps(REAL_PAYLOADS[0]).encode()
    try:
        signature.encode("latin-1")
    except UnicodeEncodeError:
        signature = signature.encode("utf-8").decode("latin-1")
    deliver_and_check(body, signed=False, signature=signature)


@pytest.mark.django_db
@fuzzing
@given(text=awkward_text, name=awkward_text, id_suffix=awkward_text)
def test_any_text_in_a_signed_message_is_stored_and_acknowledged(webhook_owner, text, name, id_suffix):
    """docs/architecture.md invariant 2: a well-formed delivery is stored whatever its text (NUL included), never 5xx forever."""
    payload = json.loads((FIXTURES / "text.json").read_text())
    value = payload["entry"][0]["changes"][0]["value"]
    value["messages"][0]["text"]["body"] = text
    value["messages"][0]["id"] = f"wamid.{uuid.uuid4().hex}{id_suffix}"
    value["contacts"][0]["profile"]["name"] = name
    before = Message.objects.count()
    assert deliver_and_check(json.dumps(payload).encode(), signed=True) == 200
    assert Message.objects.count() == before + 1

"""The engine's answer model, and the JSON schema it generates for Structured Outputs."""

from __future__ import annotations

from datetime import UTC, datetime

import jsonschema
import pytest

from ai.answer import REQUIRED_KEYS, EngineAnswer, response_format
from ai.prompt import OUTPUT_KEYS
from ai.testing import check_response_format

NOW = datetime(2026, 3, 6, 10, tzinfo=UTC)
GOOD = {"reply": "Noted.", "category": "bank", "confidence": 0.9, "reason": "A notice."}
NULLS = {"follow_up": None, "promises": None}


def schema() -> dict:
    return response_format("json_schema", ["bank", "other"])["json_schema"]["schema"]


def test_the_required_keys_are_the_four_the_prompt_asks_for():
    assert REQUIRED_KEYS == OUTPUT_KEYS


def test_the_schema_passes_openais_strict_mode_checks():
    body = {"model": "m", "messages": [], "response_format": response_format("json_schema", ["bank"])}
    assert check_response_format(body) is None


@pytest.mark.parametrize(
    "answer",
    [
        {**GOOD, **NULLS},
        {
            **GOOD,
            "follow_up": {"in": "3 days", "at": None, "why": "No news.", "text": None},
            "promises": [{"what": "a call back", "in": None, "due_at": "2026-03-09T10:00:00+00:00"}],
        },
    ],
)
def test_what_the_schema_lets_a_model_write_the_model_accepts(answer):
    jsonschema.validate(answer, schema())
    EngineAnswer.model_validate(answer, context={"now": NOW})


@pytest.mark.parametrize(
    "answer",
    [
        {**GOOD, "follow_up": None},  # every key is required in strict mode
        {**GOOD, **NULLS, "confidence": 1.5},
        {**GOOD, **NULLS, "category": "insurance"},
        {**GOOD, **NULLS, "mood": "happy"},
        {**GOOD, **NULLS, "confidence": "0.9"},
    ],
)
def test_the_schema_refuses_what_the_contract_does_not_allow(answer):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(answer, schema())


def test_json_object_and_no_format_are_the_fallbacks():
    assert response_format("json_object", ["bank"]) == {"type": "json_object"}
    assert response_format(None, ["bank"]) is None


def test_an_invalid_optional_key_is_dropped_into_the_notes_not_raised():
    notes: list[str] = []
    answer = EngineAnswer.model_validate(
        {**GOOD, "follow_up": {"in": "3 days", "at": "2026-03-09T10:00:00", "why": "x"}},
        context={"now": NOW, "notes": notes},
    )
    assert answer.follow_up is None
    assert notes == ['follow_up ignored: "follow_up" needs exactly one of "in" and "at"']


def test_each_request_names_its_own_categories_without_changing_the_shared_schema():
    first = response_format("json_schema", ["bank", "other"])
    second = response_format("json_schema", ["utilities", "other"])

    assert first["json_schema"]["schema"]["properties"]["category"]["enum"] == ["bank", "other"]
    assert second["json_schema"]["schema"]["properties"]["category"]["enum"] == ["utilities", "other"]

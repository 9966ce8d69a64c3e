"""The Chat Completions engine against a loopback server speaking the real wire format."""

from __future__ import annotations

import json
import logging

import pytest

from ai.base import AIError, ConversationContext, RuleHint, Turn
from ai.engines.openai import OpenAIEngine, parse_answer
from ai.testing import OpenAIStandIn

API_KEY = "sk-test-0123456789abcdef"
CONTEXT = ConversationContext(
    history=(Turn("contact", "Your bill is ready"),),
    contact_name="Acme Mobile",
    owner_name="Ana",
    rules=(RuleHint("cellphone_provider"), RuleHint("utilities"), RuleHint("bank"), RuleHint("spam")),
)


@pytest.fixture
def server():
    with OpenAIStandIn(api_key=API_KEY) as stand_in:
        yield stand_in


@pytest.fixture
def engine(server):
    return OpenAIEngine("openai", api_key=API_KEY, base_url=server.base_url, model="gpt-test", timeout=5.0)


def answer(**fields) -> str:
    return json.dumps(
        {
            "reply": "Thanks, Ana will review the bill.",
            "category": "cellphone_provider",
            "confidence": 0.87,
            "reason": "Mobile provider about a bill.",
            **fields,
        }
    )


def test_a_good_json_answer_becomes_the_reply(server, engine):
    server.respond(answer())
    reply = engine.generate(CONTEXT)
    assert reply.reply == "Thanks, Ana will review the bill."
    assert reply.category == "cellphone_provider"
    assert reply.confidence == pytest.approx(0.87)
    assert reply.reason == "Mobile provider about a bill."
    assert reply.extra["engine"] == "openai"
    assert reply.extra["finish_reason"] == "stop"


def test_the_request_carries_model_messages_json_schema_and_the_bearer_key(server, engine):
    server.respond(answer())
    engine.generate(CONTEXT)
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == "gpt-test"
    response_format = request.body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]
    assert schema["properties"]["category"]["enum"] == [
        "cellphone_provider",
        "utilities",
        "bank",
        "spam",
        "other",
    ]
    assert request.body["temperature"] == pytest.approx(0.2)
    assert [m["role"] for m in request.body["messages"]] == ["system", "user"]
    assert "Your bill is ready" in request.body["messages"][1]["content"]
    assert request.authorization == f"Bearer {API_KEY}"


def test_plain_text_becomes_a_low_confidence_draft_of_that_text(server, engine):
    server.respond("Hello! Ana will get back to you soon.")
    reply = engine.generate(CONTEXT)
    assert reply.reply == "Hello! Ana will get back to you soon."
    assert reply.category == "other"
    assert reply.confidence <= 0.2
    assert "plain text" in reply.reason


def test_broken_json_becomes_a_low_confidence_draft(server, engine):
    server.respond('{"reply": "Thanks, noted.", "category": "bank", "confidence": 0.9, "reason": ')
    reply = engine.generate(CONTEXT)
    assert reply.confidence <= 0.2
    assert reply.category == "other"
    assert reply.reply == "Thanks, noted."
    assert "broken" in reply.reason


def test_truncated_json_without_a_readable_reply_falls_back_to_a_holding_draft(server, engine):
    server.respond('{"reply": "Thanks, no', finish_reason="length")
    reply = engine.generate(CONTEXT)
    assert reply.confidence <= 0.2
    assert "get back to you" in reply.reply


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (json.dumps({"reply": "Hi", "category": "bank", "reason": "r"}), '"confidence" is missing'),
        (
            json.dumps({"reply": "Hi", "category": "bank", "confidence": "high", "reason": "r"}),
            "not a number",
        ),
        (json.dumps({"reply": 42, "category": "bank", "confidence": 0.9, "reason": "r"}), '"reply" is not'),
        (json.dumps({"reply": "Hi", "category": ["bank"], "confidence": 0.9, "reason": "r"}), "not a string"),
        (json.dumps({"reply": "Hi", "category": "bank", "confidence": True, "reason": "r"}), "not a number"),
        (json.dumps(["Hi"]), "not an object"),
    ],
)
def test_missing_keys_and_wrong_types_give_low_confidence_never_an_exception(
    server, engine, content, problem
):
    server.respond(content)
    reply = engine.generate(CONTEXT)
    assert reply.confidence <= 0.2
    assert problem in reply.reason
    assert reply.reply


def test_a_confidence_off_the_scale_is_never_trusted_and_an_unknown_category_becomes_other(server, engine):
    server.respond(answer(confidence=85, category="insurance"))
    reply = engine.generate(CONTEXT)
    assert reply.confidence <= 0.2
    assert "outside 0..1" in reply.reason
    assert reply.category == "other"
    server.respond(answer(confidence=-0.5))
    assert engine.generate(CONTEXT).confidence <= 0.2


def test_a_json_answer_inside_a_code_fence_is_accepted(server, engine):
    server.respond("```json\n" + answer() + "\n```")
    reply = engine.generate(CONTEXT)
    assert reply.confidence == pytest.approx(0.87)


def test_an_empty_answer_is_a_low_confidence_holding_draft(server, engine):
    server.respond("")
    reply = engine.generate(CONTEXT)
    assert reply.confidence <= 0.2
    assert "no text" in reply.reason
    assert "get back to you" in reply.reply


@pytest.mark.parametrize("status", [500, 502, 503, 429, 400, 404])
def test_http_errors_raise_ai_error_naming_the_status(server, engine, status):
    server.fail(status, "Something went wrong upstream.")
    with pytest.raises(AIError, match=f"HTTP {status}"):
        engine.generate(CONTEXT)


def test_a_500_raises_ai_error_after_a_single_request(server, engine):
    server.fail(500)
    with pytest.raises(AIError, match="server error"):
        engine.generate(CONTEXT)
    assert len(server.requests) == 1  # no retries inside the engine: the job retries with backoff


def test_a_rejected_api_key_raises_ai_error_without_revealing_the_key(server, caplog):
    wrong = "sk-wrong-key-that-must-stay-secret"
    engine = OpenAIEngine("openai", api_key=wrong, base_url=server.base_url, model="gpt-test", timeout=5)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AIError, match="HTTP 401") as raised:
        engine.generate(CONTEXT)
    assert wrong not in str(raised.value)
    assert wrong not in caplog.text
    assert wrong not in repr(engine)


def test_a_server_slower_than_the_timeout_raises_ai_error_naming_it(server):
    """The answer (delayed 10 s) would succeed if the timeout were not applied: raising at all proves it was."""
    engine = OpenAIEngine("openai", api_key=API_KEY, base_url=server.base_url, model="gpt-test", timeout=0.3)
    server.respond(answer(), delay=10)
    with pytest.raises(AIError, match=r"within 0\.3s"):
        engine.generate(CONTEXT)


def test_an_unreachable_server_raises_ai_error():
    with OpenAIStandIn() as stand_in:
        base_url = stand_in.base_url  # a port that was just free and is closed again below
    engine = OpenAIEngine("openai", api_key="", base_url=base_url, model="m", timeout=2)
    with pytest.raises(AIError, match="cannot reach"):
        engine.generate(CONTEXT)


def test_a_local_server_with_an_empty_api_key_works():
    with OpenAIStandIn() as local:
        engine = OpenAIEngine("openai", api_key="", base_url=local.base_url, model="llama3.1:8b", timeout=5)
        local.respond(answer())
        reply = engine.generate(CONTEXT)
        assert reply.category == "cellphone_provider"
        (request,) = local.requests
        assert request.body["model"] == "llama3.1:8b"
        assert request.authorization.startswith("Bearer ")


def test_the_client_is_created_once_per_engine(server, engine):
    client = engine.client
    server.respond(answer())
    server.respond(answer())
    engine.generate(CONTEXT)
    engine.generate(CONTEXT)
    assert engine.client is client
    assert engine.client.max_retries == 0


def test_parse_answer_matches_categories_ignoring_case():
    reply = parse_answer(answer(category="Cellphone_Provider"), ["cellphone_provider", "other"])
    assert reply.category == "cellphone_provider"
    assert reply.confidence == pytest.approx(0.87)


def test_parse_answer_treats_non_finite_confidence_as_wrong():
    reply = parse_answer('{"reply": "Hi", "category": "other", "confidence": NaN, "reason": "r"}', ["other"])
    assert reply.confidence <= 0.2


def test_an_empty_reply_with_a_reason_is_a_decision_not_to_reply():
    reply = parse_answer(
        answer(reply="", reason="An automated notice; nothing to answer."), ["cellphone_provider"]
    )

    assert reply.reply == ""
    assert reply.reason == "An automated notice; nothing to answer."
    assert not reply.extra.get("malformed")


def test_an_empty_reply_without_a_reason_is_a_low_confidence_holding_draft():
    reply = parse_answer(answer(reply="", reason=""), ["other"])

    assert reply.reply and reply.extra.get("malformed")
    assert reply.confidence < 0.5


def test_a_server_refusing_the_json_schema_is_asked_for_a_json_object_from_then_on(caplog):
    with OpenAIStandIn(response_formats=("text", "json_object")) as local:
        engine = OpenAIEngine("openai", base_url=local.base_url, model="llama3.1:8b", timeout=5)
        local.respond(answer())
        local.respond(answer(confidence=0.6))
        first = engine.generate(CONTEXT)
        second = engine.generate(CONTEXT)
        kinds = [request.body["response_format"]["type"] for request in local.requests]
    assert (first.confidence, second.confidence) == (pytest.approx(0.87), pytest.approx(0.6))
    assert kinds == ["json_schema", "json_object", "json_object"]
    assert "refused response_format json_schema" in caplog.text


def test_a_server_taking_no_response_format_is_asked_with_the_prompt_alone():
    with OpenAIStandIn(response_formats=("text",), refusal_status=500) as local:
        engine = OpenAIEngine("openai", base_url=local.base_url, model="m", timeout=5)
        local.respond(answer())
        reply = engine.generate(CONTEXT)
        formats = [request.body.get("response_format", {}).get("type") for request in local.requests]
    assert reply.category == "cellphone_provider" and reply.confidence == pytest.approx(0.87)
    assert formats == ["json_schema", "json_object", None]


def test_a_400_not_about_the_response_format_is_not_retried(server, engine):
    server.fail(400, "This model's maximum context length is 8192 tokens.")
    with pytest.raises(AIError, match="HTTP 400"):
        engine.generate(CONTEXT)
    assert len(server.requests) == 1


def test_an_answer_in_the_strict_schemas_shape_with_nulls_is_fully_trusted():
    reply = parse_answer(
        answer(follow_up={"in": "3 days", "at": None, "why": "No answer yet.", "text": None}, promises=None),
        ["cellphone_provider"],
    )
    assert reply.confidence == pytest.approx(0.87)
    assert reply.follow_up is not None and reply.follow_up.text == ""
    assert not reply.extra.get("notes")


def test_an_invalid_optional_key_is_noted_by_name_and_the_reply_keeps_its_confidence():
    reply = parse_answer(answer(promises=[{"what": "a refund"}]), ["cellphone_provider"])
    assert reply.promises == () and reply.confidence == pytest.approx(0.87)
    assert reply.extra["notes"] == ['promises ignored: "promises[0]" needs "in" or "due_at"']
    assert "promises ignored" in reply.reason

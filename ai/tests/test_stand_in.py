"""The loopback stand-in itself speaks the Chat Completions wire format, for any HTTP client."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from ai.testing import OpenAIStandIn


def post(url: str, body: dict, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_a_completion_has_the_chat_completion_shape():
    with OpenAIStandIn() as server:
        server.respond("hello there")
        status, data = post(f"{server.base_url}/chat/completions", BODY)
    assert status == 200
    assert data["object"] == "chat.completion"
    assert data["id"].startswith("chatcmpl-")
    assert isinstance(data["created"], int)
    assert data["model"] == "m"
    (choice,) = data["choices"]
    assert choice["index"] == 0
    assert choice["message"] == {"role": "assistant", "content": "hello there", "refusal": None}
    assert choice["finish_reason"] == "stop"
    usage = data["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_an_error_has_the_openai_error_body():
    with OpenAIStandIn() as server:
        server.fail(503, "Overloaded.")
        status, data = post(f"{server.base_url}/chat/completions", BODY)
    assert status == 503
    assert data["error"]["message"] == "Overloaded."
    assert set(data["error"]) == {"message", "type", "param", "code"}


def test_a_request_without_messages_is_a_400():
    with OpenAIStandIn() as server:
        status, data = post(f"{server.base_url}/chat/completions", {"model": "m"})
    assert status == 400
    assert data["error"]["type"] == "invalid_request_error"


def test_requests_are_recorded_with_headers_and_body():
    with OpenAIStandIn() as server:
        post(f"{server.base_url}/chat/completions", BODY, {"Authorization": "Bearer abc"})
        (request,) = server.requests
    assert request.body == BODY
    assert request.authorization == "Bearer abc"
    assert request.headers["content-type"] == "application/json"


def test_scripted_responses_are_served_in_order_then_the_default():
    with OpenAIStandIn() as server:
        server.respond("one")
        server.respond("two")
        contents = [
            post(f"{server.base_url}/chat/completions", BODY)[1]["choices"][0]["message"]["content"]
            for _ in range(3)
        ]
    assert contents[:2] == ["one", "two"]
    assert json.loads(contents[2])["reply"]


def test_concurrent_requests_each_get_one_scripted_response():
    with OpenAIStandIn() as server:
        for number in range(20):
            server.respond(f"answer {number}")
        results: list[str] = []
        lock = threading.Lock()

        def call() -> None:
            data = post(f"{server.base_url}/chat/completions", BODY)[1]
            with lock:
                results.append(data["choices"][0]["message"]["content"])

        threads = [threading.Thread(target=call) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == sorted(f"answer {n}" for n in range(20))
        assert len(server.requests) == 20
        assert server.pending == 0


def test_base_url_needs_a_running_server():
    server = OpenAIStandIn()
    with pytest.raises(RuntimeError):
        _ = server.base_url


def with_format(response_format: dict, content: str = "Answer in JSON.") -> dict:
    return {
        "model": "m",
        "messages": [{"role": "user", "content": content}],
        "response_format": response_format,
    }


def schema_format(schema: dict) -> dict:
    return {"type": "json_schema", "json_schema": {"name": "answer", "strict": True, "schema": schema}}


@pytest.mark.parametrize(
    ("response_format", "said"),
    [
        (
            schema_format({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}),
            "'additionalProperties' is required",
        ),
        (
            schema_format(
                {
                    "type": "object",
                    "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                    "required": ["a"],
                    "additionalProperties": False,
                }
            ),
            "Missing 'b'",
        ),
        ({"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}, "json_schema.name"),
        ({"type": "yaml"}, "Invalid value: 'yaml'"),
    ],
)
def test_a_response_format_openai_refuses_is_a_400_naming_it(response_format, said):
    with OpenAIStandIn() as server:
        status, data = post(f"{server.base_url}/chat/completions", with_format(response_format))
    assert status == 400
    assert said in data["error"]["message"]
    assert data["error"]["param"].startswith("response_format")


def test_json_object_needs_the_word_json_in_the_messages():
    with OpenAIStandIn() as server:
        refused, data = post(
            f"{server.base_url}/chat/completions", with_format({"type": "json_object"}, "Hi")
        )
        accepted, _ = post(f"{server.base_url}/chat/completions", with_format({"type": "json_object"}))
    assert (refused, data["error"]["param"], accepted) == (400, "messages", 200)


def test_a_server_that_takes_fewer_formats_refuses_the_others_and_keeps_the_scripted_answer():
    nested = {"type": "object", "properties": {}, "required": [], "additionalProperties": False}
    with OpenAIStandIn(response_formats=("text", "json_object")) as server:
        server.respond('{"a": 1}')
        status, data = post(f"{server.base_url}/chat/completions", with_format(schema_format(nested)))
        after, answer = post(f"{server.base_url}/chat/completions", with_format({"type": "json_object"}))
    assert status == 400
    assert (
        data["error"]["message"]
        == 'response_format type must be one of "text" or "json_object", but got: json_schema'
    )
    assert (after, answer["choices"][0]["message"]["content"]) == (200, '{"a": 1}')

"""A loopback stand-in for a Chat Completions server, so the real SDK can be tested without a network.

It speaks the wire format (`POST /v1/chat/completions` -> a `chat.completion` object, OpenAI-style
error bodies) and lets a test script what comes next: an answer, an HTTP error, or a delay. It
checks `response_format` as OpenAI does (a strict JSON schema must list every key as required and
allow no other; `json_object` needs the word "json" in the messages), and can play a server that
refuses some formats, as older Ollama, llama.cpp and vLLM builds do.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ai.prompt import estimate_tokens

#: What the stand-in answers when nothing was scripted: a well-formed, middling reply.
DEFAULT_ANSWER = {
    "reply": "Hello, thank you for your message. I'll pass this on and get back to you.",
    "category": "other",
    "confidence": 0.5,
    "reason": "The stand-in's default answer.",
}

#: The `response_format` types OpenAI takes.
ALL_RESPONSE_FORMATS: tuple[str, ...] = ("text", "json_object", "json_schema")

_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


@dataclass(frozen=True)
class ScriptedResponse:
    """One answer the stand-in will give: `content` for a completion, or `status` >= 400 for an error."""

    content: str | None = None
    status: int = 200
    error_message: str = ""
    error_type: str | None = None
    error_code: str | None = None
    delay: float = 0.0
    finish_reason: str = "stop"
    headers: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ReceivedRequest:
    """What the stand-in received: method, path, headers (lower-cased names) and the JSON body."""

    method: str
    path: str
    headers: dict
    body: object

    @property
    def authorization(self) -> str:
        """The Authorization header as sent, to check the SDK's bearer token."""
        return self.headers.get("authorization", "")


class OpenAIStandIn:
    """A threaded HTTP server on 127.0.0.1 answering like the Chat Completions API; use it in a `with`."""

    def __init__(
        self,
        *,
        model: str = "stand-in-model",
        api_key: str | None = None,
        response_formats: tuple[str, ...] = ALL_RESPONSE_FORMATS,
        refusal_status: int = 400,
    ) -> None:
        self.model = model
        self.api_key = api_key  # when set, requests without "Bearer <api_key>" get a 401
        # The `response_format` types this server takes; others get `refusal_status` naming it.
        self.response_formats = tuple(response_formats)
        self.refusal_status = refusal_status
        self._lock = threading.Lock()
        self._queue: deque[ScriptedResponse] = deque()
        self._requests: list[ReceivedRequest] = []
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._open = threading.Event()  # cleared by hold(): completions wait until release()
        self._open.set()
        self._flight = threading.Condition()
        self._in_flight = 0
        self._peak_in_flight = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> OpenAIStandIn:
        """Bind a free loopback port and serve from a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="openai-stand-in",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; delayed answers still pending are abandoned."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> OpenAIStandIn:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the OS picked, known only once the stand-in runs."""
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """The `base_url` to give the SDK, e.g. http://127.0.0.1:PORT/v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    # --- scripting ----------------------------------------------------------------------------

    def enqueue(self, response: ScriptedResponse) -> None:
        """Give `response` to the next request that has no earlier scripted response."""
        with self._lock:
            self._queue.append(response)

    def respond(self, content: str, *, delay: float = 0.0, finish_reason: str = "stop") -> None:
        """Answer the next completion with `content` verbatim (plain text, broken JSON, anything)."""
        self.enqueue(ScriptedResponse(content=content, delay=delay, finish_reason=finish_reason))

    def respond_json(self, answer: dict | None = None, *, delay: float = 0.0, **fields) -> None:
        """Answer the next completion with a JSON object as content (the default answer, updated)."""
        self.respond(json.dumps({**DEFAULT_ANSWER, **(answer or {}), **fields}), delay=delay)

    def fail(
        self,
        status: int,
        message: str = "",
        *,
        error_type: str | None = None,
        code: str | None = None,
        delay: float = 0.0,
        headers: dict | None = None,
    ) -> None:
        """Answer the next request with an HTTP error and an OpenAI-style error body."""
        default_type, default_code = _ERROR_TYPES.get(status, ("server_error", None))
        self.enqueue(
            ScriptedResponse(
                status=status,
                error_message=message or f"The stand-in was told to fail with {status}.",
                error_type=error_type or default_type,
                error_code=code if code is not None else default_code,
                delay=delay,
                headers=dict(headers or {}),
            )
        )

    def delay_next(self, seconds: float) -> None:
        """Answer the next completion with the default answer, but only after `seconds`."""
        self.respond_json(delay=seconds)

    @property
    def requests(self) -> list[ReceivedRequest]:
        """The requests received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def pending(self) -> int:
        """How many scripted responses are still waiting for a request."""
        with self._lock:
            return len(self._queue)

    # --- serving ------------------------------------------------------------------------------

    def _record(self, request: ReceivedRequest, *, scripted: bool = True) -> ScriptedResponse:
        """Keep the request and take the response scripted for it (the default answer if none)."""
        with self._lock:
            self._requests.append(request)
            if scripted and self._queue:
                return self._queue.popleft()
        return ScriptedResponse(content=json.dumps(DEFAULT_ANSWER))

    def _wait(self, seconds: float) -> None:
        """Sleep (and stay held while `hold()` is on), counted in flight; wake up at once when the stand-in stops."""
        with self._flight:
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
            self._flight.notify_all()
        try:
            if seconds > 0:
                self._stopping.wait(seconds)
            while not self._open.is_set() and not self._stopping.is_set():
                self._open.wait(0.05)
        finally:
            with self._flight:
                self._in_flight -= 1
                self._flight.notify_all()

    # --- calls in flight (concurrency tests and the burst benchmark) ----------------------------

    def hold(self) -> None:
        """Keep every request from now on waiting, unanswered, until `release()`."""
        self._open.clear()

    def release(self) -> None:
        """Answer the held requests (and stop holding)."""
        self._open.set()

    @property
    def in_flight(self) -> int:
        """Requests received and not yet answered."""
        with self._flight:
            return self._in_flight

    @property
    def peak_in_flight(self) -> int:
        """The most requests ever waiting for their answer at once."""
        with self._flight:
            return self._peak_in_flight

    def reset_peak(self) -> None:
        """Count the peak afresh from the calls in flight now (between benchmark cases)."""
        with self._flight:
            self._peak_in_flight = self._in_flight

    def wait_in_flight(self, count: int, timeout: float = 30.0) -> bool:
        """Wait until at least `count` requests wait for their answer at once; false on timeout."""
        with self._flight:
            return self._flight.wait_for(lambda: self._in_flight >= count, timeout=timeout)

    def _completion(self, body: dict, response: ScriptedResponse) -> dict:
        prompt = "".join(str(m.get("content") or "") for m in body.get("messages", []) if isinstance(m, dict))
        prompt_tokens = estimate_tokens(prompt)
        completion_tokens = estimate_tokens(response.content or "")
        with self._lock:
            number = next(self._ids)
        return {
            "id": f"chatcmpl-standin{number:06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model") or self.model),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": response.content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": response.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": "fp_standin",
        }


_SCHEMA_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def _strict_schema_problem(schema: object, context: tuple[str, ...] = ()) -> str | None:
    """What OpenAI's Structured Outputs refuse in a strict schema: an object allowing other keys or
    leaving one out of `required`, anywhere (`$defs`, properties, items, anyOf)."""
    if not isinstance(schema, dict):
        return None
    where = f"In context={context!r}, "
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            return where + "'additionalProperties' is required to be supplied and to be false."
        missing = [key for key in schema.get("properties", {}) if key not in (schema.get("required") or [])]
        if missing:
            return (
                where + "'required' is required to be supplied and to be an array including every key in "
                f"properties. Missing '{missing[0]}'."
            )
    children = [*((("$defs", name), sub) for name, sub in (schema.get("$defs") or {}).items())]
    children += [(("properties", name), sub) for name, sub in (schema.get("properties") or {}).items()]
    children += [(("items",), schema["items"])] if "items" in schema else []
    children += [(("anyOf", str(index)), sub) for index, sub in enumerate(schema.get("anyOf") or [])]
    for path, sub in children:
        if problem := _strict_schema_problem(sub, context + path):
            return problem
    return None


def format_type(body: dict) -> str | None:
    """The `response_format` type a request names, if any."""
    answer_format = body.get("response_format")
    return answer_format.get("type") if isinstance(answer_format, dict) else None


def refusal_message(kind: str, accepted: tuple[str, ...]) -> str:
    """How llama.cpp's server words a format it does not take."""
    allowed = " or ".join(f'"{name}"' for name in accepted)
    return f"response_format type must be one of {allowed}, but got: {kind}"


def check_response_format(body: dict) -> tuple[str, str] | None:
    """Why OpenAI would refuse a request's `response_format`, as (message, param); None when it is fine."""
    if "response_format" not in body:
        return None
    answer_format = body["response_format"]
    kind = format_type(body)
    if kind not in ALL_RESPONSE_FORMATS:
        supported = "'text', 'json_object', and 'json_schema'"
        return f"Invalid value: {kind!r}. Supported values are: {supported}.", "response_format.type"
    if kind == "json_object":
        said = json.dumps(body.get("messages")).lower()
        if "json" not in said:
            message = "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'."
            return message, "messages"
    if kind == "json_schema":
        spec = answer_format.get("json_schema")
        if not isinstance(spec, dict):
            return "Missing required parameter: 'response_format.json_schema'.", "response_format.json_schema"
        name = spec.get("name")
        if not isinstance(name, str) or not _SCHEMA_NAME.fullmatch(name):
            message = "Invalid 'response_format.json_schema.name': expected a string matching '^[a-zA-Z0-9_-]+$' of at most 64 characters."
            return message, "response_format.json_schema.name"
        schema = spec.get("schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            message = f"Invalid schema for response_format '{name}': schema must be a JSON Schema of 'type: \"object\"'."
            return message, "response_format"
        if spec.get("strict") and (problem := _strict_schema_problem(schema)):
            return f"Invalid schema for response_format '{name}': {problem}", "response_format"
    return None


def _format_refusal(body: dict, stand_in: OpenAIStandIn) -> tuple[int, str, str] | None:
    """(status, message, param) when this stand-in refuses the request's `response_format`."""
    kind = format_type(body)
    if kind in ALL_RESPONSE_FORMATS and kind not in stand_in.response_formats:
        return stand_in.refusal_status, refusal_message(kind, stand_in.response_formats), "response_format"
    if refused := check_response_format(body):
        return 400, *refused
    return None


class _Server(ThreadingHTTPServer):
    """One thread per connection, a backlog deep enough for concurrent tests, quick to shut down."""

    daemon_threads = True
    request_queue_size = 128


def _error_body(message: str, error_type: str | None, code: str | None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def _handler_for(stand_in: OpenAIStandIn) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one stand-in."""

    class Handler(BaseHTTPRequestHandler):
        """Serves the few endpoints an SDK client touches, the way the real API answers them."""

        protocol_version = "HTTP/1.1"
        server_version = "OpenAIStandIn/1.0"

        def log_message(self, format: str, *args) -> None:
            """Quiet: tests read `.requests` instead."""

        def _send_json(self, status: int, payload: dict, headers: dict | None = None) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-request-id", f"req_standin_{id(payload):x}")
                for name, value in (headers or {}).items():
                    self.send_header(name, str(value))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (e.g. its timeout): nothing to do

        def _read_body(self) -> tuple[object, bool]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return (json.loads(raw) if raw else None), True
            except ValueError:
                return raw.decode("utf-8", "replace"), False

        def do_GET(self) -> None:
            """`/v1/models` lists the stand-in's model, as some clients check it before chatting."""
            headers = {name.lower(): value for name, value in self.headers.items()}
            stand_in._record(ReceivedRequest("GET", self.path, headers, None), scripted=False)
            if self.path.rstrip("/") == "/v1/models":
                model = {"id": stand_in.model, "object": "model", "created": 0, "owned_by": "stand-in"}
                self._send_json(200, {"object": "list", "data": [model]})
            else:
                self._send_json(404, _error_body(f"Unknown path {self.path}", "invalid_request_error", None))

        def do_POST(self) -> None:
            """`/v1/chat/completions`: record the request, wait if told to, then answer as scripted."""
            body, parsed = self._read_body()
            headers = {name.lower(): value for name, value in self.headers.items()}
            # A request the server refuses for its format leaves the scripted answer to the next one.
            refusal = _format_refusal(body, stand_in) if parsed and isinstance(body, dict) else None
            request = ReceivedRequest("POST", self.path, headers, body)
            response = stand_in._record(request, scripted=refusal is None)
            stand_in._wait(response.delay)
            if stand_in._stopping.is_set():
                self.close_connection = True
                return
            if self.path.split("?")[0].rstrip("/") != "/v1/chat/completions":
                self._send_json(404, _error_body(f"Unknown path {self.path}", "invalid_request_error", None))
                return
            expected = f"Bearer {stand_in.api_key}"
            if stand_in.api_key is not None and headers.get("authorization") != expected:
                message = "Incorrect API key provided. You can find your API key in your account settings."
                self._send_json(401, _error_body(message, "invalid_request_error", "invalid_api_key"))
                return
            if not parsed or not isinstance(body, dict):
                self._send_json(
                    400, _error_body("The body is not valid JSON.", "invalid_request_error", None)
                )
                return
            if not body.get("model") or not isinstance(body.get("messages"), list):
                message = "'model' and 'messages' are required."
                self._send_json(400, _error_body(message, "invalid_request_error", None, "messages"))
                return
            if refusal is not None:
                status, message, param = refusal
                self._send_json(status, _error_body(message, "invalid_request_error", None, param))
                return
            if body.get("stream"):
                message = "The stand-in does not stream."
                self._send_json(400, _error_body(message, "invalid_request_error", None, "stream"))
                return
            if response.status >= 400:
                error = _error_body(response.error_message, response.error_type, response.error_code)
                self._send_json(response.status, error, response.headers)
                return
            self._send_json(200, stand_in._completion(body, response), response.headers)

    return Handler

"""A loopback stand-in of Meta's Graph API messages endpoint, speaking its real wire format.

It lets tests, benchmarks and demos exercise the real HTTP client code without the internet::

    with GraphAPIStandIn(token="test-graph-token") as graph:
        provider = MetaWhatsAppProvider("whatsapp", graph_api_url=graph.url, api_token="test-graph-token")
        provider.send_text(OutboundText(account_address="106540352242922", to="16505551234", text="Hi"))
        assert [sent.text for sent in graph.sent_texts()] == ["Hi"]

`graph.url` is the versioned base (``http://127.0.0.1:<port>/v25.0``): give it to a provider
as its ``graph_api_url`` option, or as the ``WHATSAPP_GRAPH_API_URL`` setting (the provider reads
it when it sends), or to another process (an RQ worker, the dev server) in its environment.
In-process tests that go through `get_provider()` also name the Meta provider in
``CHANNEL_PROVIDERS`` (the ``graph_api`` fixture in the root conftest does both).

What it answers, for ``POST /<version>/<phone_number_id>/messages``:

- a send: ``{"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"|"user_id"}],
  "messages": [{"id": "wamid.<unique>"}]}``;
- a read receipt (``"status": "read"``): ``{"success": true}``;
- a body Meta would refuse (no ``messaging_product``, no recipient, empty or over-long text):
  HTTP 400 with Graph error code 100;
- a wrong bearer token, when the stand-in was given one: HTTP 401 with code 190;
- whatever `fail_next()` asked for, in Graph's error envelope. It applies to sends unless
  told otherwise (``only="read"`` or ``"any"``), so a read receipt sent first does not use it up.

A request held back by `delay_next()` is still processed, as Meta would: a client that timed
out waiting may find that its message went out anyway. Every request is recorded, in order,
in `requests`. All methods are thread-safe; the server runs in a daemon thread.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from channels_app.testing.loopback import LoopbackStandIn

_MESSAGES_PATH = re.compile(r"^/(?P<version>v\d+(?:\.\d+)?)/(?P<phone_number_id>[^/]+)/messages/?$")
_PHONE = re.compile(r"\+?[0-9]{5,20}")
MAX_TEXT_LENGTH = 4096

# Titles and details of the codes tests provoke most; others get a generic text.
_ERRORS: dict[int, tuple[str, str]] = {
    2: ("Service temporarily unavailable", "Temporary downtime or overload. Try again later."),
    4: ("Application request limit reached", "The app has reached its API call rate limit."),
    100: ("Invalid parameter", "A parameter is missing or has a wrong value."),
    190: ("Invalid OAuth access token - Cannot parse access token", "The access token is invalid."),
    80007: ("Rate limit issues", "The WhatsApp Business Account has reached its rate limit."),
    130429: (
        "Rate limit hit",
        "Message failed to send because there were too many messages sent from this phone number "
        "in a short period of time",
    ),
    131000: ("Something went wrong", "Message failed to send due to an unknown error."),
    131016: ("Service unavailable", "A service is temporarily unavailable."),
    131026: (
        "Message Undeliverable",
        "Message failed to send because the recipient is not a WhatsApp user or cannot receive it.",
    ),
    131047: (
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last "
        "replied to this number.",
    ),
    131056: (
        "(Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone number "
        "to the same phone number in a short period of time.",
    ),
    131057: ("Account in maintenance mode", "The business account is in maintenance mode."),
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stand-in received, and what it answered."""

    method: str
    path: str
    phone_number_id: str
    headers: dict[str, str]
    json: Any
    status: int
    response: dict[str, Any] | str
    received_at: float = field(default_factory=time.time)

    @property
    def is_read_receipt(self) -> bool:
        """A mark-as-read call rather than a send."""
        return isinstance(self.json, dict) and self.json.get("status") == "read"

    @property
    def accepted(self) -> bool:
        """Whether Meta would have taken it (HTTP 200)."""
        return self.status == 200


@dataclass(frozen=True)
class SentText:
    """A text message the stand-in accepted: what a contact would see on their phone."""

    phone_number_id: str
    to: str
    text: str
    reply_to: str
    message_id: str
    payload: dict[str, Any]


class GraphAPIStandIn(LoopbackStandIn[RecordedRequest]):
    """Meta's Graph API `/messages` endpoint on 127.0.0.1, for tests and demos."""

    server_version = "GraphAPIStandIn/1"
    thread_name = "graph-api-stand-in"

    def __init__(self, *, token: str | None = None, version: str = "v25.0") -> None:
        super().__init__()
        self.token = token
        self.version = version

    @property
    def url(self) -> str:
        """The versioned base URL, e.g. ``http://127.0.0.1:51234/v25.0``."""
        return f"{super().url}/{self.version}"

    # -- what happened -------------------------------------------------------------------------

    def sent_texts(self) -> list[SentText]:
        """The text messages accepted so far, in arrival order (read receipts and refusals excluded)."""
        return _sent_texts(self.requests)

    def read_receipts(self) -> list[str]:
        """The message ids accepted as read, in arrival order."""
        return [r.json["message_id"] for r in self.requests if r.is_read_receipt and r.accepted]

    def wait_for_sent_texts(self, count: int, timeout: float = 10.0) -> list[SentText]:
        """Block until at least `count` texts were accepted (for work done by other threads or processes)."""
        return self._wait_for(_sent_texts, count, timeout, "sent texts")

    # -- knobs ---------------------------------------------------------------------------------

    def fail_next(
        self,
        code: int,
        *,
        http_status: int = 400,
        times: int = 1,
        details: str | None = None,
        message: str | None = None,
        retry_after: float | str | None = None,
        only: str = "send",
    ) -> None:
        """Refuse the next `times` sends with Graph error `code` (`only`: "read" or "any" to hit receipts)."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        self.respond_next(
            http_status, _error(code, message, details), headers=headers, times=times, only=only
        )

    def respond_next(
        self,
        status: int,
        body: dict[str, Any] | str,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
        only: str = "send",
    ) -> None:
        """Answer the next `times` sends (or `only` "read"/"any") with exactly this; a dict goes as JSON.

        For answers the real API rarely gives: a proxy's HTML 502, a 200 without a message id.
        """
        if only not in ("send", "read", "any"):
            raise ValueError("only must be 'send', 'read' or 'any'")
        self._script(status, body, headers, times, only)

    # -- serving (called from the handler threads) ---------------------------------------------

    def _respond(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[RecordedRequest, dict[str, str]]:
        match = _MESSAGES_PATH.match(path.split("?", 1)[0])
        phone_number_id = match["phone_number_id"] if match else ""
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = None
        status, response, extra = self._answer(method, match, headers, parsed)
        return RecordedRequest(method, path, phone_number_id, headers, parsed, status, response), extra

    def _answer(
        self, method: str, match: re.Match | None, headers: dict[str, str], parsed: Any
    ) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
        if match is None:
            return 404, _error(2500, "Unknown path components", "No such Graph API endpoint."), {}
        if self.token is not None and headers.get("authorization") != f"Bearer {self.token}":
            return 401, _error(190), {}
        if method != "POST":
            return 400, _error(100, "Unsupported get request"), {}
        if not isinstance(parsed, dict):
            return 400, _error(100, details="The request body is not a JSON object."), {}
        kind = "read" if parsed.get("status") == "read" else "send"
        scripted = self._take_scripted(kind)
        if scripted is not None:
            return scripted.status, scripted.body, scripted.headers
        problem = _validate(parsed, kind)
        if problem:
            return 400, _error(100, details=problem), {}
        if kind == "read":
            return 200, {"success": True}, {}
        return 200, _send_response(parsed), {}


def _validate(payload: dict[str, Any], kind: str) -> str:
    """Why Meta would refuse this body, or ""."""
    if payload.get("messaging_product") != "whatsapp":
        return "The parameter messaging_product is required and must be 'whatsapp'."
    if kind == "read":
        return "" if isinstance(payload.get("message_id"), str) else "The parameter message_id is required."
    to, recipient = payload.get("to"), payload.get("recipient")
    if to is None and recipient is None:
        return "The parameter to (or recipient) is required."
    if payload.get("recipient_type") == "group":
        if not (isinstance(to, str) and to.strip()):
            return "The parameter to must be a group id when recipient_type is group."
    elif to is not None and not (isinstance(to, str) and _PHONE.fullmatch(to)):
        return "The parameter to must be a phone number."
    if to is None and not isinstance(recipient, str):
        return "The parameter recipient must be a business-scoped user id."
    if payload.get("type", "text") == "text":
        text = payload.get("text")
        body = text.get("body") if isinstance(text, dict) else None
        if not isinstance(body, str) or not body:
            return "The parameter text['body'] is required."
        if len(body) > MAX_TEXT_LENGTH:
            return f"Param text['body'] must be at most {MAX_TEXT_LENGTH} characters long."
    return ""


def _send_response(payload: dict[str, Any]) -> dict[str, Any]:
    to = payload.get("to")
    message_id = "wamid." + base64.b64encode(b"\x15\x02\x00\x11\x18\x10" + uuid.uuid4().bytes).decode()
    if payload.get("recipient_type") == "group":
        # A group send names the group, not a contact (docs/whatsapp-twilio-wire.md, A4).
        return {"messaging_product": "whatsapp", "messages": [{"id": message_id, "group_id": to}]}
    if to is not None:
        contact = {"input": to, "wa_id": to.lstrip("+")}
    else:
        contact = {"input": payload["recipient"], "user_id": payload["recipient"]}
    return {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": message_id}]}


def _error(code: int, message: str | None = None, details: str | None = None) -> dict[str, Any]:
    """Graph's error envelope, as the real API answers."""
    title, default_details = _ERRORS.get(
        code, ("Something went wrong", "The request could not be processed.")
    )
    return {
        "error": {
            "message": message or f"(#{code}) {title}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details or default_details},
            "fbtrace_id": "A" + secrets.token_urlsafe(16),
        }
    }


def _issued_id(request: RecordedRequest) -> str:
    """The wamid an accepted send was given, or "" (a scripted answer may carry none)."""
    response = request.response
    messages = response.get("messages") if isinstance(response, dict) else None
    first = messages[0] if isinstance(messages, list) and messages else None
    return first.get("id", "") if isinstance(first, dict) else ""


def _is_accepted_text(request: RecordedRequest) -> bool:
    return (
        request.accepted
        and not request.is_read_receipt
        and isinstance(request.json, dict)
        and request.json.get("type", "text") == "text"
        and bool(_issued_id(request))
    )


def _sent_texts(requests: list[RecordedRequest]) -> list[SentText]:
    return [_sent_text(request) for request in requests if _is_accepted_text(request)]


def _sent_text(request: RecordedRequest) -> SentText:
    payload = request.json
    context = payload.get("context") if isinstance(payload.get("context"), dict) else {}
    return SentText(
        phone_number_id=request.phone_number_id,
        to=payload.get("to") or payload.get("recipient") or "",
        text=text.get("body", "") if isinstance(text := payload.get("text"), dict) else "",
        reply_to=context.get("message_id", ""),
        message_id=_issued_id(request),
        payload=payload,
    )

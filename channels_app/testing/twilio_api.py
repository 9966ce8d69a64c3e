"""A loopback stand-in of Twilio's REST API Messages resource, speaking its real wire format.

It lets tests, benchmarks and demos drive the real `twilio` SDK without the internet::

    with TwilioAPIStandIn(account_sid="AC...", auth_token="secret") as twilio_api:
        provider = TwilioWhatsAppProvider(
            "twilio", account_sid="AC...", auth_token="secret", api_base_url=twilio_api.url
        )
        provider.send_text(OutboundText(account_address="+14155238886", to="15551230001", text="Hi"))
        assert [sent.body for sent in twilio_api.sent_messages()] == ["Hi"]

`twilio_api.url` (``http://127.0.0.1:<port>``) replaces ``https://api.twilio.com``: give it to a
provider as its ``api_base_url`` option, or to another process as ``TWILIO_API_BASE_URL``.

What it answers, for ``POST /2010-04-01/Accounts/<AccountSid>/Messages.json`` (a form):

- a message Twilio would take: HTTP 201 with the Message resource (``"status": "queued"``,
  a fresh ``SM...`` SID);
- one it would refuse (no ``To``, no ``From``, nothing to send, a body over 1600 characters,
  a WhatsApp sender writing to a non-WhatsApp address, a malformed Content SID): HTTP 400
  with Twilio's error body ``{"code", "message", "more_info", "status"}``;
- wrong or missing basic auth (when the stand-in was given credentials): HTTP 401, code 20003;
- whatever `fail_next()` or `respond_next()` asked for.

Twilio reports most WhatsApp failures later, in the status callback (63016 outside the
window): `status_callback()` builds that form for a message the stand-in accepted, for a test
to sign and post to `/webhook/twilio/status`. A request held back by `delay_next()` is still
processed, as Twilio would. Every request is recorded, in order; all methods are thread-safe.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

from channels_app.testing.loopback import LoopbackStandIn
from channels_app.twilio.payloads import status_params

API_VERSION = "2010-04-01"
MAX_BODY_LENGTH = 1600
_MESSAGES_PATH = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account_sid>[^/]+)/Messages\.json$")
_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")

# Messages of the codes tests provoke most; others get a generic text.
_ERRORS: dict[int, str] = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "Invalid 'To' Phone Number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21656: "The ContentSid is Invalid.",
    21910: "Invalid From and To pair. From and To should be of the same channel.",
    63016: "Failed to send freeform message because you are outside the allowed window. "
    "If you are using WhatsApp, please use a Message Template.",
    63018: "Rate limit exceeded for Channel",
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stand-in received, and what it answered."""

    method: str
    path: str
    account_sid: str
    headers: dict[str, str]
    form: dict[str, str]
    status: int
    response: dict[str, Any] | str
    received_at: float = field(default_factory=time.time)

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        """The (username, password) of the Authorization header, if it is basic auth."""
        scheme, _, encoded = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return None
        return user, password

    @property
    def accepted(self) -> bool:
        """Whether Twilio would have queued the message (HTTP 201)."""
        return self.status == 201


@dataclass(frozen=True)
class SentMessage:
    """A message the stand-in accepted: what Twilio would deliver."""

    account_sid: str
    to: str
    from_: str
    body: str
    content_sid: str
    content_variables: str
    status_callback: str
    sid: str
    form: dict[str, str]


class TwilioAPIStandIn(LoopbackStandIn[RecordedRequest]):
    """Twilio's Messages resource on 127.0.0.1, for tests and demos.

    Its `url` (``http://127.0.0.1:<port>``) is the base URL that replaces ``https://api.twilio.com``.
    """

    server_version = "TwilioAPIStandIn/1"
    json_content_type = "application/json; charset=utf-8"
    thread_name = "twilio-api-stand-in"

    def __init__(self, *, account_sid: str | None = None, auth_token: str | None = None) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token

    # -- what happened -------------------------------------------------------------------------

    def sent_messages(self) -> list[SentMessage]:
        """The messages accepted so far, in arrival order (refusals excluded)."""
        return _sent_messages(self.requests)

    def wait_for_sent(self, count: int, timeout: float = 10.0) -> list[SentMessage]:
        """Block until at least `count` messages were accepted (for work done by other threads or processes)."""
        return self._wait_for(_sent_messages, count, timeout, "sent messages")

    def status_callback(self, sid: str, status: str, *, error_code: str = "") -> dict[str, str]:
        """The form Twilio would post to the message's StatusCallback when it reaches `status`."""
        sent = next((message for message in self.sent_messages() if message.sid == sid), None)
        if sent is None:
            raise KeyError(f"the stand-in accepted no message {sid}")
        return status_params(
            message_sid=sid,
            status=status,
            sender=sent.from_,
            to=sent.to,
            error_code=error_code,
            account_sid=sent.account_sid,
        )

    # -- knobs ---------------------------------------------------------------------------------

    def fail_next(
        self, code: int, *, http_status: int = 400, times: int = 1, message: str | None = None
    ) -> None:
        """Refuse the next `times` requests with Twilio error `code` (429 and 5xx are up to the caller)."""
        self.respond_next(http_status, _error(code, http_status, message), times=times)

    def respond_next(
        self,
        status: int,
        body: dict[str, Any] | str,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` requests with exactly this; a dict goes as JSON.

        For answers the real API rarely gives: a proxy's HTML 502, a 201 that is not JSON.
        """
        self._script(status, body, headers, times)

    # -- serving (called from the handler threads) ---------------------------------------------

    def _respond(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[RecordedRequest, dict[str, str]]:
        match = _MESSAGES_PATH.match(path.split("?", 1)[0])
        form = {
            key: values[-1]
            for key, values in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()
        }
        status, response, extra = self._answer(method, match, headers, form)
        account_sid = match["account_sid"] if match else ""
        return RecordedRequest(method, path, account_sid, headers, form, status, response), extra

    def _answer(
        self, method: str, match: re.Match | None, headers: dict[str, str], form: dict[str, str]
    ) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
        if match is None:
            return 404, _error(20404, 404), {}
        if not self._authorized(match["account_sid"], headers):
            return 401, _error(20003, 401), {}
        if method != "POST":
            return 405, _error(20004, 405, "Method not allowed"), {}
        scripted = self._take_scripted()
        if scripted is not None:
            return scripted.status, scripted.body, scripted.headers
        code = _refusal(form)
        if code:
            return 400, _error(code, 400), {}
        return 201, _message_resource(match["account_sid"], form), {}

    def _authorized(self, account_sid: str, headers: dict[str, str]) -> bool:
        if self.account_sid is None and self.auth_token is None:
            return True
        scheme, _, encoded = headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return (
            scheme.lower() == "basic"
            and user == account_sid
            and user == (self.account_sid or user)
            and password == (self.auth_token or password)
        )


def _refusal(form: dict[str, str]) -> int:
    """The Twilio error code this form would be refused with, or 0."""
    to, sender = form.get("To", ""), form.get("From", "")
    if not to:
        return 21604
    if not sender and not form.get("MessagingServiceSid"):
        return 21603
    body, content_sid = form.get("Body", ""), form.get("ContentSid", "")
    if not body and not content_sid and not form.get("MediaUrl"):
        return 21602
    if len(body) > MAX_BODY_LENGTH:
        return 21617
    if content_sid and not _CONTENT_SID.fullmatch(content_sid):
        return 21656
    if sender.startswith("whatsapp:") != to.startswith("whatsapp:"):
        return 21910
    return 0


def _message_resource(account_sid: str, form: dict[str, str]) -> dict[str, Any]:
    """The Message resource Twilio answers a create with (201)."""
    sid = "SM" + uuid.uuid4().hex
    now = formatdate(usegmt=True).replace("GMT", "+0000")
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
    return {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": form.get("Body", ""),
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": form.get("From"),
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": None,
        "sid": sid,
        "status": "queued",
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": form.get("To"),
        "uri": f"{uri}.json",
    }


def _error(code: int, status: int, message: str | None = None) -> dict[str, Any]:
    """Twilio's REST error body."""
    return {
        "code": code,
        "message": message or _ERRORS.get(code, "The request could not be processed."),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _is_accepted(request: RecordedRequest) -> bool:
    response = request.response
    return request.accepted and isinstance(response, dict) and bool(response.get("sid"))


def _sent_messages(requests: list[RecordedRequest]) -> list[SentMessage]:
    return [_sent(request) for request in requests if _is_accepted(request)]


def _sent(request: RecordedRequest) -> SentMessage:
    form = request.form
    return SentMessage(
        account_sid=request.account_sid,
        to=form.get("To", ""),
        from_=form.get("From", ""),
        body=form.get("Body", ""),
        content_sid=form.get("ContentSid", ""),
        content_variables=form.get("ContentVariables", ""),
        status_callback=form.get("StatusCallback", ""),
        sid=str(request.response["sid"]) if isinstance(request.response, dict) else "",
        form=form,
    )

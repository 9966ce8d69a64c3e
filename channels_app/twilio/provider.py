"""Sending WhatsApp messages through Twilio's Programmable Messaging API with the `twilio` SDK.

Every send names our status-callback URL, so delivery receipts (and late failures such as
63016, outside the 24-hour window) reach `/webhook/twilio/status`. Failures become a
`SendFailure` classified the way the sending service expects: rate limits, Twilio-side
errors and failures to connect are retried; an answer that never came is not (Twilio may
have queued the message); 63016 marks the closed window; the rest is permanent. `TWILIO_API_BASE_URL` points the SDK at another host (a loopback stand-in in
tests and staging). The auth token goes only into the SDK's basic auth and is never logged.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from typing import Any

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from channels_app.twilio.addresses import WHATSAPP_PREFIX, whatsapp_address
from channels_app.twilio.errors import WINDOW_CLOSED_CODE
from conversations.models import GROUP_ADDRESS_PREFIX
from conversations.phones import e164
from conversations.providers import ChannelProvider, OutboundTemplate, OutboundText, SendFailure, SendReceipt

logger = logging.getLogger(__name__)

#: Where Twilio posts delivery receipts; the path is part of the HTTP contract (docs/architecture.md).
STATUS_CALLBACK_PATH = "/webhook/twilio/status"
#: Too many requests (the REST API's and the WhatsApp sender's limits): try again later.
RATE_LIMIT_CODES = frozenset({20429, 63018})
_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
#: A number however it is spelled ("+15551230001", "1 (555) 123-0001"), not a user id ("US.1234").
_CREATE_PREFIX = "Unable to create record: "


class TwilioWhatsAppProvider(ChannelProvider):
    """The outbound side of WhatsApp through Twilio."""

    #: Twilio's documented limit for a message body.
    max_text_length = 1600

    def __init__(self, alias: str = "twilio", **options: Any) -> None:
        super().__init__(alias, **options)
        self._client: Client | None = None
        self._client_pid = 0
        self._built_from: tuple = ()
        self._lock = threading.Lock()

    def send_text(self, message: OutboundText) -> SendReceipt:
        """Hand one free-form text to Twilio; the receipt's SID is what status callbacks refer to."""
        if not message.text.strip():
            raise SendFailure("refusing to send an empty text", code="empty_text")
        if len(message.text) > self.max_text_length:
            raise SendFailure(
                f"text is {len(message.text)} characters, Twilio allows {self.max_text_length}",
                code="text_too_long",
            )
        return self._create(message.account_address, _recipient(message), body=message.text)

    def send_template(self, message: OutboundTemplate) -> SendReceipt:
        """Send an approved content template by its Content SID: allowed after the window closed."""
        content_sid = message.template.strip()
        if not content_sid:
            raise SendFailure("no re-engagement template is configured", code="no_template")
        if not _CONTENT_SID.fullmatch(content_sid):
            raise SendFailure(
                f"{content_sid[:40]!r} is not a Twilio Content SID (HX followed by 32 hex digits)",
                code="invalid_template",
            )
        fields: dict[str, Any] = {"content_sid": content_sid}
        if message.variables:
            fields["content_variables"] = json.dumps(dict(message.variables))
        return self._create(message.account_address, _recipient(message), **fields)

    def close(self) -> None:
        """Release the connection pool (tests and shutdown hooks)."""
        with self._lock:
            client, self._client = self._client, None
        session = getattr(client.http_client, "session", None) if client is not None else None
        if session is not None:
            session.close()

    # -- plumbing ------------------------------------------------------------------------------

    def _option(self, name: str, setting: str) -> Any:
        """A value given to the constructor (tests, an old GATEKEEPER_PROVIDERS), else the setting read now."""
        value = self.options.get(name)
        return value if value not in (None, "") else getattr(settings, setting)

    def _twilio(self) -> Client:
        """One SDK client per provider, with an explicit timeout; recreated in a forked worker, or when
        the TWILIO_* settings it was built from changed (they are read at call time, like Meta's)."""
        with self._lock:
            built_from = self._client_settings()
            if self._client is None or self._client_pid != os.getpid() or self._built_from != built_from:
                self._client = self._build_client()
                self._client_pid = os.getpid()
                self._built_from = built_from
            return self._client

    def _client_settings(self) -> tuple:
        return tuple(
            self._option(name, setting)
            for name, setting in (
                ("account_sid", "TWILIO_ACCOUNT_SID"),
                ("auth_token", "TWILIO_AUTH_TOKEN"),
                ("api_base_url", "TWILIO_API_BASE_URL"),
                ("timeout", "OUTBOUND_HTTP_TIMEOUT"),
            )
        )

    def _build_client(self) -> Client:
        account_sid = self._option("account_sid", "TWILIO_ACCOUNT_SID")
        auth_token = self._option("auth_token", "TWILIO_AUTH_TOKEN")
        if not account_sid or not auth_token:
            raise SendFailure("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set", code="not_configured")
        timeout = float(self._option("timeout", "OUTBOUND_HTTP_TIMEOUT"))
        client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
        base_url = str(self._option("api_base_url", "TWILIO_API_BASE_URL") or "").rstrip("/")
        if base_url:
            # The API domain's base URL is what every Messages request is built on (twilio/base/domain.py);
            # an edge or region (TWILIO_EDGE / TWILIO_REGION) would rewrite the host, so none is used.
            client.api.base_url = base_url
            client.edge = client.region = None
        return client

    def _create(self, account_address: str, to: str, **fields: Any) -> SendReceipt:
        """POST one message to Twilio's Messages resource and return its SID."""
        sender = whatsapp_address(account_address)
        recipient = to if to.startswith(WHATSAPP_PREFIX) else whatsapp_address(to)
        if not sender:
            raise SendFailure("no Twilio WhatsApp number to send from", code="no_account")
        if not recipient:
            raise SendFailure("message has no recipient phone number", code="no_recipient")
        client = self._twilio()
        try:
            created = client.messages.create(
                to=recipient,
                from_=sender,
                status_callback=f"{settings.PUBLIC_BASE_URL}{STATUS_CALLBACK_PATH}",
                **fields,
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            failure = classify_error(exc)
            logger.warning(
                "Twilio send from %s refused: HTTP %s, code %s, retryable=%s, window_closed=%s",
                account_address,
                exc.status,
                failure.code or "-",
                failure.retryable,
                failure.window_closed,
            )
            raise failure from exc
        except requests.ReadTimeout as exc:
            # The request reached Twilio, which may have queued it: another try could deliver it twice.
            logger.warning("Twilio send from %s got no answer in time (ReadTimeout)", account_address)
            raise SendFailure(
                "Twilio API did not answer in time; the message may have been sent, so it is not sent again",
                code="timeout",
            ) from exc
        except requests.Timeout as exc:
            logger.warning("Twilio send from %s timed out (%s)", account_address, type(exc).__name__)
            raise SendFailure(
                f"Twilio API timed out ({type(exc).__name__})", code="timeout", retryable=True
            ) from exc
        except requests.RequestException as exc:
            logger.warning("Twilio send from %s failed: %s", account_address, type(exc).__name__)
            raise SendFailure(
                f"Twilio API unreachable ({type(exc).__name__})", code="network", retryable=True
            ) from exc
        except ValueError as exc:
            # A 2xx whose body is not the message resource: Twilio may have queued it, so no retry.
            raise SendFailure(
                "Twilio accepted the send but its answer was unreadable", code="bad_response"
            ) from exc
        sid = getattr(created, "sid", None)
        if not isinstance(sid, str) or not sid:
            raise SendFailure("Twilio accepted the send but returned no message SID", code="bad_response")
        return SendReceipt(provider_message_id=sid)


def _recipient(message: OutboundText | OutboundTemplate) -> str:
    """`whatsapp:+<number>` when the number is known, else `whatsapp:<user id>` (`whatsapp:US.1234`).

    Groups are not reachable through Twilio: refused rather than sent to a member privately.
    """
    if message.to_group or message.to.startswith(GROUP_ADDRESS_PREFIX):
        raise SendFailure("Twilio cannot send to a WhatsApp group", code="group_unsupported")
    to = message.to.strip()
    to = to[len(WHATSAPP_PREFIX) :] if to.lower().startswith(WHATSAPP_PREFIX) else to
    if phone := e164(message.to_phone) or e164(to):
        return whatsapp_address(phone)
    user_id = (message.to_user_id or to).strip()
    return f"{WHATSAPP_PREFIX}{user_id}" if user_id else ""


def classify_error(exc: TwilioRestException | TwilioServiceException) -> SendFailure:
    """The SendFailure a refused request means: decided by Twilio's error code, then by HTTP status."""
    status = int(exc.status or 0)
    raw_code = exc.code
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    if code is None and isinstance(raw_code, str) and raw_code.isdigit():
        code = int(raw_code)
    # Without a Twilio code in the body, the SDK reports the HTTP status as the code.
    code_text = str(code) if code is not None and code != status else f"http_{status}"
    detail = _detail(exc) or f"HTTP {status} from the Twilio API"
    if code == WINDOW_CLOSED_CODE:
        return SendFailure(detail, code=code_text, window_closed=True)
    if code in RATE_LIMIT_CODES or status == 429 or status >= 500:
        return SendFailure(detail, code=code_text, retryable=True)
    return SendFailure(detail, code=code_text)


def _detail(exc: TwilioRestException | TwilioServiceException) -> str:
    if isinstance(exc, TwilioServiceException):
        return ": ".join(part for part in (exc.title, exc.detail) if part)
    message = str(exc.msg or "")
    # The SDK prefixes Twilio's message; without one (a proxy's HTML page) only the prefix is left.
    return "" if message == _CREATE_PREFIX.rstrip(": ") else message.removeprefix(_CREATE_PREFIX)

"""Sending through Meta's Graph API: texts, contextual replies, templates and read receipts.

Failures are classified by the Graph `error.code` (Meta deprecates titles, and HTTP
statuses for the same code differ between sources), never by HTTP status when a code is
present. The access token is sent only in the Authorization header and never logged.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings

from channels_app.whatsapp.errors import WINDOW_CLOSED_CODE
from conversations.models import GROUP_ADDRESS_PREFIX
from conversations.phones import e164
from conversations.providers import ChannelProvider, OutboundTemplate, OutboundText, SendFailure, SendReceipt

logger = logging.getLogger(__name__)

#: Throughput limits (per number, per pair of numbers, per app, per WABA): try again later.
RATE_LIMIT_CODES = frozenset({130429, 131056, 4, 80007})
#: Meta-side trouble (unknown error, service unavailable, downtime, maintenance mode).
TRANSIENT_CODES = frozenset({131000, 131016, 2, 131057})
#: Not a WhatsApp user, or one who cannot receive this message: sending again will not help.
UNDELIVERABLE_CODE = 131026
_KNOWN_CODES = RATE_LIMIT_CODES | TRANSIENT_CODES | {WINDOW_CLOSED_CODE, UNDELIVERABLE_CODE}

#: A phone number, possibly spelled with spaces or dashes; a user id (`US.1349…`) never matches.


class MetaWhatsAppProvider(ChannelProvider):
    """The outbound side of WhatsApp through the Meta Cloud API."""

    max_text_length = 4096

    def __init__(self, alias: str = "whatsapp", **options: Any) -> None:
        super().__init__(alias, **options)
        self._client: httpx.Client | None = None
        self._client_pid = 0
        self._lock = threading.Lock()

    def send_text(self, message: OutboundText) -> SendReceipt:
        """Hand one text to Meta; the receipt's id is what later status webhooks refer to."""
        if not message.text.strip():
            raise SendFailure("refusing to send an empty text", code="empty_text")
        if len(message.text) > self.max_text_length:
            raise SendFailure(
                f"text is {len(message.text)} characters, WhatsApp allows {self.max_text_length}",
                code="text_too_long",
            )
        payload: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
        payload.update(recipient_fields(message.to, message.to_phone, message.to_user_id, message.to_group))
        if message.reply_to_provider_id:
            payload["context"] = {"message_id": message.reply_to_provider_id}
        payload["type"] = "text"
        payload["text"] = {"preview_url": False, "body": message.text}
        return _receipt(self._post(message.account_address, payload, action="send"))

    def send_template(self, message: OutboundTemplate) -> SendReceipt:
        """Send an approved message template by name and language: allowed after the 24-hour window closed."""
        name = message.template.strip()
        if not name:
            raise SendFailure("no re-engagement template is configured", code="no_template")
        template: dict[str, Any] = {"name": name, "language": {"code": message.language.strip() or "en_US"}}
        if message.variables:
            parameters = [{"type": "text", "text": value} for _, value in message.variables]
            template["components"] = [{"type": "body", "parameters": parameters}]
        payload: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
        payload.update(recipient_fields(message.to, message.to_phone, message.to_user_id, message.to_group))
        payload["type"] = "template"
        payload["template"] = template
        return _receipt(self._post(message.account_address, payload, action="template"))

    def mark_read(self, *, account_address: str, provider_message_id: str) -> None:
        """Show the contact blue ticks on their message (and on earlier ones in the thread)."""
        payload = {"messaging_product": "whatsapp", "status": "read", "message_id": provider_message_id}
        self._post(account_address, payload, action="mark_read")

    def close(self) -> None:
        """Release the connection pool (tests and shutdown hooks)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- plumbing ------------------------------------------------------------------------------

    def _option(self, name: str, setting: str) -> Any:
        """A value given to the constructor (tests, an old GATEKEEPER_PROVIDERS), else the setting read now."""
        value = self.options.get(name)
        return value if value not in (None, "") else getattr(settings, setting)

    def _http(self) -> httpx.Client:
        """One pooled client per provider, recreated in a forked worker process."""
        with self._lock:
            if self._client is None or self._client_pid != os.getpid():
                timeout = float(self._option("timeout", "OUTBOUND_HTTP_TIMEOUT"))
                self._client = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False)
                self._client_pid = os.getpid()
            return self._client

    def _post(self, account_address: str, payload: dict[str, Any], *, action: str) -> dict[str, Any]:
        if not account_address:
            raise SendFailure("no phone_number_id to send from", code="no_account")
        base_url = str(self._option("graph_api_url", "WHATSAPP_GRAPH_API_URL")).rstrip("/")
        token = self._option("api_token", "WHATSAPP_API_TOKEN")
        url = f"{base_url}/{account_address}/messages"
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            response = self._http().post(url, json=payload, headers=headers)
        except httpx.ReadTimeout as exc:
            # The request reached Meta, which may have sent it: another try could deliver it twice.
            logger.warning("WhatsApp %s from %s got no answer in time (ReadTimeout)", action, account_address)
            raise SendFailure(
                "Graph API did not answer in time; the message may have been sent, so it is not sent again",
                code="timeout",
                retryable=False,
            ) from exc
        except httpx.TimeoutException as exc:
            logger.warning("WhatsApp %s from %s timed out (%s)", action, account_address, type(exc).__name__)
            raise SendFailure(
                f"Graph API timed out ({type(exc).__name__})", code="timeout", retryable=True
            ) from exc
        except httpx.HTTPError as exc:
            logger.warning("WhatsApp %s from %s failed: %s", action, account_address, type(exc).__name__)
            raise SendFailure(
                f"Graph API unreachable ({type(exc).__name__})", code="network", retryable=True
            ) from exc

        data = _json_object(response)
        if response.is_success:
            return data
        failure = classify_error(response.status_code, data, retry_after=_retry_after(response))
        logger.warning(
            "WhatsApp %s from %s refused: HTTP %s, code %s, retryable=%s, window_closed=%s",
            action,
            account_address,
            response.status_code,
            failure.code or "-",
            failure.retryable,
            failure.window_closed,
        )
        raise failure


def _receipt(data: dict[str, Any]) -> SendReceipt:
    """The wamid of an accepted send; a success without one is not retried (it may have gone out)."""
    messages = data.get("messages")
    first = messages[0] if isinstance(messages, list) and messages else None
    message_id = first.get("id") if isinstance(first, dict) else None
    if not isinstance(message_id, str) or not message_id:
        raise SendFailure("Graph API accepted the send but returned no message id", code="bad_response")
    return SendReceipt(provider_message_id=message_id)


def recipient_fields(to: str, to_phone: str = "", to_user_id: str = "", to_group: str = "") -> dict[str, str]:
    """Who receives a send: a group as a group; else `to` in E.164 with a "+" when a phone number
    is known, else `recipient`, the business-scoped user id (never read as a phone number)."""
    if to_group:
        return {"recipient_type": "group", "to": to_group}
    if (to or "").startswith(GROUP_ADDRESS_PREFIX):
        raise SendFailure("a group is addressed by its group id only", code="no_recipient")
    if phone := e164(to_phone) or e164(to):
        return {"to": phone}
    if user_id := (to_user_id or to or "").strip():
        return {"recipient": user_id}
    raise SendFailure("message has no recipient", code="no_recipient")


def classify_error(
    status_code: int, data: dict[str, Any], *, retry_after: float | None = None
) -> SendFailure:
    """The SendFailure a Graph error response means, decided by `error.code`."""
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    raw_code = error.get("code")
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    if code is None and isinstance(raw_code, str) and raw_code.isdigit():
        code = int(raw_code)
    detail = _error_detail(error) or f"HTTP {status_code} from the Graph API"
    code_text = str(code) if code is not None else f"http_{status_code}"

    if code in RATE_LIMIT_CODES or code in TRANSIENT_CODES:
        return SendFailure(detail, code=code_text, retryable=True, retry_after=retry_after)
    if code == WINDOW_CLOSED_CODE:
        return SendFailure(
            detail, code=code_text, retryable=False, window_closed=True, retry_after=retry_after
        )
    if (status_code >= 500 or status_code == 429) and code not in _KNOWN_CODES:
        # No code we know: a Meta outage or a proxy in between, worth another try.
        return SendFailure(detail, code=code_text, retryable=True, retry_after=retry_after)
    return SendFailure(detail, code=code_text, retryable=False, retry_after=retry_after)


def _error_detail(error: dict[str, Any]) -> str:
    message = error.get("message") if isinstance(error.get("message"), str) else ""
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else None
    details = details if isinstance(details, str) else ""
    if message and details and details not in message:
        return f"{message}: {details}"
    return message or details


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())

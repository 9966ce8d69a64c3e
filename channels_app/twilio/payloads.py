"""Building Twilio's webhook forms exactly as Twilio posts them: for demos and tests."""

from __future__ import annotations

import uuid

from channels_app.twilio.addresses import whatsapp_address
from conversations.phones import digits

#: Twilio's placeholder account in docs and tests; a real one is "AC" and 32 hex digits.
TEST_ACCOUNT_SID = "AC" + "0" * 32


def new_sid(prefix: str = "SM") -> str:
    """A fresh 34-character SID of the given kind (SM message, MM media message)."""
    return prefix + uuid.uuid4().hex


def inbound_text_params(
    *,
    to: str,
    sender: str,
    text: str,
    name: str = "",
    message_sid: str | None = None,
    account_sid: str = TEST_ACCOUNT_SID,
) -> dict[str, str]:
    """One inbound WhatsApp text to our Twilio number `to`, with the parameters Twilio sends."""
    sid = message_sid or new_sid()
    return {
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ProfileName": name,
        "MessageType": "text",
        "SmsSid": sid,
        "WaId": digits(sender),
        "SmsStatus": "received",
        "Body": text,
        "To": whatsapp_address(to),
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": whatsapp_address(sender),
        "ApiVersion": "2010-04-01",
    }


def status_params(
    *,
    message_sid: str,
    status: str,
    sender: str,
    to: str,
    error_code: str = "",
    account_sid: str = TEST_ACCOUNT_SID,
) -> dict[str, str]:
    """The status callback Twilio posts for a message our number `sender` sent to `to`."""
    params = {
        "SmsSid": message_sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "ChannelToAddress": f"+{digits(to)}",
        "To": whatsapp_address(to),
        "ChannelPrefix": "whatsapp",
        "MessageSid": message_sid,
        "AccountSid": account_sid,
        "StructuredMessage": "false",
        "From": whatsapp_address(sender),
        "ApiVersion": "2010-04-01",
        "ChannelInstallSid": "XE" + "0" * 32,
    }
    if status in ("delivered", "read"):
        params["EventType"] = status.upper()
    if error_code:
        params["ErrorCode"] = error_code
    return params

"""Twilio's voice webhook forms, read into the domain's normalized call events (`conversations.calls`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from conversations.calls import CallEvent, SpeechTurn
from conversations.phones import digits, e164

#: A call's SID: "CA" and 32 hex digits. Anything else is not a call Twilio placed.
CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")

#: Numbers Twilio sends for a caller who withheld theirs ("anonymous", "+266696687", ...) have few digits.
MIN_CALLER_DIGITS = 5


class CallPayloadError(ValueError):
    """The form is not a Twilio voice webhook; answered with polite TwiML, never a 500."""


def _value(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name, "")
    return str(value).strip() if value is not None else ""


def parse_event(params: Mapping[str, Any]) -> CallEvent:
    """Whose call, on which number: CallSid, To (the owner's number) and From (the caller)."""
    sid, to = _value(params, "CallSid"), _value(params, "To")
    if not CALL_SID.match(sid):
        raise CallPayloadError("not a Twilio call: CallSid must be CA and 32 hex digits")
    if not digits(to):
        raise CallPayloadError(f"call {sid}: To names no number")
    caller = digits(_value(params, "From"))
    withheld = len(caller) < MIN_CALLER_DIGITS
    return CallEvent(
        call_sid=sid,
        account_address=e164(to),
        caller_address="anonymous" if withheld else caller,
        caller_phone="" if withheld else caller,
        caller_name=_value(params, "CallerName"),
        status=_value(params, "CallStatus").lower(),
    )


def _positive(value: str, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def parse_turn(params: Mapping[str, Any], query: Mapping[str, Any]) -> SpeechTurn:
    """A `<Gather>` result: SpeechResult and Confidence, and the turn and try our action URL named."""
    try:
        confidence: float | None = float(_value(params, "Confidence"))
    except ValueError:
        confidence = None
    return SpeechTurn(
        event=parse_event(params),
        turn=_positive(_value(query, "turn"), 1),
        attempt=_positive(_value(query, "attempt"), 1),
        speech=_value(params, "SpeechResult"),
        confidence=confidence,
    )


def parse_duration(params: Mapping[str, Any]) -> int | None:
    """CallDuration in seconds, when the status callback carries one."""
    value = _value(params, "CallDuration")
    return int(value) if value.isdigit() else None

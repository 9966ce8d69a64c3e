"""Twilio's voice webhook forms as Twilio posts them: for tests, the inbound simulator and the bench."""

from __future__ import annotations

from channels_app.twilio.payloads import TEST_ACCOUNT_SID, new_sid


def new_call_sid() -> str:
    """A fresh CallSid: CA and 32 hex digits."""
    return new_sid("CA")


def call_params(
    *,
    call_sid: str,
    to: str,
    caller: str,
    status: str = "ringing",
    caller_name: str = "",
    account_sid: str = TEST_ACCOUNT_SID,
) -> dict[str, str]:
    """The form of an incoming call to our number `to` from `caller` (both +E.164)."""
    params = {
        "AccountSid": account_sid,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": status,
        "Called": to,
        "Caller": caller,
        "Direction": "inbound",
        "From": caller,
        "To": to,
    }
    if caller_name:
        params["CallerName"] = caller_name
    return params


def gather_params(
    *, call_sid: str, to: str, caller: str, speech: str, confidence: float = 0.92, **options: str
) -> dict[str, str]:
    """A `<Gather input="speech">` result; without `speech`, a Gather that heard nothing."""
    params = call_params(call_sid=call_sid, to=to, caller=caller, status="in-progress", **options)
    if speech:
        params |= {"SpeechResult": speech, "Confidence": f"{confidence:.8f}"}
    return params


def status_params(
    *, call_sid: str, to: str, caller: str, status: str = "completed", duration: int | None = None
) -> dict[str, str]:
    """The status callback at the end of (or during) a call."""
    params = call_params(call_sid=call_sid, to=to, caller=caller, status=status)
    if duration is not None:
        params |= {"CallDuration": str(duration), "Duration": str(max(1, (duration + 59) // 60))}
    return params

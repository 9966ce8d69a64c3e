"""`simulate_inbound --provider twilio-voice`: a whole phone call through the real, signed webhooks.

The call rings (`/webhook/twilio/voice`), the caller says the text once at the Gather's action URL
(`/webhook/twilio/voice/gather?turn=1&attempt=1`), then hangs up (`/webhook/twilio/voice/status`,
completed). Each TwiML answer is printed, as Twilio would read it out.
"""

from __future__ import annotations

import html
import re
from typing import TextIO
from urllib.parse import urlencode, urlsplit

import httpx
from django.conf import settings
from django.core.management.base import CommandError

from channels_app.twilio.payloads import TEST_ACCOUNT_SID
from channels_app.twilio.signature import SIGNATURE_HEADER, sign
from channels_app.twilio.voice.payloads import call_params, gather_params, new_call_sid, status_params
from conversations.models import ChannelAccount, Provider
from conversations.phones import e164

#: The `--provider` value of a phone call.
TWILIO_VOICE = "twilio-voice"

_GATHER_ACTION = re.compile(r'<Gather\b[^>]*\baction="([^"]+)"')


def simulate_call(out: TextIO, base: str, *, text: str, caller: str, name: str, to: str) -> None:
    """Ring, say `text` once, hang up; print what the server answered each time."""
    if not settings.TWILIO_AUTH_TOKEN:
        raise CommandError("TWILIO_AUTH_TOKEN is not set: the server would refuse the webhooks.")
    number = e164(to) if to else _voice_number()
    caller = e164(caller)
    sid = new_call_sid()
    account_sid = settings.TWILIO_ACCOUNT_SID or TEST_ACCOUNT_SID
    common = {"call_sid": sid, "to": number, "caller": caller}

    greeting = _post(
        out, base, "/webhook/twilio/voice", call_params(**common, caller_name=name, account_sid=account_sid)
    )
    action = _gather_action(greeting) or "/webhook/twilio/voice/gather?" + urlencode(
        {"turn": 1, "attempt": 1}
    )
    _post(out, base, action, gather_params(**common, speech=text, caller_name=name))
    _post(out, base, "/webhook/twilio/voice/status", status_params(**common, status="completed", duration=30))
    out.write(
        f"Call {sid} from {caller} to {number} ended. The conversation: {base}/admin/conversations/conversation/\n"
    )


def _post(out: TextIO, base: str, path: str, params: dict[str, str]) -> str:
    """POST one signed form to `base` + `path` (the URL signed is the one posted to) and print the answer."""
    target = f"{base}{path}"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        SIGNATURE_HEADER: sign(target, params, settings.TWILIO_AUTH_TOKEN),
    }
    try:
        response = httpx.post(target, content=urlencode(params).encode(), headers=headers, timeout=15)
    except httpx.HTTPError as exc:
        raise CommandError(f"Could not reach {target}: {exc}. Is the server running (`make run`)?") from exc
    out.write(f"POST {target} -> {response.status_code}\n{response.text}\n\n")
    if response.status_code != 200:
        raise CommandError("The server refused the webhook.")
    return response.text


def _gather_action(answer: str) -> str:
    """The path and query of the Gather's action in a TwiML answer, where Twilio would post the speech."""
    found = _GATHER_ACTION.search(answer)
    if found is None:
        return ""
    action = urlsplit(html.unescape(found.group(1)))
    return f"{action.path}?{action.query}" if action.query else action.path


def _voice_number() -> str:
    account = ChannelAccount.objects.filter(provider=Provider.VOICE).order_by("id").first()
    if account is None:
        raise CommandError(
            "No voice number: set TWILIO_VOICE_NUMBER and run `manage.py gatekeeper_setup` (or pass --to)."
        )
    return account.address

"""The domain's `CallAnswer` as TwiML, built with the `twilio` library's VoiceResponse."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from twilio.twiml.voice_response import VoiceResponse

from conversations.calls import CallAnswer

#: Seconds of silence before a Gather gives up, and Twilio's end-of-speech detection.
GATHER_TIMEOUT = 5
SPEECH_TIMEOUT = "auto"
#: How long a forwarded call rings the owner's phone.
DIAL_TIMEOUT = 20
LANGUAGE = "en-US"


def gather_url(turn: int, attempt: int) -> str:
    """Where Twilio posts what the caller said: the public gather URL, naming the turn and the try."""
    path = reverse("twilio-voice-gather")
    return f"{settings.PUBLIC_BASE_URL}{path}?{urlencode({'turn': turn, 'attempt': attempt})}"


def render(answer: CallAnswer) -> str:
    """TwiML for one answer: say, then listen (speech), forward (Dial) or hang up. Never empty."""
    response = VoiceResponse()
    for sentence in answer.say:
        response.say(sentence, language=LANGUAGE)
    if answer.listen_turn is not None:
        gather = response.gather(
            input="speech",
            action=gather_url(answer.listen_turn, answer.attempt),
            method="POST",
            timeout=GATHER_TIMEOUT,
            speech_timeout=SPEECH_TIMEOUT,
            action_on_empty_result=True,
            language=LANGUAGE,
        )
        if answer.prompt:
            gather.say(answer.prompt, language=LANGUAGE)
        # Reached only if Twilio does not call the action after a silent Gather.
        response.say("Goodbye.", language=LANGUAGE)
        response.hangup()
    elif answer.dial:
        response.dial(answer.dial, timeout=DIAL_TIMEOUT)
        response.say("Sorry, nobody could take your call. Goodbye.", language=LANGUAGE)
        response.hangup()
    else:
        response.hangup()
    return str(response)

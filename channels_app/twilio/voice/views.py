"""`/webhook/twilio/voice` (a call rings), `.../voice/gather` (a speech turn), `.../voice/status` (the call's status).

Signed and checked like the messaging webhooks (unsigned: 403). The caller is on the line, so
every answer is TwiML with something to say: an unknown number, a form that is not a call, the
database or the engine down each get a polite sentence and the end of the call, never a 500 and
never silence. The work is done by `conversations.calls`; this module only translates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from channels_app.twilio.signature import form_params, twilio_signature_problem
from channels_app.twilio.views import EMPTY_TWIML
from channels_app.twilio.voice import twiml
from channels_app.twilio.voice.parser import CallPayloadError, parse_duration, parse_event, parse_turn
from channels_app.webhooks import signed_webhook
from conversations import calls

logger = logging.getLogger(__name__)


def _answer(what: str, handle: Callable[[], calls.CallAnswer]) -> HttpResponse:
    """Run the domain's handler; whatever goes wrong, the caller hears a sentence and a goodbye."""
    try:
        answer = handle()
    except CallPayloadError as exc:
        logger.warning("Twilio voice %s webhook refused: %s", what, exc)
        answer = calls.unknown_number_answer()
    except DatabaseError:
        logger.exception(
            "Twilio voice %s webhook: database unavailable; the caller is told to try later", what
        )
        answer = calls.unavailable_answer()
    except Exception:
        logger.exception("Twilio voice %s webhook failed; the caller is told to try later", what)
        answer = calls.unavailable_answer()
    return HttpResponse(twiml.render(answer), content_type="text/xml")


@require_POST
@transaction.non_atomic_requests
@signed_webhook(twilio_signature_problem, name="Twilio voice")
def voice_webhook(request: HttpRequest) -> HttpResponse:
    """A call rings the owner's Twilio number: disclose, then listen (or put a trusted contact through)."""
    params = form_params(request.body)
    return _answer("call", lambda: calls.incoming_call(parse_event(params)))


@require_POST
@transaction.non_atomic_requests
@signed_webhook(twilio_signature_problem, name="Twilio voice gather")
def voice_gather_webhook(request: HttpRequest) -> HttpResponse:
    """What the caller said on one turn (`?turn=N&attempt=K` as our Gather's action named it)."""
    params = form_params(request.body)
    return _answer("gather", lambda: calls.speech_turn(parse_turn(params, request.GET)))


@require_POST
@transaction.non_atomic_requests
@signed_webhook(twilio_signature_problem, name="Twilio voice status")
def voice_status_webhook(request: HttpRequest) -> HttpResponse:
    """The call's status callback: CallStatus and CallDuration, stored on the call."""
    params = form_params(request.body)
    try:
        calls.call_status(parse_event(params), duration=parse_duration(params))
    except CallPayloadError as exc:
        logger.warning("Twilio voice status webhook refused: %s", exc)
    except DatabaseError:
        logger.exception("Twilio voice status webhook not stored (database unavailable); answering 503")
        return HttpResponse(EMPTY_TWIML, content_type="text/xml", status=503)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")

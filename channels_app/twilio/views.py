"""`/webhook/twilio` (inbound WhatsApp messages) and `/webhook/twilio/status` (delivery receipts).

Both are form POSTs signed with `X-Twilio-Signature`. Each answers 200 with empty TwiML once the
form is committed as it came (conversations/deliveries.py: one INSERT; a job stores what it
carried, as for Meta's webhook), and 503 when the database is unavailable, so that Twilio tries
again. A form that is not a Twilio webhook is refused with 400 here, before it is kept; one that
carries nothing Gatekeeper stores (an SMS, an early status) is acknowledged and not kept. No AI
call and no send happens here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from channels_app.twilio.parser import PayloadError, parse_inbound, parse_status
from channels_app.twilio.signature import form_params, twilio_signature_problem
from channels_app.webhooks import reject, signed_webhook
from conversations import deliveries
from conversations.inbound import InboundBatch

logger = logging.getLogger(__name__)

#: An empty TwiML answer: "received, nothing to say back" (an empty body shows as error 11200).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
#: How the ingest job knows which of the two forms a stored body is (registered in channels_app/apps.py).
MESSAGE_DELIVERY = "twilio"
STATUS_DELIVERY = "twilio.status"


def read_message(body: bytes) -> InboundBatch:
    """A stored inbound form, read again by the ingest job."""
    return parse_inbound(form_params(body))


def read_status(body: bytes) -> InboundBatch:
    """A stored status callback, read again by the ingest job."""
    return parse_status(form_params(body))


@require_POST
@transaction.non_atomic_requests
@signed_webhook(twilio_signature_problem, name="Twilio")
def twilio_webhook(request: HttpRequest) -> HttpResponse:
    """A contact's WhatsApp message to one of the owners' Twilio numbers."""
    return _receive(request, read_message, MESSAGE_DELIVERY, "message")


@require_POST
@transaction.non_atomic_requests
@signed_webhook(twilio_signature_problem, name="Twilio status")
def twilio_status_webhook(request: HttpRequest) -> HttpResponse:
    """Twilio's status callback for a message we sent: sent, delivered, read, failed, undelivered."""
    return _receive(request, read_status, STATUS_DELIVERY, "status")


def _receive(
    request: HttpRequest, read: Callable[[bytes], InboundBatch], kind: str, what: str
) -> HttpResponse:
    """Check that a signed form reads, and store it durably before acknowledging."""
    try:
        batch = read(request.body)
    except PayloadError as exc:
        logger.warning("Twilio %s webhook refused: %s", what, exc)
        return reject(400, str(exc))
    if batch.is_empty:
        logger.info("Twilio %s webhook with nothing Gatekeeper stores (acknowledged)", what)
        return HttpResponse(EMPTY_TWIML, content_type="text/xml")
    try:
        deliveries.accept(kind, request.body)
    except DatabaseError:
        logger.exception("Twilio %s webhook not stored (database unavailable); answering 503", what)
        return reject(503, "temporarily unavailable")
    sids = [m.provider_message_id for m in batch.messages] + [s.provider_message_id for s in batch.statuses]
    logger.info("Twilio %s webhook %s accepted", what, ", ".join(sids))
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")

"""`/webhook/twilio` (inbound WhatsApp messages) and `/webhook/twilio/status` (delivery receipts).

Both are form POSTs signed with `X-Twilio-Signature`. Each answers 200 with empty TwiML only
once `ingest_batch` has committed what it carried, and 503 when the database is unavailable.
No AI call and no send happens here: the ingest service schedules that work.
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
from conversations.inbound import InboundBatch
from conversations.ingest import ingest_batch

logger = logging.getLogger(__name__)

#: An empty TwiML answer: "received, nothing to say back" (an empty body shows as error 11200).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@require_POST
@transaction.non_atomic_requests
@signed_webhook(twilio_signature_problem, name="Twilio")
def twilio_webhook(request: HttpRequest) -> HttpResponse:
    """A contact's WhatsApp message to one of the owners' Twilio numbers."""
    return _receive(request, parse_inbound, "message")


@require_POST
@transaction.non_atomic_requests
@signed_webhook(twilio_signature_problem, name="Twilio status")
def twilio_status_webhook(request: HttpRequest) -> HttpResponse:
    """Twilio's status callback for a message we sent: sent, delivered, read, failed, undelivered."""
    return _receive(request, parse_status, "status")


def _receive(request: HttpRequest, parse: Callable[..., InboundBatch], what: str) -> HttpResponse:
    """Parse a signed form and store it durably before acknowledging."""
    try:
        batch = parse(form_params(request.body))
    except PayloadError as exc:
        logger.warning("Twilio %s webhook refused: %s", what, exc)
        return reject(400, str(exc))
    try:
        result = ingest_batch(batch)
    except DatabaseError:
        logger.exception("Twilio %s webhook not stored (database unavailable); answering 503", what)
        return reject(503, "temporarily unavailable")
    sids = [m.provider_message_id for m in batch.messages] + [s.provider_message_id for s in batch.statuses]
    logger.info(
        "Twilio %s webhook %s: %d new, %d duplicate, %d statuses applied%s",
        what,
        ", ".join(sids) or "(nothing to store)",
        result.created,
        result.duplicates,
        result.statuses_applied,
        f"; unknown numbers: {sorted(address for _, address in result.unknown_accounts)}"
        if result.unknown_accounts
        else "",
    )
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")

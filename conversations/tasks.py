"""Job entry points: thin adapters that take ids and call the domain. Safe to run twice."""

import logging

from conversations import drafting, escalation, sending

logger = logging.getLogger(__name__)


def draft_reply(*conversation_ids: int) -> None:
    """Draft for each conversation in turn (a delivery of many senders enqueues a few such jobs,
    not one per sender); one that fails does not hold the others back, and fails the job after."""
    failures = []
    for conversation_id in conversation_ids:
        try:
            drafting.draft_reply(conversation_id)
        except Exception as exc:
            logger.exception(
                "drafting for conversation %s failed; the sweeper will retry it", conversation_id
            )
            failures.append(exc)
    if failures:
        raise failures[0]


def send_pending(conversation_id: int) -> None:
    sending.send_pending(conversation_id)


def notify_owner(escalation_id: int) -> None:
    escalation.notify_owner(escalation_id)


def notify_owner_digest(owner_id: int) -> None:
    escalation.notify_owner_digest(owner_id)

"""Job entry points: thin adapters that take ids and call the domain. Safe to run twice."""

from conversations import drafting, escalation, sending


def draft_reply(conversation_id: int) -> None:
    drafting.draft_reply(conversation_id)


def send_pending(conversation_id: int) -> None:
    sending.send_pending(conversation_id)


def notify_owner(escalation_id: int) -> None:
    escalation.notify_owner(escalation_id)

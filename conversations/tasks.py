"""Job entry points: thin adapters that take ids and call the domain. Safe to run twice."""

from conversations import (
    daily_digest,
    deliveries,
    draft_pool,
    escalation,
    followups,
    jobs,
    owner_commands,
    owner_phone,
    sending,
)


def draft_reply(*conversation_ids: int) -> None:
    """Draft for each conversation, the engine calls in flight together (conversations/draft_pool.py).

    A delivery of many senders enqueues a few such jobs, not one per sender. A queue worker hands
    the conversations to its drafting threads and takes its next job while the model thinks; a job
    run in process drafts them before returning, and one that fails does not hold the others
    back, but fails the job after.
    """
    if not jobs.get_backend().in_process:
        draft_pool.hand_off(conversation_ids)
        return
    failures = draft_pool.draft_all(conversation_ids)
    if failures:
        raise failures[0]


def ingest_deliveries() -> None:
    """Store what waiting webhook deliveries carried; one job may take many (conversations/deliveries.py)."""
    deliveries.ingest_job()


def send_pending(conversation_id: int) -> None:
    sending.send_pending(conversation_id)


def notify_owner(escalation_id: int) -> None:
    escalation.notify_owner(escalation_id)


def notify_owner_digest(owner_id: int) -> None:
    escalation.notify_owner_digest(owner_id)


def finish_notification(batch_id: int) -> None:
    escalation.finish(batch_id)


def send_daily_digest(owner_id: int) -> None:
    daily_digest.send_digest(owner_id)


def notify_owner_draft(draft_id: int) -> None:
    owner_phone.notify_draft(draft_id)


def send_owner_notices(owner_id: int) -> None:
    owner_phone.send_waiting(owner_id)


def run_owner_command(command_id: int) -> None:
    owner_commands.run(command_id)


def fire_followup(followup_id: int) -> None:
    """Fire a follow-up at its due time; a job that ran early waits again (the sweeper is the backstop)."""
    if followups.fire(followup_id) is None and (wait := followups.seconds_until_due(followup_id)) > 0:
        jobs.enqueue_now("conversations.tasks.fire_followup", followup_id, delay=wait)

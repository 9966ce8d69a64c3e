"""Invariants 2 and 7 when Redis goes away: acknowledged means committed, and the sweeper recovers the work."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from conversations.tests.faults.stack import Stack, wait_for

pytestmark = pytest.mark.slow

#: Seconds Redis stays down while webhooks keep arriving (the issue's 30 s, compressed).
OUTAGE = 6
SENDERS = [f"1555000{n:04d}" for n in range(12)]


def test_webhooks_during_a_redis_outage_are_acknowledged_only_when_committed_and_answered_once(stack: Stack):
    """docs/architecture.md invariants 2 (200 only after the commit) and 7 (work whose job vanished is re-scheduled)."""
    stack.start_web()
    stack.start_worker()
    stack.start_sweeper()
    assert stack.post(stack.message("Your bill, before the outage", sender="15559999999")).status_code == 200
    stack.graph.wait_for_sent_texts(1, timeout=60)

    stack.redis.kill()
    acknowledged = {}
    started = time.monotonic()
    for number, sender in enumerate(SENDERS):
        message_id = f"wamid.OUTAGE-{number}"
        acknowledged[message_id] = stack.post(
            stack.message("Your bill is ready", sender=sender, message_id=message_id)
        ).status_code
        time.sleep(max(0.0, started + OUTAGE * (number + 1) / len(SENDERS) - time.monotonic()))
    # Committed as a message, or as the delivery that carries it until the ingest job runs.
    stored = {
        row[0]
        for row in stack.rows("SELECT provider_message_id FROM conversations_message WHERE direction = 'in'")
    }
    kept = [bytes(row[0]) for row in stack.rows("SELECT body FROM conversations_delivery")]
    for message_id, status in acknowledged.items():
        if status == 200:
            assert message_id in stored or any(message_id.encode() in body for body in kept), (
                f"{message_id} acknowledged but not committed"
            )
    assert set(acknowledged.values()) == {200}, (
        "the database was up: every delivery is stored and acknowledged"
    )

    stack.redis.start()
    # RQ's worker exits when Redis goes away (exit code 1); a supervisor restarts it.
    if stack.processes["worker"].poll() is not None:
        stack.start_worker("worker")
    sent = stack.graph.wait_for_sent_texts(len(SENDERS) + 1, timeout=90)
    sweeps = stack.log("sweeper").count("swept")
    wait_for(lambda: stack.log("sweeper").count("swept") >= sweeps + 3, timeout=30, what="more sweeps")

    per_contact = Counter(text.to for text in stack.graph.sent_texts())
    assert per_contact == Counter({f"+{sender}": 1 for sender in [*SENDERS, "15559999999"]})
    assert len(sent) == len(SENDERS) + 1

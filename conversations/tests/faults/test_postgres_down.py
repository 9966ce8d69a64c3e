"""Invariant 2 when PostgreSQL goes away: 5xx so the provider retries, nothing half-written, retries processed once."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from conversations.tests.faults.stack import Stack, wait_for

pytestmark = pytest.mark.slow

SENDERS = ["15550000101", "15550000102", "15550000103"]


def test_webhooks_while_the_database_is_down_get_5xx_and_their_retries_are_processed_once(stack: Stack):
    """docs/architecture.md invariants 2 (5xx when the database is unavailable), 3 (retries change nothing twice)
    and 7 (the sweeper outlives the outage: it used to exit on the first failed query)."""
    stack.start_web()
    stack.start_worker()
    stack.start_sweeper()
    assert (
        stack.post(stack.message("Your bill, to warm every connection", sender="15559999999")).status_code
        == 200
    )
    stack.graph.wait_for_sent_texts(1, timeout=60)
    wait_for(
        lambda: stack.value("SELECT count(*) FROM conversations_message WHERE status = 'sent'"),
        timeout=30,
        what="the send recorded",
    )
    bodies = [stack.message("Your bill is ready", sender=s, message_id=f"wamid.PG-{s}") for s in SENDERS]

    stack.postgres.stop()
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        during = [response.status_code for response in pool.map(stack.post, bodies)]
    assert all(status >= 500 for status in during), during

    stack.postgres.start()
    assert (
        stack.value("SELECT count(*) FROM conversations_message WHERE provider_message_id LIKE 'wamid.PG-%%'")
        == 0
    )
    assert stack.value("SELECT count(*) FROM conversations_contact WHERE address = ANY(%s)", SENDERS) == 0

    # Meta delivers again: the first retry is acknowledged, because the pool checks a connection
    # before lending it and replaces the ones the restart cut. Then once more, as Meta may.
    assert [stack.post(body).status_code for body in bodies] == [200] * len(bodies)
    assert [stack.post(body).status_code for body in bodies] == [200] * len(bodies)
    stack.graph.wait_for_sent_texts(1 + len(SENDERS), timeout=90)
    sweeps = stack.log("sweeper").count("swept")
    wait_for(
        lambda: stack.log("sweeper").count("swept") >= sweeps + 3,
        timeout=30,
        what="the sweeper to keep sweeping",
    )

    assert (
        stack.value("SELECT count(*) FROM conversations_message WHERE provider_message_id LIKE 'wamid.PG-%%'")
        == 3
    )
    per_contact = Counter(text.to for text in stack.graph.sent_texts())
    assert per_contact == Counter({f"+{sender}": 1 for sender in [*SENDERS, "15559999999"]})

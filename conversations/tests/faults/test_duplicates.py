"""Invariants 3 and 6 under real concurrency: a redelivered message changes nothing and is answered once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from conversations.tests.faults.stack import Stack, wait_for

pytestmark = pytest.mark.slow


def test_a_message_delivered_five_times_at_once_and_again_later_is_stored_and_answered_once(stack: Stack):
    """docs/architecture.md invariants 3 (idempotent) and 6 (exactly one visible reply per decision)."""
    stack.start_web()
    stack.start_worker()
    body = stack.message("Your bill is ready", message_id="wamid.FIVE-TIMES")

    with ThreadPoolExecutor(max_workers=5) as pool:
        statuses = [response.status_code for response in pool.map(lambda _: stack.post(body), range(5))]
    assert statuses == [200] * 5
    stack.graph.wait_for_sent_texts(1, timeout=60)

    # "Minutes later" for a provider: the reply is out, the work is settled; Meta tries again.
    assert stack.post(body).status_code == 200
    stack.start_sweeper()
    wait_for(lambda: "swept" in stack.log("sweeper"), timeout=60, what="a sweep after the redelivery")
    wait_for(lambda: stack.log("sweeper").count("swept") >= 3, timeout=60, what="three sweeps")

    assert (
        stack.value(
            "SELECT count(*) FROM conversations_message WHERE provider_message_id = %s", "wamid.FIVE-TIMES"
        )
        == 1
    )
    assert stack.value("SELECT count(*) FROM conversations_draft") == 1
    assert [sent.text for sent in stack.graph.sent_texts()] == ["Thanks, noted."]
    assert stack.value("SELECT status FROM conversations_message WHERE direction = 'out'") == "sent"

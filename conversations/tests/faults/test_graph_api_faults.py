"""Invariants 6 and 7 at the send: transient refusals back off and go out once, permanent ones escalate."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from conversations.tests.faults.stack import Stack, wait_for

pytestmark = pytest.mark.slow


def settled(stack: Stack, sender: str) -> str:
    """The outbound status once it is final for this contact's reply ("" while queued or sending)."""
    rows = stack.rows(
        "SELECT m.status FROM conversations_message m JOIN conversations_conversation c ON c.id = m.conversation_id "
        "JOIN conversations_contact k ON k.id = c.contact_id WHERE m.direction = 'out' AND k.address = %s",
        sender,
    )
    return rows[0][0] if rows and rows[0][0] in ("sent", "failed") else ""


def test_graph_api_errors_back_off_never_duplicate_and_escalate_what_cannot_be_sent(stack: Stack):
    """docs/architecture.md invariants 6 (never sent twice) and 7 (retried with backoff, escalated after)."""
    stack.start_web()
    stack.start_worker()
    stack.start_sweeper()
    graph = stack.graph
    cases = {
        # sender: (what the Graph API does to its reply, the final status)
        "15550000201": (lambda: graph.fail_next(131000, http_status=500), "sent"),
        "15550000202": (lambda: graph.respond_next(502, "<html>Bad gateway</html>"), "sent"),
        "15550000203": (lambda: graph.fail_next(130429, http_status=429, retry_after=1), "sent"),
        "15550000204": (lambda: graph.fail_next(131047), "failed"),
        "15550000205": (lambda: graph.fail_next(131026), "failed"),
        # Meta takes the message but answers too late: it may have gone out, so never again.
        "15550000206": (lambda: graph.delay_next(4, times=2), "failed"),
    }
    started = time.monotonic()
    for sender, (fault, final) in cases.items():
        fault()
        assert stack.post(stack.message("Your bill is ready", sender=sender)).status_code == 200
        status = wait_for(
            lambda s=sender: settled(stack, s), timeout=90, what=f"the reply to {sender} to settle"
        )
        assert status == final, sender
    assert time.monotonic() - started > 2, "retries waited for their backoff"

    sweeps = stack.log("sweeper").count("swept")
    wait_for(lambda: stack.log("sweeper").count("swept") >= sweeps + 4, timeout=30, what="more sweeps")
    accepted = Counter(text.to for text in graph.sent_texts())
    assert accepted == Counter(
        {"+15550000201": 1, "+15550000202": 1, "+15550000203": 1, "+15550000206": 1}
    ), "one copy each; the late-answered send is not repeated"
    escalated = dict(
        stack.rows(
            "SELECT k.address, e.reason FROM conversations_escalation e JOIN conversations_conversation c "
            "ON c.id = e.conversation_id JOIN conversations_contact k ON k.id = c.contact_id"
        )
    )
    assert escalated == {
        "15550000204": "window_closed",
        "15550000205": "send_failed",
        "15550000206": "send_failed",
    }
    retried = stack.rows("SELECT attempts FROM conversations_message WHERE direction = 'out' ORDER BY id")
    assert [attempts for (attempts,) in retried] == [2, 2, 2, 1, 1, 1]

"""Invariants 6 and 7 when a worker dies mid-job: the sweeper finds the work again, one reply goes out."""

from __future__ import annotations

import time

import pytest

from conversations.tests.faults.stack import SENDABLE, Stack, wait_for

pytestmark = pytest.mark.slow


def test_a_worker_killed_while_drafting_is_redone_once_within_a_minute(stack: Stack):
    """docs/architecture.md invariant 7 (work whose job vanished is re-scheduled) and 6 (never twice)."""
    stack.script({**SENDABLE, "delay": 120})  # the engine holds the first job for two minutes
    stack.start_web()
    stack.start_worker("doomed")
    stack.start_sweeper()
    assert stack.post(stack.message("Your bill is ready")).status_code == 200

    # The job marks the message read just before it asks the engine: now it is mid-draft.
    wait_for(stack.graph.read_receipts, timeout=60, what="the job to reach the engine")
    stack.kill("doomed")
    killed_at = time.monotonic()
    stack.script(SENDABLE)
    stack.start_worker("survivor")

    stack.graph.wait_for_sent_texts(1, timeout=60)
    redone_in = time.monotonic() - killed_at
    assert redone_in < 60, f"redone {redone_in:.1f}s after the kill"

    # Let the sweeper run a few more rounds: nothing else may go out.
    sweeps = stack.log("sweeper").count("swept")
    wait_for(lambda: stack.log("sweeper").count("swept") >= sweeps + 3, timeout=30, what="more sweeps")
    assert [sent.text for sent in stack.graph.sent_texts()] == ["Thanks, noted."]
    assert stack.value("SELECT count(*) FROM conversations_draft") == 1
    assert stack.value("SELECT count(*) FROM conversations_message WHERE direction = 'out'") == 1

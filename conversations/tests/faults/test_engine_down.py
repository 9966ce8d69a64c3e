"""Invariant 7 when the AI engine fails or hangs: the turn stays pending, the owner is told, drafts come later."""

from __future__ import annotations

import time

import pytest

from ai.testing import OpenAIStandIn
from conversations.tests.faults.stack import SENDABLE, Stack, wait_for

pytestmark = pytest.mark.slow


def test_an_engine_failing_and_timing_out_loses_nothing_tells_the_owner_and_drafts_on_recovery(stack: Stack):
    """docs/architecture.md invariant 7 (retried with backoff, escalated, never dropped) through a real Chat Completions client.

    The backoff is shortened to 1 s, 2 s, 4 s (ENGINE_RETRY_BACKOFF): the owner is told at the
    third failure and the fourth attempt meets a recovered engine. With the production
    defaults (5 s, 15 s, ...) the third failure comes about 20 s in.
    """
    with OpenAIStandIn(api_key="faults-key") as engine:
        engine.fail(500, "upstream exploded")
        engine.delay_next(5)  # longer than OPENAI_TIMEOUT: the client gives up
        engine.fail(503, "overloaded")
        engine.respond_json(SENDABLE)
        stack.use_openai(engine.base_url, timeout=1)
        stack.env["ENGINE_RETRY_BACKOFF"] = "1,2,4"
        stack.start_web()
        stack.start_worker()
        stack.start_sweeper()
        assert stack.post(stack.message("Your bill is ready")).status_code == 200
        started = time.monotonic()

        wait_for(
            lambda: any("needs your attention" in mail for mail in stack.mails()),
            timeout=60,
            what="the owner's email",
        )
        told_after = time.monotonic() - started
        assert told_after < 60
        assert len(stack.mails()) == 1
        assert stack.value("SELECT count(*) FROM conversations_draft") == 0
        assert stack.rows("SELECT reason FROM conversations_escalation WHERE notified_at IS NOT NULL") == [
            ("engine_failing",)
        ]
        assert stack.value("SELECT reply_due_at IS NOT NULL FROM conversations_conversation"), "still pending"

        (sent,) = stack.graph.wait_for_sent_texts(1, timeout=90)
        assert sent.text == SENDABLE["reply"]
        assert len([r for r in engine.requests if r.method == "POST"]) == 4
        assert stack.value("SELECT count(*) FROM conversations_draft") == 1
        assert stack.value("SELECT reply_due_at IS NULL FROM conversations_conversation")

"""Figures measured inside one process: prompt size and database queries, against conversation length.

Both must stay flat however long a conversation grows (docs/architecture.md, "The flow and its invariants"): the prompt holds
a bounded recent context, and the webhook and the jobs run a fixed number of queries.
"""

from __future__ import annotations

import time
import uuid

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ai.engines import get_client
from ai.prompt import build_messages, estimate_messages_tokens
from bench import payloads
from bench.stack import APP_SECRET, PHONE_NUMBER_ID
from conversations import deliveries, drafting, sending
from conversations.context import engine_context, owner_policy, recent_messages
from conversations.models import (
    Author,
    ChannelAccount,
    Contact,
    Conversation,
    Direction,
    Message,
    MessageStatus,
)

LENGTHS = (20, 1_000, 10_000)
TEXTS = (
    "Hello, this is Acme Mobile. Your November bill of 42.10 EUR is ready and due on the 30th.",
    "We noticed you may qualify for our Unlimited Plus plan with 5G at no extra cost for six months.",
)


def conversation_of(length: int) -> Conversation:
    """A conversation with `length` messages, alternating company and assistant, the last one unanswered."""
    account = ChannelAccount.objects.get(provider="whatsapp", address=PHONE_NUMBER_ID)
    contact = Contact.objects.create(owner_id=account.owner_id, address=f"7{uuid.uuid4().int % 10**11:011d}")
    conversation = Conversation.objects.create(owner_id=account.owner_id, account=account, contact=contact)
    rows = []
    for index in range(length):
        inbound = index % 2 == 0 or index == length - 1
        rows.append(
            Message(
                conversation=conversation,
                account=account,
                direction=Direction.IN if inbound else Direction.OUT,
                author=Author.CONTACT if inbound else Author.ASSISTANT,
                text=TEXTS[index % 2],
                provider_message_id=f"wamid.LEN{length}.{uuid.uuid4().hex}" if inbound else None,
                status=MessageStatus.RECEIVED if inbound else MessageStatus.SENT,
            )
        )
    Message.objects.bulk_create(rows, batch_size=2000)
    ids = list(
        Message.objects.filter(conversation=conversation).order_by("-id").values_list("id", flat=True)[:2]
    )
    conversation.handled_through = ids[1]
    conversation.reply_due_at = conversation.last_inbound_at = timezone.now()
    conversation.save(update_fields=["handled_through", "reply_due_at", "last_inbound_at"])
    return conversation


def prompt_tokens(conversation: Conversation) -> tuple[int, float]:
    """The prompt the openai engine would send for this conversation, in estimated tokens, and ms to build."""
    started = time.perf_counter()
    policy = owner_policy(conversation.owner_id)
    history = recent_messages(conversation)
    context = engine_context(conversation, policy, history, category="", rule=None)
    engine = get_client()
    messages = build_messages(
        context,
        max_turns=getattr(engine, "max_turns", 20),
        history_token_budget=getattr(engine, "history_token_budget", 3000),
    )
    return estimate_messages_tokens(messages), (time.perf_counter() - started) * 1000


def queries(action) -> int:
    """How many SQL statements `action()` ran."""
    with CaptureQueriesContext(connection) as captured:
        action()
    return len(captured.captured_queries)


def webhook_queries(batch: int, client: Client, *, first_contact: bool) -> int:
    """Queries to accept and ingest one signed delivery of `batch` new messages, from new or known senders:
    the webhook's request and the ingest job together."""
    senders = uuid.uuid4().int % 10**9

    def post(prefix: str) -> None:
        body = payloads.encode(
            payloads.batch_payload(
                phone_number_id=PHONE_NUMBER_ID, prefix=prefix, first=0, size=batch, sender_offset=senders
            )
        )
        response = client.post(
            "/webhook/whatsapp",
            data=body,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=payloads.sign(body, APP_SECRET),
        )
        assert response.status_code == 200, response.content
        deliveries.ingest_waiting()  # the ingest job, as a worker runs it next

    if not first_contact:
        post(f"K{uuid.uuid4().hex[:8]}")  # they wrote before
    return queries(lambda: post(f"Q{uuid.uuid4().hex[:8]}"))


def measure() -> dict:
    """Prompt tokens and query counts for conversations of 20, 1,000 and 10,000 messages."""
    client = Client(HTTP_HOST="127.0.0.1")
    webhook_queries(1, client, first_contact=True)  # warm caches (content types) as a running server has them
    figures: dict = {"prompt": {}, "queries": {}}
    figures["queries"]["webhook"] = {
        f"{batch} message(s)": webhook_queries(batch, client, first_contact=False)
        for batch in (1, 2, 10, 100)
    }
    figures["queries"]["webhook, first contact"] = {
        f"{batch} message(s)": webhook_queries(batch, client, first_contact=True) for batch in (1, 2, 10, 100)
    }
    prompt_tokens(conversation_of(2))  # warm up: the engine, its SDK client and the templates load once
    for length in LENGTHS:
        conversation = conversation_of(length)
        tokens, build_ms = prompt_tokens(conversation)
        # The draft job sends a reply it may send itself; the send job delivers approved ones.
        draft = queries(lambda c=conversation: drafting.draft_reply(c.pk))
        sending.queue_outbound(conversation, "Approved by the owner.", author=Author.OWNER)
        send = queries(lambda c=conversation: sending.send_pending(c.pk))
        figures["prompt"][f"{length:,} messages"] = {
            "prompt_tokens": tokens,
            "context_ms": round(build_ms, 1),
        }
        figures["queries"][f"draft job, {length:,} messages"] = draft
        figures["queries"][f"send job, {length:,} messages"] = send
    print(f"  prompt: {figures['prompt']}\n  queries: {figures['queries']}", flush=True)
    return figures

"""Follow-ups: 10,000 scheduled follow-ups due in the same minute, each fired once.

    .venv/bin/python -m bench.followups [--count 10000] [--sweepers 2] [--database gk_bench_followups] [--redis-db 8]

The schedule lives in the database (docs/architecture.md, "Follow-ups and promises"): the
sweeper finds what is due and fires it under the conversation's row lock, and two sweepers
racing never send twice. This phase stores `count` follow-ups of the owner's own words, one per
conversation, all due within one minute, then runs `--sweepers` sweeps of
`conversations.followups.fire_due` at once (threads, each with its own PostgreSQL connection)
at the end of that minute, and reports the time until every one is decided, the rate, and that
each fired once: one queued message per follow-up, none twice. The send jobs go to the
benchmark's Redis; delivering them is measured by the other phases. Also part of `make bench`
as the `followups` phase (bench/run.py); standalone it writes bench/results/followups.json.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
import uuid
from datetime import timedelta

TEXT = "Hello again: is there any news about my request? Thank you."


def _seed(count: int):
    """`count` conversations of the benchmark owner, each with one follow-up due within the same minute."""
    from django.utils import timezone

    from bench.stack import PHONE_NUMBER_ID
    from conversations.models import (
        Author,
        ChannelAccount,
        Contact,
        Conversation,
        Direction,
        FollowUp,
        FollowUpSource,
        Message,
        MessageStatus,
    )

    account = ChannelAccount.objects.get(provider="whatsapp", address=PHONE_NUMBER_ID)
    run = uuid.uuid4().hex[:6]
    now = timezone.now()
    contacts = Contact.objects.bulk_create(
        [
            Contact(owner_id=account.owner_id, address=f"8{index:010d}{run}", phone=f"+8{index:010d}")
            for index in range(count)
        ],
        batch_size=2000,
    )
    conversations = Conversation.objects.bulk_create(
        [
            Conversation(owner_id=account.owner_id, account=account, contact=contact, last_inbound_at=now)
            for contact in contacts
        ],
        batch_size=2000,
    )
    Message.objects.bulk_create(
        [
            Message(
                conversation=conversation,
                account=account,
                direction=Direction.IN,
                author=Author.CONTACT,
                text="Your request is being processed.",
                provider_message_id=f"wamid.FOLLOW.{run}.{conversation.pk}",
                status=MessageStatus.RECEIVED,
            )
            for conversation in conversations
        ],
        batch_size=2000,
    )
    minute = now.replace(second=0, microsecond=0) + timedelta(minutes=5)
    FollowUp.objects.bulk_create(
        [
            FollowUp(
                conversation=conversation,
                due_at=minute + timedelta(seconds=(index * 59.0) / count),
                text=TEXT,
                unless_reply=True,
                source=FollowUpSource.OWNER,
                answered_through=10**15,  # the seeded message does not count as an answer
                created_at=now,
            )
            for index, conversation in enumerate(conversations)
        ],
        batch_size=2000,
    )
    return [conversation.pk for conversation in conversations], minute + timedelta(minutes=1)


def measure(*, count: int = 10_000, sweepers: int = 2) -> dict:
    """Seed `count` follow-ups due in one minute; fire them with `sweepers` concurrent sweeps; Django set up."""
    from django.db import connection

    from conversations import followups
    from conversations.models import Direction, FollowUp, FollowUpStatus, Message

    conversation_ids, end_of_minute = _seed(count)
    fired: list[int] = []
    start = threading.Barrier(sweepers)

    def sweep() -> None:
        start.wait()
        try:
            fired.append(followups.fire_due(now=end_of_minute, limit=count))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(sweepers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started

    mine = FollowUp.objects.filter(conversation_id__in=conversation_ids)
    sent = mine.filter(status=FollowUpStatus.SENT).count()
    messages = Message.objects.filter(
        conversation_id__in=conversation_ids, direction=Direction.OUT, text=TEXT
    )
    queued = messages.count()
    twice = queued - messages.values("conversation_id").distinct().count()
    figures = {
        "followups": {
            "scheduled": count,
            "sweepers": sweepers,
            "fired_by_each_sweeper": sorted(fired),
            "sent": sent,
            "messages_queued": queued,
            "sent_twice": twice,
            "seconds": round(seconds, 2),
            "per_second": round(count / seconds, 1),
            "measured": "follow-ups due in one minute, fired by concurrent sweeps (fire_due) to queued sends",
        }
    }
    print(f"  followups: {figures['followups']}", flush=True)
    return figures


def main(argv: list[str] | None = None) -> None:
    """A fresh benchmark database (as `make bench` prepares it), then the follow-ups phase."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--sweepers", type=int, default=2)
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE", "gk_bench_followups"))
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG", "127.0.0.1:5432"))
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS", "127.0.0.1:6379"))
    parser.add_argument("--redis-db", type=int, default=int(os.environ.get("BENCH_REDIS_DB", "8")))
    args = parser.parse_args(argv)

    from bench.run import ROOT, Run, machine

    run = Run(
        quick=False, database=args.database, redis_db=args.redis_db, pg_host=args.pg, redis_host=args.redis
    )
    try:
        run.prepare()
        figures = measure(count=args.count, sweepers=args.sweepers)
    finally:
        run.close()
    figures["machine"] = machine()
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "followups.json").write_text(json.dumps(figures, indent=2, default=str))
    print(f"wrote {out / 'followups.json'}")


if __name__ == "__main__":
    main()

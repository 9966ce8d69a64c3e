"""The loop breaker: two bots answering each other would talk for ever in the owner's name.

Automatic replies stop (the reply is held) after three in a row with no owner message between,
when the company sends again what it already sent, or when it answers faster than a person
types. The draft job tells the owner once per loop (docs/architecture.md, "Who is asking").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from conversations.models import Author, Direction, Message
from conversations.trust.guards import ESCALATE, Finding
from conversations.trust.normalize import fold

LOOP = "loop"
#: Automatic replies in a row, with no owner message between, after which the next one waits.
AUTOMATIC_REPLIES_LIMIT = 3
#: Faster than this, a reply was not typed by a person (a fast typist manages about 8 a second).
TYPING_CHARS_PER_SECOND = 12
#: Shorter messages can be typed (or tapped) in a moment; they prove nothing.
MIN_TYPED_LENGTH = 24
#: A repeated message shorter than this ("ok", "thanks") is ordinary, not a bot.
MIN_REPEATED_LENGTH = 12


def automatic(message: Message) -> bool:
    """A reply the assistant sent by itself (not one the owner approved or wrote)."""
    if message.direction != Direction.OUT or message.author != Author.ASSISTANT:
        return False
    draft = message.draft
    return draft is None or draft.decided_by_id is None


def automatic_replies_in_a_row(outbound: Sequence[Message]) -> int:
    """Automatic replies since the owner last wrote or approved one (`outbound` oldest first)."""
    count = 0
    for message in reversed(outbound):
        if message.direction != Direction.OUT:
            continue
        if not automatic(message):
            break
        count += 1
    return count


def _sent_at(message: Message) -> datetime:
    return message.sent_at or message.created_at


def loop_findings(
    history: Sequence[Message], unanswered: Sequence[Message], outbound: Sequence[Message]
) -> list[Finding]:
    """Why this turn looks like a loop with another bot, as one finding (none when it does not).

    `history` is the recent conversation, `outbound` the last few replies however many company
    messages came between (a bot writes many).
    """
    reasons = []
    in_a_row = automatic_replies_in_a_row(outbound)
    if in_a_row >= AUTOMATIC_REPLIES_LIMIT:
        reasons.append(f"{in_a_row} automatic replies in a row without you")
    new_ids = {message.pk for message in unanswered}
    # An edited message now holds the words its correction repeats as a turn of its own
    # (conversations/message_events.py): that is one message, not the same one sent twice.
    earlier = {
        fold(m.text)
        for m in history
        if m.direction == Direction.IN
        and m.pk not in new_ids
        and m.edited_at is None
        and len(m.text.strip()) >= MIN_REPEATED_LENGTH
    }
    if any(fold(m.text) in earlier for m in unanswered):
        reasons.append("the company sent the same message again")
    replies = [m for m in outbound if automatic(m)]
    if replies and unanswered:
        last_reply = replies[-1]
        for message in unanswered:
            gap = (message.created_at - _sent_at(last_reply)).total_seconds()
            length = len(message.text.strip())
            if length >= MIN_TYPED_LENGTH and 0 <= gap < length / TYPING_CHARS_PER_SECOND:
                reasons.append(f"the company answered {length} characters {gap:.1f} s after the reply")
                break
    if not reasons:
        return []
    return [
        Finding(
            LOOP,
            ESCALATE,
            tuple(reasons),
            "Automatic replies stopped: the company looks like another bot ("
            + "; ".join(reasons)
            + "). Approve a reply or answer by hand to go on.",
        )
    ]

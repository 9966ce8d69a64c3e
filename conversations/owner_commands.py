"""The owner's phone is a console: messages from the owner's own number are commands.

`ok 12` or `yes 12` approves draft 12; `edit 12 <text>` approves it with that text; `no 12`
rejects it; `take 12` takes its conversation over; `status` lists what waits. Without a
number a command applies to the latest notification. Anything else gets the list of commands.

`take_commands` splits them off a webhook delivery before anything is stored as a company's
message (so the owner's number never becomes a conversation), keeping each once by its
provider message id; `run` (a job, after the commit) acts through the same services as the
dashboard, scoped to that owner, and answers with a short confirmation or the reason a
refused action was refused. `parse` is a pure function.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import CharField, OuterRef, Subquery
from django.utils import timezone

from conversations import jobs, services
from conversations.bulk import insert_skipping_conflicts
from conversations.escalation import review_queue_url
from conversations.inbound import InboundMessage, Kind
from conversations.models import (
    GROUP_ADDRESS_PREFIX,
    ChannelAccount,
    Conversation,
    ConversationStatus,
    Direction,
    Draft,
    DraftStatus,
    Message,
    OwnerCommand,
    OwnerCommandOutcome,
    OwnerNotice,
    OwnerNoticeKind,
    OwnerNoticeStatus,
    OwnerSettings,
)
from conversations.owner_phone import (
    WHATSAPP_PROVIDERS,
    conversation_link,
    is_owner_number,
    one_line,
    queue_to_owner,
)

logger = logging.getLogger(__name__)

APPROVE = "approve"
EDIT = "edit"
REJECT = "reject"
TAKE = "take"
STATUS = "status"
HELP = "help"

#: Drafts `status` lists one by one.
STATUS_LIST_LIMIT = 10

HELP_TEXT = (
    "Gatekeeper commands:\n"
    "ok 12 (or yes 12): send draft 12\n"
    "edit 12 <text>: send your text instead\n"
    "no 12: reject draft 12\n"
    "take 12: take its conversation over\n"
    "status: what waits for you\n"
    "Without a number, a command applies to the latest notification."
)

_SHORT = re.compile(r"(ok|yes|no|take)(?:\s*#?\s*(\d+))?[\s.!]*", re.IGNORECASE)
_EDIT = re.compile(r"edit(?:\s+#?(\d+))?(?:\s+(.*))?", re.IGNORECASE | re.DOTALL)
_STATUS = re.compile(r"status[\s.!?]*", re.IGNORECASE)
_VERBS = {"ok": APPROVE, "yes": APPROVE, "no": REJECT, "take": TAKE}


@dataclass(frozen=True)
class Command:
    """One parsed command: what to do, to which draft (None: the latest notification's), with what text."""

    verb: str
    number: int | None = None
    text: str = ""


def parse(message: str) -> Command:
    """Read one message from the owner's number; anything outside the grammar is `help`."""
    text = unicodedata.normalize("NFKC", message or "").strip()
    if match := _SHORT.fullmatch(text):
        return Command(_VERBS[match.group(1).lower()], _number(match.group(2)))
    if match := _EDIT.fullmatch(text):
        return Command(EDIT, _number(match.group(1)), (match.group(2) or "").strip())
    if _STATUS.fullmatch(text):
        return Command(STATUS)
    return Command(HELP)


def _number(digits: str | None) -> int | None:
    return int(digits) if digits else None


# -- splitting them off a delivery ------------------------------------------------------------

Arrival = tuple[ChannelAccount, InboundMessage]


def own_number_of(owner_id: str = "owner_id") -> Subquery:
    """The owner's own number as a column of another query (`owner_id`: the path to the owner's id there).

    Ingest reads it with the accounts it loads anyway, so splitting commands off costs no query.
    """
    return Subquery(
        OwnerSettings.objects.filter(owner_id=OuterRef(owner_id)).values("notify_whatsapp")[:1],
        output_field=CharField(),
    )


def take_commands(
    arrivals: list[Arrival], *, numbers: Mapping[int, str | None] | None = None, now: datetime | None = None
) -> list[Arrival]:
    """Store the messages from an owner's own number to their WhatsApp accounts as commands; return the rest.

    Called inside the webhook's transaction: each command is kept once (unique account and
    provider message id, so a redelivery changes nothing) and run by a job after the commit.
    `numbers` are the owners' own numbers by owner id when the caller read them in the same
    transaction (`own_number_of`); without them they are read here.
    """
    owner_ids = {account.owner_id for account, _ in arrivals if account.provider in WHATSAPP_PROVIDERS}
    if numbers is None:
        numbers = dict(
            OwnerSettings.objects.filter(owner_id__in=owner_ids).values_list("owner_id", "notify_whatsapp")
        )
    numbers = {owner_id: numbers[owner_id] for owner_id in owner_ids if numbers.get(owner_id)}
    if not numbers:
        return arrivals
    now = now or timezone.now()
    rest: list[Arrival] = []
    commands: list[OwnerCommand] = []
    for account, inbound in arrivals:
        if _from_owner(account, inbound, numbers.get(account.owner_id, "")):
            commands.append(
                OwnerCommand(
                    owner_id=account.owner_id,
                    account=account,
                    provider_message_id=inbound.provider_message_id,
                    kind=inbound.kind,
                    text=inbound.text[:4096],
                    received_at=min(inbound.sent_at or now, now),
                )
            )
        else:
            rest.append((account, inbound))
    if commands:
        inserted = insert_skipping_conflicts(commands, returning=["id"])
        jobs.schedule_each("conversations.tasks.run_owner_command", [(pk,) for (pk,) in inserted])
        logger.info("%d command(s) from owners' own numbers (%d new)", len(commands), len(inserted))
    return rest


def _from_owner(account: ChannelAccount, inbound: InboundMessage, own_number: str) -> bool:
    """Sent by the owner's own number to one of their WhatsApp accounts, in a chat of its own (not a group)."""
    if account.provider not in WHATSAPP_PROVIDERS or inbound.sender_address.startswith(GROUP_ADDRESS_PREFIX):
        return False
    return is_owner_number(own_number, inbound.sender_phone or inbound.sender_address)


# -- acting on them ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What a command did and the confirmation the owner reads."""

    reply: str
    outcome: str = OwnerCommandOutcome.DONE
    action: str = ""
    draft_id: int | None = None
    conversation_id: int | None = None
    stale_through: int | None = None


def run(command_id: int) -> None:
    """The command's job: act once, keep the answer, and send it to the owner after the commit.

    The action goes through the services, each its own committed transaction (never nested in
    this job's); the answer is then recorded under the command's row lock. A twin run of the
    same job acts on a draft that is no longer pending (refused, nothing sent twice) and finds
    the command handled, so the owner gets one answer. The owner just wrote, so their window
    is open: notes held while it was closed go out too.
    """
    pending = OwnerCommand.objects.select_related("owner").filter(pk=command_id, handled_at__isnull=True)
    command = pending.first()
    if command is None:
        return  # done already (a job that ran twice)
    answer = answer_command(command)
    with transaction.atomic(durable=True):
        if (
            OwnerCommand.objects.select_for_update().filter(pk=command_id, handled_at__isnull=True).first()
            is None
        ):
            return  # a twin run recorded its answer first
        command.action = answer.action
        command.draft_id = answer.draft_id
        command.outcome = answer.outcome
        command.reply = answer.reply
        command.stale_through = answer.stale_through
        command.handled_at = timezone.now()
        command.save(update_fields=["action", "draft", "outcome", "reply", "stale_through", "handled_at"])
        logger.info("owner %s command %s: %s %s", command.owner_id, command.pk, answer.action, answer.outcome)
        if answer.reply:
            queue_to_owner(
                command.owner_id,
                answer.reply,
                account_id=command.account_id,
                draft_id=answer.draft_id,
                conversation_id=answer.conversation_id,
            )
        else:
            jobs.schedule("conversations.tasks.send_owner_notices", command.owner_id)


def answer_command(command: OwnerCommand) -> Answer:
    """Act on one command for its owner, through the dashboard's services; never on another owner's things."""
    if command.kind in Kind.QUIET:
        return Answer(
            "", action=command.kind
        )  # a reaction, an edit, a notice: no command; it opens the window only
    parsed = parse(command.text) if command.kind in Kind.READABLE else Command(HELP)
    if parsed.verb == HELP:
        return Answer(HELP_TEXT, action=HELP)
    if parsed.verb == STATUS:
        return Answer(status_text(command.owner_id), action=STATUS)
    if parsed.verb == TAKE:
        return _take(command, parsed)
    if parsed.verb == EDIT and not parsed.text:
        return _refused(parsed, "Edit needs your text: edit 12 <your text>.")
    draft = _target_draft(command.owner_id, parsed)
    if isinstance(draft, Answer):
        return draft
    if parsed.verb == REJECT:
        return _reject(command, draft)
    return _approve(command, parsed, draft)


def _target_draft(owner_id: int, parsed: Command) -> Draft | Answer:
    """The owner's draft the command names, or the latest notification's; else why there is none."""
    number = parsed.number
    if number is None:
        notice = _latest_notice(owner_id)
        if notice is None or notice.draft_id is None:
            return _refused(parsed, "Which draft? Add its number, e.g. ok 12; status lists what waits.")
        number = notice.draft_id
    draft = (
        Draft.objects.select_related("conversation__contact")
        .filter(pk=number, conversation__owner_id=owner_id)
        .first()
    )
    if draft is None:
        return _refused(parsed, f"No such draft: {number}.")
    return draft


def _latest_notice(owner_id: int) -> OwnerNotice | None:
    """The latest notification that reached the owner (not an answer to a command, not one still held)."""
    return (
        OwnerNotice.objects.filter(
            owner_id=owner_id, kind=OwnerNoticeKind.NOTICE, status=OwnerNoticeStatus.SENT
        )
        .order_by("-id")
        .first()
    )


def _approve(command: OwnerCommand, parsed: Command, draft: Draft) -> Answer:
    number, company = draft.pk, _company(draft.conversation)
    try:
        services.draft_approve(
            draft_id=number,
            by=command.owner,
            text=parsed.text if parsed.verb == EDIT else None,
            seen_through=_confirmed_through(command, parsed, draft),
        )
    except services.StaleDraft as stale:
        again = f"edit {number} <your text>" if parsed.verb == EDIT else f"ok {number}"
        return Answer(
            f"Draft {number} was not sent: {stale.staleness.describe()}{_newer_messages(draft)}\n"
            f"Send {again} again to send it anyway.",
            OwnerCommandOutcome.REFUSED,
            parsed.verb,
            number,
            draft.conversation_id,
            stale_through=stale.newest_message_id,
        )
    except services.ActionRefused as refused:
        return Answer(
            _refusal(number, refused), OwnerCommandOutcome.REFUSED, parsed.verb, number, draft.conversation_id
        )
    done = (
        f"Sending your text for draft {number} to {company}."
        if parsed.verb == EDIT
        else (f"Sending draft {number} to {company}.")
    )
    return Answer(done, action=parsed.verb, draft_id=number, conversation_id=draft.conversation_id)


def _confirmed_through(command: OwnerCommand, parsed: Command, draft: Draft) -> int | None:
    """The newest message the owner's previous, refused, identical command told them of: sending again confirms it."""
    previous = (
        OwnerCommand.objects.filter(owner_id=command.owner_id, draft=draft, id__lt=command.pk)
        .exclude(handled_at=None)
        .order_by("-id")
        .first()
    )
    if previous is None or previous.action != parsed.verb:
        return None
    return previous.stale_through


def _newer_messages(draft: Draft) -> str:
    """The company's messages since the draft was written, newest last, one line each (at most two)."""
    newer = list(
        Message.objects.filter(
            conversation_id=draft.conversation_id, direction=Direction.IN, id__gt=draft.answers_through
        )
        .order_by("-id")
        .values_list("text", flat=True)[:2]
    )
    return "".join(f"\n“{one_line(text, 160)}”" for text in reversed(newer) if text.strip())


def _reject(command: OwnerCommand, draft: Draft) -> Answer:
    number = draft.pk
    try:
        services.draft_reject(draft_id=number, by=command.owner)
    except services.ActionRefused as refused:
        return Answer(
            _refusal(number, refused), OwnerCommandOutcome.REFUSED, REJECT, number, draft.conversation_id
        )
    return Answer(
        f"Draft {number} rejected: nothing goes to {_company(draft.conversation)}.",
        action=REJECT,
        draft_id=number,
        conversation_id=draft.conversation_id,
    )


def _take(command: OwnerCommand, parsed: Command) -> Answer:
    if parsed.number is None:
        notice = _latest_notice(command.owner_id)
        conversation_id = notice.conversation_id if notice else None
        if conversation_id is None:
            return _refused(parsed, "Which draft? Add its number, e.g. take 12; status lists what waits.")
        draft_id = notice.draft_id
    else:
        target = _target_draft(command.owner_id, parsed)
        if isinstance(target, Answer):
            return target
        conversation_id, draft_id = target.conversation_id, target.pk
    conversation = (
        Conversation.objects.select_related("contact")
        .filter(pk=conversation_id, owner_id=command.owner_id)
        .first()
    )
    if conversation is None:
        return _refused(parsed, "That conversation no longer exists.")
    company = _company(conversation)
    if conversation.bot_paused:
        reply = f"You already answer {company} yourself."
    else:
        services.conversation_take_over(conversation_id=conversation.pk, by=command.owner)
        reply = f"You took {company} over: the assistant stays silent there.\n{conversation_link(conversation.pk)}"
    return Answer(reply, action=TAKE, draft_id=draft_id, conversation_id=conversation.pk)


#: How a decided draft is described when an action on it is refused.
_ALREADY = {
    DraftStatus.SENT: "was already sent",
    DraftStatus.PRINTED: "was already printed (no provider is configured)",
    DraftStatus.APPROVED: "is already approved and on its way",
    DraftStatus.REJECTED: "was already rejected",
    DraftStatus.WITHDRAWN: "was withdrawn",
    DraftStatus.FAILED: "could not be sent",
}


def _refusal(number: int, refused: Exception) -> str:
    status = Draft.objects.filter(pk=number).values_list("status", flat=True).first()
    if status in _ALREADY:
        return f"Draft {number} {_ALREADY[status]}."
    return f"Draft {number}: {refused}"


def _refused(parsed: Command, reply: str) -> Answer:
    return Answer(reply, OwnerCommandOutcome.REFUSED, parsed.verb)


def _company(conversation: Conversation) -> str:
    return one_line(conversation.contact.shown(), 60)


def status_text(owner_id: int) -> str:
    """What waits for the owner: pending drafts with their numbers, and conversations that need them without one."""
    pending = Draft.objects.filter(conversation__owner_id=owner_id, status=DraftStatus.PENDING)
    count = pending.count()
    lines = []
    if count:
        lines.append(f"{count} draft(s) wait for you:")
        for draft in pending.select_related("conversation__contact").order_by("id")[:STATUS_LIST_LIMIT]:
            lines.append(f"#{draft.pk} {_company(draft.conversation)}: “{one_line(draft.text, 80)}”")
        if count > STATUS_LIST_LIMIT:
            lines.append(f"And {count - STATUS_LIST_LIMIT} more.")
    attention = (
        Conversation.objects.filter(owner_id=owner_id, status=ConversationStatus.NEEDS_ATTENTION)
        .exclude(drafts__status=DraftStatus.PENDING)
        .count()
    )
    if attention:
        lines.append(f"{attention} conversation(s) need you without a draft: {review_queue_url()}")
    return "\n".join(lines) if lines else "Nothing waits for you."


def reschedule_stalled(stalled: datetime) -> int:
    """The sweeper's part: commands not acted on, and queued notes not sent, before `stalled` get a job again."""
    commands = OwnerCommand.objects.filter(handled_at=None, received_at__lt=stalled).values_list(
        "id", flat=True
    )
    for pk in commands:
        jobs.enqueue_now("conversations.tasks.run_owner_command", pk)
    queued = OwnerNotice.objects.filter(status=OwnerNoticeStatus.QUEUED, created_at__lt=stalled)
    owners = sorted(set(queued.values_list("owner_id", flat=True)))
    for owner_id in owners:
        jobs.enqueue_now("conversations.tasks.send_owner_notices", owner_id)
    return len(commands) + len(owners)

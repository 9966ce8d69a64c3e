"""The owner's daily digest: what was answered on their behalf, what waits for them, what was escalated.

Sent once a day at the owner's `digest_hour` in their `time_zone`, by email and, when they gave
their own WhatsApp number, as a shorter note there (`owner_phone.send_to_owner`). Nothing is sent
on a day when nothing happened and nothing waits.

Scheduling lives in the database, not in a queue: the sweeper asks `due_owners()` every round
and schedules `send_digest` for each; `send_digest` claims the day under a row lock with a
conditional UPDATE of `last_digest_at`, so any number of sweepers and workers send one digest
per owner per local day, and a restart (or a lost job) only delays it to the next sweep.
"""

from __future__ import annotations

import logging
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import Truncator

from conversations.escalation import _undeliverable, conversation_admin_url, header_safe, review_queue_url
from conversations.models import (
    Author,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Draft,
    DraftStatus,
    Escalation,
    Message,
    MessageStatus,
    OwnerSettings,
    User,
    time_zone_names,
)
from conversations.owner_phone import send_to_owner

logger = logging.getLogger(__name__)

#: The job the sweeper schedules for an owner whose digest is due.
DIGEST_JOB = "conversations.tasks.send_daily_digest"

#: Outbound statuses that mean the provider took the reply (printed by the console is not sent).
ANSWERED_STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.PLAYED)

#: Entries an email lists per section; the rest are counted.
LIST_LIMIT = 20

#: Names a WhatsApp note lists per section (a note is read on a phone).
NOTE_NAMES = 3

#: Characters of a reply or an escalation's detail quoted in the email.
QUOTE_LIMIT = 120

#: What the first digest covers when there was none before.
FIRST_PERIOD = timedelta(days=1)

#: After the mail server failed to take a digest, the next attempt waits this long (not every sweep).
RETRY_AFTER = timedelta(minutes=5)

#: The longest a digest looks back (an owner who turns it on after months gets the last week).
MAX_PERIOD = timedelta(days=7)


@dataclass(frozen=True)
class Entry:
    """One line of a section: a conversation, the contact's name as one line, and what to say of it."""

    conversation_id: int
    name: str
    what: str


@dataclass
class Digest:
    """What happened for one owner between `since` and `until`, and what waits for them now."""

    since: datetime
    until: datetime
    zone: zoneinfo.ZoneInfo
    answered: list[Entry] = field(default_factory=list)
    waiting: list[Entry] = field(default_factory=list)
    escalated: list[Entry] = field(default_factory=list)
    replies: int = 0

    @property
    def empty(self) -> bool:
        return not (self.answered or self.waiting or self.escalated)


def owner_zone(name: str) -> zoneinfo.ZoneInfo:
    """The owner's zone; a name the server does not know (stored before validation) reads as TIME_ZONE."""
    if name in time_zone_names():
        return zoneinfo.ZoneInfo(name)
    logger.warning("unknown time zone %r; the digest uses TIME_ZONE (%s)", name, settings.TIME_ZONE)
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def is_due(hour: int | None, zone_name: str, last: datetime | None, now: datetime) -> bool:
    """Whether the owner's digest for today (in their zone) is due at `now` and not yet claimed.

    Due from `hour`:00 local time to the end of the local day; one per local day, so a server
    down at the hour sends it when it is back the same day, and changing the hour after today's
    digest does not send a second one.
    """
    if hour is None:
        return False
    zone = owner_zone(zone_name)
    today = now.astimezone(zone).date()
    if now < datetime.combine(today, time(hour), tzinfo=zone):
        return False
    return last is None or last.astimezone(zone).date() < today


def due_owners(now: datetime | None = None) -> list[int]:
    """Owners whose digest is due at `now` (the sweeper's question, answered from the database)."""
    now = now or timezone.now()
    rows = (
        OwnerSettings.objects.filter(digest_hour__isnull=False)
        .exclude(digest_retry_at__gt=now)
        .values_list("owner_id", "digest_hour", "time_zone", "last_digest_at")
    )
    return sorted(owner_id for owner_id, hour, zone, last in rows if is_due(hour, zone, last, now))


def send_digest(owner_id: int, *, now: datetime | None = None) -> bool:
    """The digest job: claim the owner's digest for today and send it; whether anything was sent.

    The claim (`last_digest_at`) is made under the owner's row lock and committed before the
    email goes out, so no mail server is waited on while the lock is held; a second worker waits
    for the lock and then finds the day claimed. A mail server that is down releases the claim
    and the digest is tried again after RETRY_AFTER. The WhatsApp note goes out after, once.
    """
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        row = OwnerSettings.objects.select_for_update().filter(owner_id=owner_id).first()
        if row is None or not is_due(row.digest_hour, row.time_zone, row.last_digest_at, now):
            return False
        if row.digest_retry_at is not None and now < row.digest_retry_at:
            return False
        previous = row.last_digest_at
        unchanged = Q(last_digest_at__isnull=True) if previous is None else Q(last_digest_at=previous)
        claimed = OwnerSettings.objects.filter(Q(pk=row.pk) & unchanged)
        if not claimed.update(last_digest_at=now, digest_retry_at=None):
            return False  # another worker claimed it (a database without row locks)
        digest = collect(
            owner_id,
            since=max(previous or now - FIRST_PERIOD, now - MAX_PERIOD),
            until=now,
            zone=owner_zone(row.time_zone),
        )
        if digest.empty:
            logger.info("owner %s: nothing happened and nothing waits; no digest", owner_id)
            return False
    if not _email(owner_id, row, digest):
        # Release the claim (unless a later one replaced it) and try again after the pause.
        OwnerSettings.objects.filter(pk=row.pk, last_digest_at=now).update(
            last_digest_at=previous, digest_retry_at=now + RETRY_AFTER
        )
        return False
    number = row.notify_whatsapp.strip()
    if number:
        send_to_owner(owner_id, note(digest))
    return True


def collect(owner_id: int, *, since: datetime, until: datetime, zone: zoneinfo.ZoneInfo) -> Digest:
    """The owner's replies sent on their behalf and escalations in (since, until], and what waits now."""
    digest = Digest(since=since, until=until, zone=zone)

    replies = (
        Message.objects.filter(
            conversation__owner_id=owner_id,
            direction=Direction.OUT,
            author=Author.ASSISTANT,
            status__in=ANSWERED_STATUSES,
        )
        .filter(
            Q(accepted_at__gt=since, accepted_at__lte=until)
            | Q(accepted_at__isnull=True, sent_at__gt=since, sent_at__lte=until)
        )
        .select_related("conversation__contact")
        .order_by("id")
    )
    by_conversation: dict[int, list[Message]] = {}
    for message in replies:
        by_conversation.setdefault(message.conversation_id, []).append(message)
    for conversation_id, messages in by_conversation.items():
        last = messages[-1]
        count = f"{len(messages)} replies" if len(messages) > 1 else "1 reply"
        digest.answered.append(
            Entry(
                conversation_id,
                contact_name(last.conversation.contact),
                f"{count}, last: “{_quote(last.text)}”",
            )
        )
    digest.replies = sum(len(messages) for messages in by_conversation.values())

    pending = set(
        Draft.objects.filter(conversation__owner_id=owner_id, status=DraftStatus.PENDING).values_list(
            "conversation_id", flat=True
        )
    )
    waiting = (
        Conversation.objects.filter(owner_id=owner_id)
        .filter(Q(pk__in=pending) | Q(status=ConversationStatus.NEEDS_ATTENTION))
        .select_related("contact")
        .order_by("updated_at", "id")
    )
    for conversation in waiting:
        what = "a reply waits for your approval" if conversation.pk in pending else "needs you"
        digest.waiting.append(Entry(conversation.pk, contact_name(conversation.contact), what))

    escalations = (
        Escalation.objects.filter(
            conversation__owner_id=owner_id, created_at__gt=since, created_at__lte=until
        )
        .select_related("conversation__contact")
        .order_by("created_at", "id")
    )
    for escalation in escalations:
        at = escalation.created_at.astimezone(zone)
        what = f"{escalation.get_reason_display()} ({at:%a %H:%M})"
        digest.escalated.append(
            Entry(escalation.conversation_id, contact_name(escalation.conversation.contact), what)
        )
    return digest


def contact_name(contact: Contact) -> str:
    """The contact as one short line: a company's name cannot start a line (or a header) of its own."""
    if contact.is_webchat_visitor:
        return contact.shown(header_safe(contact.name))
    for candidate in (contact.name, contact.phone, contact.address):
        shown = header_safe(candidate)
        if shown:
            return shown
    return "a contact"


def counts(digest: Digest) -> str:
    """`2 answered, 1 waiting, 1 escalated`: replies, conversations waiting, escalations."""
    return f"{digest.replies} answered, {len(digest.waiting)} waiting, {len(digest.escalated)} escalated"


def subject(digest: Digest) -> str:
    """The email's subject: the owner's date and the counts, never a name the company chose."""
    return f"Gatekeeper daily digest, {digest.until.astimezone(digest.zone):%a %d %b}: {counts(digest)}"


def body(digest: Digest) -> str:
    """The email: the three sections, each capped at LIST_LIMIT entries, with links to act on."""
    since = digest.since.astimezone(digest.zone)
    lines = [f"Since {since:%a %d %b %H:%M} ({digest.zone.key}): {counts(digest)}.", ""]
    sections = (
        ("Waiting for you", digest.waiting, True),
        ("Escalated", digest.escalated, True),
        ("Answered on your behalf", digest.answered, False),
    )
    for title, entries, linked in sections:
        if not entries:
            continue
        lines.append(f"{title}:")
        for entry in entries[:LIST_LIMIT]:
            lines.append(f"- {entry.name}: {entry.what}")
            if linked:
                lines.append(f"  {conversation_admin_url(entry.conversation_id)}")
        if len(entries) > LIST_LIMIT:
            lines.append(f"- and {len(entries) - LIST_LIMIT} more")
        lines.append("")
    lines.append(f"Everything that needs you, in the review queue: {review_queue_url()}")
    return "\n".join(lines) + "\n"


def note(digest: Digest) -> str:
    """The WhatsApp copy: the counts, a few names per section, and the review queue's link."""
    lines = [f"Gatekeeper daily digest: {counts(digest)}."]
    for title, entries in (
        ("Waiting", digest.waiting),
        ("Escalated", digest.escalated),
        ("Answered", digest.answered),
    ):
        if entries:
            names = list(dict.fromkeys(entry.name for entry in entries))
            more = f" and {len(names) - NOTE_NAMES} more" if len(names) > NOTE_NAMES else ""
            lines.append(f"{title}: {', '.join(names[:NOTE_NAMES])}{more}.")
    lines.append(review_queue_url())
    return "\n".join(lines)


def _quote(text: str) -> str:
    return Truncator(" ".join(text.split())).chars(QUOTE_LIMIT)


def _email(owner_id: int, row: OwnerSettings, digest: Digest) -> bool:
    """Email the digest; False when the mail server may take it later (the caller releases the claim)."""
    address = (
        row.notify_email or User.objects.filter(pk=owner_id).values_list("email", flat=True).first() or ""
    )
    if not address:
        logger.info("owner %s has no email address; the digest goes to WhatsApp only, if set", owner_id)
        return True
    try:
        send_mail(subject=subject(digest), message=body(digest), from_email=None, recipient_list=[address])
    except Exception as exc:
        if _undeliverable(exc):
            logger.error(
                "the digest for owner %s cannot be emailed (%s: %s); not retried",
                owner_id,
                type(exc).__name__,
                exc,
            )
            return True
        logger.warning(
            "could not email the digest to owner %s (%s: %s); trying again in %d s",
            owner_id,
            type(exc).__name__,
            exc,
            RETRY_AFTER.total_seconds(),
        )
        return False
    return True

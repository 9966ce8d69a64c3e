"""Telling the owner: flag the conversation, record why, notify them off the request path.

The notification job emails the owner with a link straight to the conversation and, when
they gave their own WhatsApp number, sends it there too from their gatekeeper's number.

Batched per owner: at most one email (and one WhatsApp note) every NOTIFY_EMAIL_INTERVAL
seconds. An escalation within the interval waits for the owner's digest, scheduled for when
the interval ends, which covers everything not yet notified. The batch is claimed under a row
lock on the owner's OwnerSettings, so workers in several processes send one email per batch;
the email and the WhatsApp note go out after that claim commits, never under the lock. The claim
keeps what it is to send as a `NotificationBatch`, deleted once the owner was told: a worker that
dies in between leaves it for the sweeper (`finish_stranded`), so a crash can make the owner hear
twice, never not at all. Names the company chose are made header-safe (`header_safe`).
"""

from __future__ import annotations

import logging
import smtplib
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator

from conversations import dashboard_events, jobs
from conversations.models import (
    Conversation,
    ConversationStatus,
    Draft,
    DraftStatus,
    Escalation,
    EscalationReason,
    NotificationBatch,
    OwnerSettings,
    User,
)
from conversations.owner_phone import draft_note, one_line, send_to_owner

logger = logging.getLogger(__name__)

#: The same reason on the same conversation within this window notifies once.
REPEAT_WINDOW = timedelta(minutes=10)

#: Escalations a digest lists one by one; the rest are counted, with the review queue's link.
DIGEST_LIST_LIMIT = 20

#: Characters of an escalation's detail shown in a digest.
DIGEST_DETAIL_LIMIT = 300

#: The longest contact name in a subject or a WhatsApp note.
NAME_LIMIT = 60

#: Unicode categories never put in a header: controls (CR, LF, ...), format characters
#: (zero-width, bidirectional overrides) and lone surrogates.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})

#: A digest runs this long after its due time, so a scheduler a little ahead does not run it early.
DIGEST_SLACK_SECONDS = 1.0

#: After a failed attempt (the mail server down), the digest tries again after the interval, or this.
RETRY_AFTER_SECONDS = 60.0

#: Escalations marked notified per UPDATE (SQLite limits the parameters of one statement).
MARK_CHUNK = 500


def escalate(
    conversation: Conversation, *, reason: EscalationReason, detail: str = "", dedupe: bool = True
) -> Escalation | None:
    """Flag the conversation as needing the owner and schedule their notification on commit.

    `dedupe=False` is for events that are each news (a message a caller left on each call).
    """
    dashboard_events.changed(conversation)
    if conversation.status != ConversationStatus.NEEDS_ATTENTION:
        conversation.status = ConversationStatus.NEEDS_ATTENTION
        Conversation.objects.filter(pk=conversation.pk).update(
            status=ConversationStatus.NEEDS_ATTENTION, updated_at=timezone.now()
        )
    recent = Escalation.objects.filter(
        conversation=conversation, reason=reason, created_at__gte=timezone.now() - REPEAT_WINDOW
    )
    if dedupe and recent.exists():
        return None
    escalation = Escalation.objects.create(conversation=conversation, reason=reason, detail=detail[:2000])
    logger.info("conversation %s escalated: %s", conversation.pk, reason)
    jobs.schedule("conversations.tasks.notify_owner", escalation.pk)
    return escalation


def conversation_admin_url(conversation_id: int) -> str:
    """The absolute link to the conversation's page in the review dashboard."""
    path = reverse("admin:conversations_conversation_change", args=[conversation_id])
    return f"{settings.PUBLIC_BASE_URL}{path}"


@dataclass(frozen=True)
class WhatsAppNotice:
    """A note to the owner's own WhatsApp number, decided inside the claim and kept with its batch."""

    text: str
    draft_id: int | None = None  # the one draft the note asks about: a command without a number applies to it
    conversation_id: int | None = None


def notify_owner(escalation_id: int, *, now: datetime | None = None) -> None:
    """The escalation's job: tell its owner now, or leave it to their digest when they were just emailed."""
    owner_id = (
        Escalation.objects.filter(pk=escalation_id, notified_at__isnull=True)
        .values_list("conversation__owner_id", flat=True)
        .first()
    )
    if owner_id is not None:
        _notify(owner_id, now=now, escalation_id=escalation_id)


def notify_owner_digest(owner_id: int, *, now: datetime | None = None) -> None:
    """The digest job (and the sweeper's): tell the owner of everything not yet notified, in one email."""
    _notify(owner_id, now=now, escalation_id=None)


def owners_with_overdue_notifications(stalled: datetime) -> list[int]:
    """Owners whose batch should have gone out before `stalled` (the sweeper's cut-off) and did not.

    An escalation waiting for its owner's digest is not overdue until the digest's due time
    (`last_notified_at` + NOTIFY_EMAIL_INTERVAL) is itself older than the cut-off: only then
    did the digest's job vanish, and the sweeper schedules one digest for the owner.
    """
    interval = timedelta(seconds=settings.NOTIFY_EMAIL_INTERVAL)
    owner_ids = set(
        Escalation.objects.filter(notified_at__isnull=True, created_at__lt=stalled).values_list(
            "conversation__owner_id", flat=True
        )
    )
    last_notified = dict(
        OwnerSettings.objects.filter(owner_id__in=owner_ids).values_list("owner_id", "last_notified_at")
    )
    return sorted(
        owner_id
        for owner_id in owner_ids
        if last_notified.get(owner_id) is None or last_notified[owner_id] + interval < stalled
    )


def header_safe(text: str, limit: int = NAME_LIMIT) -> str:
    """`text` fit for one line of a header: no control or format characters, whitespace collapsed, cut short.

    A contact's name is chosen by the company; a line break in it would end the subject and
    start a header of the company's choosing (Django refuses it with BadHeaderError).
    """
    spaced = "".join(" " if char.isspace() else char for char in text)  # CR, LF, U+2028, ... are spaces
    kept = "".join(char for char in spaced if unicodedata.category(char) not in UNSAFE_CATEGORIES)
    return Truncator(" ".join(kept.split())).chars(limit)


def review_queue_url() -> str:
    """The absolute link to the conversations that need the owner, in the review dashboard."""
    path = reverse("admin:conversations_conversation_changelist")
    return f"{settings.PUBLIC_BASE_URL}{path}?needs=anything"


#: The job that finishes a batch a worker left behind.
FINISH_JOB = "conversations.tasks.finish_notification"


def _notify(owner_id: int, *, now: datetime | None, escalation_id: int | None) -> None:
    batch = _claim_batch(owner_id, now=now, escalation_id=escalation_id)
    if batch is not None:
        _deliver(batch)


def _deliver(batch: NotificationBatch) -> None:
    """The email, then the WhatsApp note, then the batch is forgotten; each step is recorded as it is done."""
    if batch.email_to:
        if not _email(batch):
            return  # released: a digest tries again later
        NotificationBatch.objects.filter(pk=batch.pk).update(email_to="")  # a finisher does not email twice
    if batch.note_text:
        send_to_owner(
            batch.owner_id,
            batch.note_text,
            number=batch.note_to,
            draft_id=batch.note_draft_id,
            conversation_id=batch.note_conversation_id,
        )
    NotificationBatch.objects.filter(pk=batch.pk).delete()


def finish_stranded(now: datetime) -> int:
    """The sweeper's part: a batch a worker took on and never finished gets a job that finishes it."""
    stranded = NotificationBatch.objects.filter(claimed_at__lt=_abandoned_before(now))
    ids = list(stranded.values_list("pk", flat=True))
    for pk in ids:
        jobs.enqueue_now(FINISH_JOB, pk)
    return len(ids)


def finish(batch_id: int, *, now: datetime | None = None) -> None:
    """The finishing job: take the stranded batch over (one job wins) and deliver what is left of it."""
    now = now or timezone.now()
    taken = NotificationBatch.objects.filter(pk=batch_id, claimed_at__lt=_abandoned_before(now)).update(
        claimed_at=now
    )
    batch = NotificationBatch.objects.filter(pk=batch_id).first() if taken else None
    if batch is not None:
        logger.warning(
            "finishing notification %s of owner %s, left by a worker that stopped", batch.pk, batch.owner_id
        )
        _deliver(batch)


def _abandoned_before(now: datetime) -> datetime:
    """A batch taken on before this was left by a worker that stopped: delivering one waits at most
    for the mail server and the provider, each within its timeout."""
    grace = settings.STALLED_WORK_SECONDS + settings.EMAIL_TIMEOUT + settings.OUTBOUND_HTTP_TIMEOUT
    return now - timedelta(seconds=grace)


def _claim_batch(
    owner_id: int, *, now: datetime | None, escalation_id: int | None
) -> NotificationBatch | None:
    """Claim every escalation not yet notified for one email, or schedule the digest when it is too soon.

    Decided under a row lock on the owner's settings, so workers in any number of processes
    claim one batch; the claim commits before anything is sent (`_email`), so no mail server
    or provider is ever waited on while the lock is held.
    """
    pending = Escalation.objects.filter(conversation__owner_id=owner_id, notified_at__isnull=True)
    if not pending.exists():
        return None
    OwnerSettings.objects.get_or_create(owner_id=owner_id)
    with transaction.atomic(durable=True):
        owner_settings = OwnerSettings.objects.select_for_update().get(owner_id=owner_id)
        now = now or timezone.now()
        ids = list(pending.order_by("created_at", "id").values_list("id", flat=True))
        if not ids:
            return None  # another worker claimed them while this one waited for the lock
        interval = timedelta(seconds=settings.NOTIFY_EMAIL_INTERVAL)
        last = owner_settings.last_notified_at
        if last is not None and now < last + interval:
            # One digest job per batch: the escalation with the lowest id schedules it (its job always
            # runs, or the sweeper stands in); a digest that runs early schedules itself again.
            if escalation_id is None or escalation_id == min(ids):
                _schedule_digest(owner_id, due=last + interval, now=now)
            logger.info(
                "owner %s was notified at %s; %d escalation(s) wait for the digest at %s",
                owner_id,
                last.isoformat(),
                len(ids),
                (last + interval).isoformat(),
            )
            return None

        shown = list(
            Escalation.objects.filter(pk__in=ids[:DIGEST_LIST_LIMIT])
            .select_related("conversation__contact", "conversation__account")
            .order_by("created_at", "id")
        )
        owner_email = User.objects.filter(pk=owner_id).values_list("email", flat=True).first() or ""
        address = owner_settings.notify_email or owner_email
        if not address:
            logger.warning("owner %s has no email address; escalation(s) %s not emailed", owner_id, ids)
        for start in range(0, len(ids), MARK_CHUNK):
            Escalation.objects.filter(pk__in=ids[start : start + MARK_CHUNK]).update(notified_at=now)
        owner_settings.last_notified_at = now
        owner_settings.save(update_fields=["last_notified_at"])
        number = owner_settings.notify_whatsapp.strip()
        notice = _whatsapp_notice(shown, len(ids)) if number else None
        return NotificationBatch.objects.create(
            owner_id=owner_id,
            escalation_ids=ids,
            claimed_at=now,
            email_to=address,
            subject=_subject(shown[0], len(ids)),
            body=_body(shown, len(ids)),
            note_to=number,
            note_text=notice.text if notice else "",
            note_draft_id=notice.draft_id if notice else None,
            note_conversation_id=notice.conversation_id if notice else None,
        )


def _email(batch: NotificationBatch) -> bool:
    """Send the claimed batch's email (after the claim's commit); False when it is to be tried again.

    A mail server that is down releases the claim (and drops the batch): the escalations wait for
    a digest after the interval (or RETRY_AFTER_SECONDS), the attempt counting as the owner's last
    notification, so they are not retried by every job and sweep meanwhile. An email that can
    never be sent as it stands stays claimed: the escalations wait in the review queue.
    """
    ids = batch.escalation_ids
    try:
        send_mail(subject=batch.subject, message=batch.body, from_email=None, recipient_list=[batch.email_to])
    except Exception as exc:
        if _undeliverable(exc):
            logger.error(
                "the email to owner %s about %d escalation(s) cannot be sent (%s: %s); "
                "they are marked notified and wait in the review queue",
                batch.owner_id,
                len(ids),
                type(exc).__name__,
                exc,
            )
            return True
        retry = max(settings.NOTIFY_EMAIL_INTERVAL, RETRY_AFTER_SECONDS)
        now = timezone.now()
        with transaction.atomic(durable=True):
            for start in range(0, len(ids), MARK_CHUNK):
                Escalation.objects.filter(pk__in=ids[start : start + MARK_CHUNK]).update(notified_at=None)
            NotificationBatch.objects.filter(pk=batch.pk).delete()
            _schedule_digest(batch.owner_id, due=now + timedelta(seconds=retry), now=now)
        logger.warning(
            "could not email owner %s about %d escalation(s) (%s: %s); trying again in %d s",
            batch.owner_id,
            len(ids),
            type(exc).__name__,
            exc,
            retry,
            exc_info=not isinstance(exc, OSError),  # an unexpected error shows where it came from
        )
        return False
    return True


def _schedule_digest(owner_id: int, *, due: datetime, now: datetime) -> None:
    delay = max((due - now).total_seconds(), 0) + DIGEST_SLACK_SECONDS
    jobs.schedule("conversations.tasks.notify_owner_digest", owner_id, delay=delay)


def _undeliverable(exc: Exception) -> bool:
    """Whether this email can never be sent as it stands: a malformed message or address, or a 5xx refusal."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return isinstance(exc, ValueError)  # BadHeaderError, an address that does not encode


def _contact_name(conversation: Conversation) -> str:
    """The contact's name as one short line, or their number or address when the name has nothing left."""
    contact = conversation.contact
    if contact.is_webchat_visitor:
        return contact.shown(header_safe(contact.name))
    for candidate in (contact.name, contact.phone, contact.address):
        shown = header_safe(candidate)
        if shown:
            return shown
    return "a contact"


def _subject(first: Escalation, count: int) -> str:
    name = _contact_name(first.conversation)
    return f"Gatekeeper needs you: {name}" + (f" and {count - 1} more" if count > 1 else "")


#: Escalations a WhatsApp note lists one by one.
NOTE_LIST_LIMIT = 5


def _whatsapp_notice(shown: list[Escalation], count: int) -> WhatsAppNotice:
    """The WhatsApp note: the email's subject in a line; each held draft with its number, text and why it waits.

    One escalation with a held draft is that draft's notification (`ok` without a number approves it);
    several are listed with their draft numbers, with the link to the queue.
    """
    first = shown[0]
    name = _contact_name(first.conversation)
    drafts = _pending_drafts({escalation.conversation_id for escalation in shown[:NOTE_LIST_LIMIT]})
    if count == 1:
        reason = first.get_reason_display().lower()
        draft = drafts.get(first.conversation_id)
        if draft is None:
            text = (
                f"Gatekeeper needs you: {name} ({reason}).\n{conversation_admin_url(first.conversation_id)}"
            )
            return WhatsAppNotice(text, conversation_id=first.conversation_id)
        why = first.get_reason_display() + (f": {one_line(draft.decision, 250)}" if draft.decision else "")
        text = draft_note(
            draft, headline=f"Gatekeeper needs you: {name} ({reason}), draft #{draft.pk}.", why=why
        )
        return WhatsAppNotice(text, draft_id=draft.pk, conversation_id=first.conversation_id)
    lines = [f"Gatekeeper needs you: {name} and {count - 1} more."]
    for escalation in shown[:NOTE_LIST_LIMIT]:
        draft = drafts.get(escalation.conversation_id)
        who = _contact_name(escalation.conversation)
        reason = escalation.get_reason_display().lower()
        lines.append(
            f"#{draft.pk} {who} ({reason}): “{one_line(draft.text, 120)}”" if draft else f"- {who} ({reason})"
        )
    if count > NOTE_LIST_LIMIT:
        lines.append(f"And {count - NOTE_LIST_LIMIT} more.")
    if drafts:
        lines.append("Reply ok <number> to send a draft, no <number> to reject it, status for what waits.")
    lines.append(review_queue_url())
    return WhatsAppNotice("\n".join(lines))


def _pending_drafts(conversation_ids: set[int]) -> dict[int, Draft]:
    """The newest pending draft of each conversation, by conversation id."""
    found: dict[int, Draft] = {}
    for draft in Draft.objects.filter(
        conversation_id__in=conversation_ids, status=DraftStatus.PENDING
    ).order_by("id"):
        found[draft.conversation_id] = draft
    return found


def _body(shown: list[Escalation], count: int) -> str:
    """One escalation as before; several as a list, oldest first, capped, with the review queue's link."""
    if count == 1:
        (escalation,) = shown
        conversation = escalation.conversation
        return (
            f"{_contact_name(conversation)} on {header_safe(str(conversation.account))} needs your attention.\n\n"
            f"Why: {escalation.get_reason_display()}\n{escalation.detail}\n\n"
            f"Open the conversation: {conversation_admin_url(conversation.pk)}\n"
        )
    lines = [f"{count} things need your attention since Gatekeeper last wrote to you, oldest first.", ""]
    for number, escalation in enumerate(shown, start=1):
        conversation = escalation.conversation
        lines.append(f"{number}. {_contact_name(conversation)} on {header_safe(str(conversation.account))}")
        lines.append(f"   Why: {escalation.get_reason_display()}")
        if escalation.detail:
            lines.append(f"   {Truncator(' '.join(escalation.detail.split())).chars(DIGEST_DETAIL_LIMIT)}")
        lines.append(f"   Open the conversation: {conversation_admin_url(conversation.pk)}")
        lines.append("")
    if count > len(shown):
        lines.append(f"And {count - len(shown)} more.")
    lines.append(f"Everything that needs you, in the review queue: {review_queue_url()}")
    return "\n".join(lines) + "\n"

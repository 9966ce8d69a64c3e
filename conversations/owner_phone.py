"""The owner's own WhatsApp number: what Gatekeeper sends there, from the owner's gatekeeper number.

Notifications, confirmations of the owner's commands and the daily digest all leave through
`send_to_owner` (now, from a job) or `queue_to_owner` (inside a transaction, sent after the
commit), so the choice of account and the handling of a closed window live in one place.

Every note is kept (`OwnerNotice`). WhatsApp delivers free-form text only within 24 hours of
the owner's last message to that number (the owner's window, opened by any message from
their number, `OwnerCommand`). Outside it a note goes as the owner's configured template
(`OwnerSettings.notify_template`), or, with none, is held and sent when the owner next
writes: logged, never dropped. With no record of the owner ever writing (an install that
predates commands) the note is tried free-form and falls back the same way if refused.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, Max, When
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator

from conversations import jobs
from conversations.models import (
    ChannelAccount,
    Draft,
    DraftStatus,
    Escalation,
    OwnerCommand,
    OwnerNotice,
    OwnerNoticeKind,
    OwnerNoticeStatus,
    OwnerSettings,
    Provider,
)
from conversations.phones import digits, e164, same_number
from conversations.providers import OutboundTemplate, OutboundText, SendFailure, get_provider

logger = logging.getLogger(__name__)

#: Channel providers that can carry a WhatsApp note to the owner, preferred first.
WHATSAPP_PROVIDERS = (Provider.WHATSAPP, Provider.TWILIO)

#: How long after the owner's last message free-form notes reach them (WhatsApp's rule, as `window.WINDOW`).
OWNER_WINDOW = timedelta(hours=24)

#: The draft text a note quotes, in characters.
DRAFT_TEXT_LIMIT = 700

#: A template variable's longest text (Meta refuses long parameters, and line breaks in them).
TEMPLATE_VARIABLE_LIMIT = 900

#: A number shorter than this is not a phone number (it could never identify the owner).
MIN_DIGITS = 7

#: A note that Gatekeeper refused to attempt, or the provider refused, for the closed window.
WINDOW_CLOSED_NOTE = "WhatsApp delivers only within 24 hours of your last message to this number"


def is_owner_number(notify_whatsapp: str, sender: str) -> bool:
    """Whether `sender` is the owner's own number, compared digit by digit (a user id never is)."""
    return len(digits(notify_whatsapp)) >= MIN_DIGITS and same_number(notify_whatsapp, sender)


def owner_number(owner_id: int) -> str:
    """The owner's own WhatsApp number as `+<digits>`, or "" when they gave none."""
    number = OwnerSettings.objects.filter(owner_id=owner_id).values_list("notify_whatsapp", flat=True).first()
    return e164(number or "")


def owner_accounts(owner_id: int) -> list[ChannelAccount]:
    """The owner's WhatsApp accounts: Meta's first, then Twilio's."""
    return list(
        ChannelAccount.objects.filter(owner_id=owner_id, provider__in=WHATSAPP_PROVIDERS).order_by(
            Case(When(provider=Provider.WHATSAPP, then=0), default=1), "id"
        )
    )


def owner_account(owner_id: int) -> ChannelAccount | None:
    """The owner's WhatsApp account that writes to their own number: Meta's first, then Twilio's."""
    accounts = owner_accounts(owner_id)
    return accounts[0] if accounts else None


def last_written(owner_id: int) -> dict[int, datetime]:
    """When the owner last wrote from their own number, by the account they wrote to."""
    rows = (
        OwnerCommand.objects.filter(owner_id=owner_id)
        .values("account_id")
        .annotate(latest=Max("received_at"))
        .values_list("account_id", "latest")
    )
    return dict(rows)


def window_open(owner_id: int, *, now: datetime | None = None) -> bool:
    """Whether the owner wrote to one of their WhatsApp accounts within the last 24 hours."""
    now = now or timezone.now()
    return any(now - moment < OWNER_WINDOW for moment in last_written(owner_id).values())


def send_to_owner(
    owner_id: int,
    text: str,
    *,
    number: str = "",
    draft_id: int | None = None,
    conversation_id: int | None = None,
    kind: str = OwnerNoticeKind.NOTICE,
    now: datetime | None = None,
) -> bool:
    """Send `text` to the owner's own number now (from a job); whether the provider accepted it.

    The note is kept: refused for the closed window it goes as the owner's template or waits
    for the owner's next message. Other failures are logged.
    """
    phone = e164(number) or owner_number(owner_id)
    if not phone:
        return False
    notice = OwnerNotice.objects.create(
        owner_id=owner_id,
        kind=kind,
        text=text,
        draft_id=draft_id,
        conversation_id=conversation_id,
        status=OwnerNoticeStatus.SENDING,
    )
    return _deliver(notice, phone, now=now or timezone.now()) == OwnerNoticeStatus.SENT


def queue_to_owner(
    owner_id: int,
    text: str,
    *,
    kind: str = OwnerNoticeKind.REPLY,
    account_id: int | None = None,
    draft_id: int | None = None,
    conversation_id: int | None = None,
) -> OwnerNotice:
    """Inside a transaction: keep the note and send it from a job once the transaction commits."""
    notice = OwnerNotice.objects.create(
        owner_id=owner_id,
        kind=kind,
        text=text,
        account_id=account_id,
        draft_id=draft_id,
        conversation_id=conversation_id,
        status=OwnerNoticeStatus.QUEUED,
    )
    jobs.schedule("conversations.tasks.send_owner_notices", owner_id)
    return notice


def send_waiting(owner_id: int, *, now: datetime | None = None) -> int:
    """The job: send the queued notes, then, once the owner's window is open, the held ones; how many went.

    Each note is claimed (`sending`) before the provider is called, so two runs never send one twice.
    """
    now = now or timezone.now()
    phone = owner_number(owner_id)
    if not phone:
        return 0
    statuses = [OwnerNoticeStatus.QUEUED]
    if window_open(owner_id, now=now):
        statuses.append(OwnerNoticeStatus.HELD)
    waiting = OwnerNotice.objects.filter(owner_id=owner_id, status__in=statuses).order_by(
        Case(When(status=OwnerNoticeStatus.QUEUED, then=0), default=1), "id"
    )
    sent = 0
    for notice in waiting.select_related("draft"):
        if stale := _stale_while_held(notice):
            OwnerNotice.objects.filter(pk=notice.pk, status=OwnerNoticeStatus.HELD).update(
                status=OwnerNoticeStatus.FAILED, error=stale
            )
            continue
        claimed = OwnerNotice.objects.filter(pk=notice.pk, status=notice.status).update(
            status=OwnerNoticeStatus.SENDING
        )
        if claimed and _deliver(notice, phone, now=now) == OwnerNoticeStatus.SENT:
            sent += 1
    return sent


def _stale_while_held(notice: OwnerNotice) -> str:
    """Why a held note would mislead now ("" when it would not): its draft was decided, or it answered
    an earlier command (the owner wrote again, and that gets its own answer)."""
    if notice.status != OwnerNoticeStatus.HELD:
        return ""
    if notice.kind == OwnerNoticeKind.REPLY:
        return "superseded: the owner wrote again"
    if notice.draft and notice.draft.status != DraftStatus.PENDING:
        return "the draft was decided before the note could be sent"
    return ""


def _deliver(notice: OwnerNotice, phone: str, *, now: datetime) -> str:
    """Send one claimed note free-form, as the template, or hold it; record and return its status."""
    accounts = owner_accounts(notice.owner_id)
    if not accounts:
        logger.warning("owner %s has no WhatsApp number to send notifications from", notice.owner_id)
        return _finish(notice, OwnerNoticeStatus.FAILED, error="no WhatsApp account to send from")
    written = last_written(notice.owner_id)
    open_accounts = sorted(
        (
            account
            for account in accounts
            if account.pk in written and now - written[account.pk] < OWNER_WINDOW
        ),
        key=lambda account: (account.pk != notice.account_id, -written[account.pk].timestamp()),
    )
    if written and not open_accounts:
        return _outside_window(notice, phone, accounts, refusal="")
    account = open_accounts[0] if open_accounts else accounts[0]
    try:
        receipt = get_provider(account.provider).send_text(
            OutboundText(account_address=account.address, to=phone, to_phone=phone, text=notice.text)
        )
    except SendFailure as failure:
        if failure.window_closed:
            return _outside_window(notice, phone, accounts, refusal=str(failure))
        logger.warning("WhatsApp note to owner %s failed: %s", notice.owner_id, failure)
        return _finish(notice, OwnerNoticeStatus.FAILED, account=account, error=str(failure))
    except Exception as exc:
        logger.exception("WhatsApp note to owner %s failed", notice.owner_id)
        return _finish(
            notice, OwnerNoticeStatus.FAILED, account=account, error=f"{type(exc).__name__}: {exc}"
        )
    return _finish(notice, OwnerNoticeStatus.SENT, account=account, message_id=receipt.provider_message_id)


def _outside_window(notice: OwnerNotice, phone: str, accounts: list[ChannelAccount], *, refusal: str) -> str:
    """The owner's window is closed: the owner's template when there is one, else keep the note for later."""
    why = (
        f"failed: {refusal} ({WINDOW_CLOSED_NOTE})"
        if refusal
        else f"not sent free-form ({WINDOW_CLOSED_NOTE})"
    )
    owner_settings = OwnerSettings.objects.filter(owner_id=notice.owner_id).first()
    template = owner_settings.notify_template.strip() if owner_settings else ""
    is_twilio = template.upper().startswith("HX")
    wanted = Provider.TWILIO if is_twilio else Provider.WHATSAPP
    account = next((account for account in accounts if account.provider == wanted), None)
    if not template or account is None:
        logger.warning(
            "WhatsApp note to owner %s %s; kept, and sent when they next write%s",
            notice.owner_id,
            why,
            "" if not template else f" (no {wanted} account for the template {template!r})",
        )
        return _finish(notice, OwnerNoticeStatus.HELD, error=refusal or WINDOW_CLOSED_NOTE)
    try:
        receipt = get_provider(account.provider).send_template(
            OutboundTemplate(
                account_address=account.address,
                to=phone,
                to_phone=phone,
                template=template,
                language="" if is_twilio else (owner_settings.notify_template_language.strip() or "en_US"),
                variables=(("1", template_variable(notice.text)),),
            )
        )
    except Exception as exc:
        logger.warning(
            "WhatsApp note to owner %s %s, and the template %r failed too (%s); kept, and sent when they next write",
            notice.owner_id,
            why,
            template,
            exc,
        )
        return _finish(notice, OwnerNoticeStatus.HELD, account=account, error=str(exc))
    logger.info("WhatsApp note to owner %s %s; sent as the template %r", notice.owner_id, why, template)
    return _finish(
        notice, OwnerNoticeStatus.SENT, account=account, message_id=receipt.provider_message_id, template=True
    )


def _finish(
    notice: OwnerNotice,
    status: str,
    *,
    account: ChannelAccount | None = None,
    message_id: str = "",
    error: str = "",
    template: bool = False,
) -> str:
    notice.status = status
    notice.account = account or notice.account
    notice.provider_message_id = message_id
    notice.error = error[:2000]
    notice.via_template = template
    notice.sent_at = timezone.now() if status == OwnerNoticeStatus.SENT else None
    notice.save(
        update_fields=["status", "account", "provider_message_id", "error", "via_template", "sent_at"]
    )
    return status


def template_variable(text: str) -> str:
    """A note as one template variable: one line (Meta refuses line breaks and tabs in one), cut short."""
    return Truncator(" | ".join(line.strip() for line in text.splitlines() if line.strip())).chars(
        TEMPLATE_VARIABLE_LIMIT
    )


def one_line(text: str, limit: int) -> str:
    """`text` on one line, whitespace collapsed, cut short: a company's words cannot fake lines of a note."""
    return Truncator(" ".join(text.split())).chars(limit)


def conversation_link(conversation_id: int) -> str:
    """The absolute link to the conversation's page in the review dashboard."""
    path = reverse("admin:conversations_conversation_change", args=[conversation_id])
    return f"{settings.PUBLIC_BASE_URL}{path}"


def draft_note(draft: Draft, *, headline: str, why: str) -> str:
    """A held draft as the owner's phone shows it: its number, the company, the text, why it waits, what to answer."""
    number = draft.pk
    return (
        f"{headline}\n"
        f"“{Truncator(draft.text.strip()).chars(DRAFT_TEXT_LIMIT)}”\n"
        f"Why: {why}\n"
        f"Reply ok {number} to send it, edit {number} <your text>, no {number} to reject, "
        f"take {number} to answer yourself.\n"
        f"{conversation_link(draft.conversation_id)}"
    )


def draft_held(draft: Draft) -> None:
    """Inside the draft job's transaction: tell the owner's phone about this held draft after the commit."""
    if (
        OwnerSettings.objects.filter(owner_id=draft.conversation.owner_id)
        .exclude(notify_whatsapp="")
        .exists()
    ):
        jobs.schedule("conversations.tasks.notify_owner_draft", draft.pk)


def notify_draft(draft_id: int, *, now: datetime | None = None) -> bool:
    """The held draft's job: send its note, unless an escalation made with it carries it, or it was sent.

    An escalation created with the draft (after it, in the same job) is told with the
    draft's number by the owner's batched notification (`escalation._note`).
    """
    draft = (
        Draft.objects.select_related("conversation__contact")
        .filter(pk=draft_id, status=DraftStatus.PENDING)
        .first()
    )
    if draft is None:
        return False
    conversation = draft.conversation
    if Escalation.objects.filter(conversation=conversation, created_at__gte=draft.created_at).exists():
        return False
    if OwnerNotice.objects.filter(draft=draft, kind=OwnerNoticeKind.NOTICE).exists():
        return False
    why = one_line(draft.decision or "it waits for your approval", 300)
    company = one_line(conversation.contact.shown(), 60)
    text = draft_note(draft, headline=f"Draft #{draft.pk} for {company} waits for you.", why=why)
    return send_to_owner(
        conversation.owner_id, text, draft_id=draft.pk, conversation_id=conversation.pk, now=now
    )

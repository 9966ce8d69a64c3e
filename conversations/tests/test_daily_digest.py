"""The daily digest: at the owner's hour in their zone, once a day, only when something happened.

Time is injected (`now=`) into the plain functions; the sweeper tests use the real clock with
an hour that is always past (0) and a last digest a day back.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email import message_from_bytes

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from conversations import daily_digest
from conversations.daily_digest import due_owners, is_due, send_digest
from conversations.models import (
    Author,
    ConversationStatus,
    Direction,
    Escalation,
    EscalationReason,
    Message,
    MessageStatus,
    OwnerSettings,
)
from conversations.sweeper import sweep_stalled_work
from conversations.tests.concurrency import run_at_once
from conversations.tests.smtp import SMTPStandIn

pytestmark = pytest.mark.django_db

#: 11:00 UTC is 08:00 in São Paulo (UTC-3) and 20:00 in Tokyo (UTC+9).
NOW = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
YESTERDAY = NOW - timedelta(days=1)

on_postgres = pytest.mark.skipif(
    not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="needs PostgreSQL (DATABASE_URL): SQLite has no row locks, and runs one worker in production",
)


def digest_at(owner, hour: int | None = 8, zone: str = "UTC", last=YESTERDAY, **fields) -> OwnerSettings:
    """The owner's digest settings (their last digest yesterday unless told otherwise)."""
    row, _ = OwnerSettings.objects.get_or_create(owner=owner)
    OwnerSettings.objects.filter(pk=row.pk).update(
        digest_hour=hour, time_zone=zone, last_digest_at=last, **fields
    )
    row.refresh_from_db()
    return row


def reply(conversation, text: str = "No, thank you.", *, at=NOW - timedelta(hours=3), **fields) -> Message:
    """A reply the assistant sent on the owner's behalf, accepted by the provider `at`."""
    return Message.objects.create(
        conversation=conversation,
        account=conversation.account,
        direction=Direction.OUT,
        author=Author.ASSISTANT,
        text=text,
        status=fields.pop("status", MessageStatus.DELIVERED),
        accepted_at=at,
        sent_at=at,
        **fields,
    )


def escalation(conversation, *, at=NOW - timedelta(hours=2), reason=EscalationReason.GUARD) -> Escalation:
    """An escalation the owner was already told of; the conversation needs them."""
    conversation.status = ConversationStatus.NEEDS_ATTENTION
    conversation.save(update_fields=["status"])
    return Escalation.objects.create(conversation=conversation, reason=reason, created_at=at, notified_at=at)


# -- when ---------------------------------------------------------------------------------------


def test_the_digest_is_due_at_the_hour_in_the_owners_zone_not_before(owner_a, owner_b):
    digest_at(owner_a, 8, "America/Sao_Paulo")  # 08:00 there is 11:00 UTC
    digest_at(owner_b, 8, "Asia/Tokyo")  # 08:00 there is 23:00 UTC the day before

    assert due_owners(NOW - timedelta(seconds=1)) == [owner_b.pk]
    assert due_owners(NOW) == [owner_a.pk, owner_b.pk]
    assert due_owners(datetime(2026, 12, 1, 22, 59, tzinfo=UTC)) == []
    assert due_owners(datetime(2026, 12, 1, 23, 0, tzinfo=UTC)) == [owner_b.pk]


def test_one_digest_per_local_day_even_when_the_server_was_down_at_the_hour():
    sao_paulo = "America/Sao_Paulo"
    sent_today = NOW + timedelta(minutes=5)

    assert is_due(8, sao_paulo, YESTERDAY, NOW + timedelta(hours=10))  # 18:00 there, missed at 08:00
    assert not is_due(8, sao_paulo, sent_today, NOW + timedelta(hours=12))  # 20:00 there, already sent
    assert not is_due(8, sao_paulo, sent_today, NOW + timedelta(hours=15))  # 00:00 there, before 08:00
    assert is_due(8, sao_paulo, sent_today, NOW + timedelta(days=1))  # 08:00 the next day
    assert not is_due(None, sao_paulo, YESTERDAY, NOW)  # off
    # Moving the hour later after today's digest does not send a second one today.
    assert not is_due(20, sao_paulo, sent_today, NOW + timedelta(hours=12))


def test_clock_changes_neither_skip_nor_repeat_the_digest():
    lisbon = "Europe/Lisbon"
    saturday = datetime(2026, 3, 28, 12, tzinfo=UTC)
    # 29 March: 01:00 local does not exist (the clocks jump to 02:00 at 01:00 UTC); due at the jump.
    assert not is_due(1, lisbon, saturday, datetime(2026, 3, 29, 0, 59, tzinfo=UTC))
    assert is_due(1, lisbon, saturday, datetime(2026, 3, 29, 1, 0, tzinfo=UTC))
    # 25 October: 01:00 local happens twice; due at the first, not again at the second.
    first_one_oclock = datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    assert not is_due(1, lisbon, saturday, first_one_oclock - timedelta(minutes=1))
    assert is_due(1, lisbon, saturday, first_one_oclock)
    assert not is_due(1, lisbon, first_one_oclock, first_one_oclock + timedelta(hours=1))


def test_a_new_owners_first_digest_comes_the_day_after_setup(owner_a):
    OwnerSettings.objects.create(owner=owner_a, digest_hour=0)

    assert due_owners() == []


# -- what -------------------------------------------------------------------------------------


def test_the_digest_lists_what_was_answered_what_waits_and_what_was_escalated(
    owner_a, make_conversation, make_draft
):
    digest_at(owner_a, 8, "America/Sao_Paulo")
    telco = make_conversation(owner_a, contact_name="Telco Support", contact_address="5511900000001")
    reply(telco, "We do not need the upgrade.", at=NOW - timedelta(hours=5))
    reply(telco, "Please write to me by email.\nThanks.")
    reply(telco, "Old news.", at=YESTERDAY - timedelta(hours=1))  # in yesterday's digest
    bank = make_conversation(owner_a, contact_name="First Bank", contact_address="5511900000002")
    make_draft(bank, text="Thanks, I will check.")
    power = make_conversation(owner_a, contact_name="Power Co", contact_address="5511900000003")
    escalation(power, reason=EscalationReason.LOW_CONFIDENCE)

    assert send_digest(owner_a.pk, now=NOW)

    (email,) = mail.outbox
    assert email.recipients() == [owner_a.email]
    assert email.subject == "Gatekeeper daily digest, Wed 02 Dec: 2 answered, 2 waiting, 1 escalated"
    body = email.body
    assert "Since Tue 01 Dec 08:00 (America/Sao_Paulo)" in body
    waiting = body.split("Waiting for you:")[1].split("Escalated:")[0]
    assert "- First Bank: a reply waits for your approval" in waiting
    assert "- Power Co: needs you" in waiting
    assert f"/admin/conversations/conversation/{bank.pk}/change/" in waiting
    escalated = body.split("Escalated:")[1].split("Answered on your behalf:")[0]
    assert "- Power Co: The assistant is unsure (Wed 06:00)" in escalated  # the owner's local time
    answered = body.split("Answered on your behalf:")[1]
    assert "- Telco Support: 2 replies, last: “Please write to me by email. Thanks.”" in answered
    assert "Old news" not in body
    assert OwnerSettings.objects.get(owner=owner_a).last_digest_at == NOW


def test_another_owners_conversations_are_never_in_the_digest(owner_a, owner_b, make_conversation):
    digest_at(owner_a)
    digest_at(owner_b)
    theirs = make_conversation(owner_b, contact_name="Bob's Bank", contact_address="5511900000009")
    reply(theirs)
    escalation(theirs)
    mine = make_conversation(owner_a, contact_name="Telco Support", contact_address="5511900000001")
    reply(mine)

    assert send_digest(owner_a.pk, now=NOW)

    (email,) = mail.outbox
    assert "Bob's Bank" not in email.body
    assert email.subject.endswith(": 1 answered, 0 waiting, 0 escalated")


def test_nothing_is_sent_when_nothing_happened_and_the_day_is_still_claimed(owner_a, make_conversation):
    digest_at(owner_a)
    old = make_conversation(owner_a)
    reply(old, at=YESTERDAY - timedelta(hours=1))
    printed = reply(old, "Printed by the console.", status=MessageStatus.PRINTED)

    assert not send_digest(owner_a.pk, now=NOW)

    assert mail.outbox == []
    assert OwnerSettings.objects.get(owner=owner_a).last_digest_at == NOW
    assert due_owners(NOW + timedelta(hours=1)) == []
    # The next day's digest covers what happened since.
    printed.status = MessageStatus.SENT
    printed.save()
    reply(old, "Sent later today.", at=NOW + timedelta(hours=2))
    assert send_digest(owner_a.pk, now=NOW + timedelta(days=1))
    assert "Sent later today." in mail.outbox[0].body
    assert "Printed by the console." not in mail.outbox[0].body


def test_an_owner_with_the_digest_off_gets_none(owner_a, make_conversation):
    digest_at(owner_a, hour=None)
    reply(make_conversation(owner_a))

    assert due_owners(NOW) == []
    assert not send_digest(owner_a.pk, now=NOW)
    assert mail.outbox == []


def test_the_whatsapp_copy_goes_to_the_owners_number_when_configured(owner, graph_api, make_conversation):
    digest_at(owner, notify_whatsapp="+44 7700 900123")
    reply(make_conversation(owner, contact_name="Telco Support"))
    escalation(make_conversation(owner, contact_name="First Bank", contact_address="5511900000002"))

    assert send_digest(owner.pk, now=NOW)

    (note,) = [sent.text for sent in graph_api.sent_texts() if sent.to == "+447700900123"]
    lines = note.splitlines()
    assert lines[0] == "Gatekeeper daily digest: 1 answered, 1 waiting, 1 escalated."
    assert "Escalated: First Bank." in lines
    assert "Answered: Telco Support." in lines
    assert lines[-1].endswith("/admin/conversations/conversation/?needs=anything")
    assert len(mail.outbox) == 1


def test_without_a_whatsapp_number_only_the_email_goes_out(owner, graph_api, make_conversation):
    digest_at(owner, notify_whatsapp="")
    reply(make_conversation(owner))

    assert send_digest(owner.pk, now=NOW)

    assert graph_api.sent_texts() == []
    assert len(mail.outbox) == 1


def test_a_company_name_with_a_line_break_cannot_add_a_header_or_a_line(owner_a, make_conversation):
    digest_at(owner_a)
    sneaky = "Acme\r\nBcc: victim@example.com\n\nNothing needs you today"
    escalation(make_conversation(owner_a, contact_name=sneaky))

    assert send_digest(owner_a.pk, now=NOW)

    (email,) = mail.outbox
    parsed = message_from_bytes(email.message().as_bytes())
    assert parsed["Bcc"] is None
    assert len(parsed.get_all("Subject")) == 1
    assert "\n" not in email.subject
    assert "- Acme Bcc: victim@example.com Nothing needs you today: " in email.body
    assert not any(line.startswith(("Bcc:", "Nothing needs you")) for line in email.body.splitlines())


@pytest.fixture
def mail_server_down(settings):
    """The real SMTP backend, pointed at a local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 2
    return settings


def test_a_mail_server_that_is_down_leaves_the_digest_due_after_a_pause(
    owner_a, make_conversation, mail_server_down, caplog
):
    digest_at(owner_a)
    reply(make_conversation(owner_a))

    assert not send_digest(owner_a.pk, now=NOW)

    assert "could not email the digest to owner" in caplog.text
    assert OwnerSettings.objects.get(owner=owner_a).last_digest_at == YESTERDAY
    # Not at every sweep meanwhile: after RETRY_AFTER.
    assert due_owners(NOW + timedelta(seconds=15)) == []
    assert not send_digest(owner_a.pk, now=NOW + timedelta(seconds=15))
    retry = NOW + daily_digest.RETRY_AFTER
    assert due_owners(retry) == [owner_a.pk]
    mail_server_down.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send_digest(owner_a.pk, now=retry)
    assert len(mail.outbox) == 1
    row = OwnerSettings.objects.get(owner=owner_a)
    assert (row.last_digest_at, row.digest_retry_at) == (retry, None)


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_the_digest_is_emailed_after_the_day_is_claimed_never_under_the_owners_lock(
    owner_a, make_conversation, settings
):
    digest_at(owner_a)
    reply(make_conversation(owner_a))
    seen: dict[str, object] = {}

    def while_sending(raw: bytes) -> None:
        """In the mail server's thread, as the digest arrives: is the owner's row free, the day claimed?"""
        try:
            with transaction.atomic():
                row = OwnerSettings.objects.select_for_update(nowait=True).get(owner=owner_a)
                seen["claimed"] = row.last_digest_at == NOW
            seen["lock"] = "free"
        except DatabaseError as exc:
            seen["lock"] = f"held: {exc}"
        finally:
            connection.close()

    with SMTPStandIn(on_message=while_sending) as smtp:
        smtp.deliver_here(settings)
        assert send_digest(owner_a.pk, now=NOW)

    assert len(smtp.received) == 1
    assert seen == {"lock": "free", "claimed": True}


# -- once, found in the database ------------------------------------------------------------------


def test_the_sweeper_finds_a_due_digest_in_the_database_and_it_is_sent_once(
    owner_a, make_conversation, run_jobs
):
    digest_at(owner_a, hour=0, last=timezone.now() - timedelta(days=1))
    escalation(make_conversation(owner_a), at=timezone.now() - timedelta(minutes=5))

    assert sweep_stalled_work().digests == 1
    assert sweep_stalled_work().digests == 1  # a second sweeper, before any worker ran
    run_jobs()

    assert len(mail.outbox) == 1
    assert sweep_stalled_work().digests == 0


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_one_digest(owner_a, make_conversation):
    digest_at(owner_a)
    reply(make_conversation(owner_a))

    def send(owner_id: int) -> None:
        send_digest(owner_id, now=NOW)

    for _ in range(5):
        OwnerSettings.objects.filter(owner=owner_a).update(last_digest_at=YESTERDAY)
        mail.outbox.clear()
        assert run_at_once((send, owner_a.pk), (send, owner_a.pk), (send, owner_a.pk)) == []
        assert len(mail.outbox) == 1


def test_an_unknown_stored_zone_reads_as_the_servers(settings):
    settings.TIME_ZONE = "UTC"

    assert daily_digest.owner_zone("Mars/Olympus").key == "UTC"

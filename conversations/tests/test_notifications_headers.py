"""A notification that cannot go out as written: names made header-safe, undeliverable mail not retried forever.

Issue "Trust II": a WhatsApp profile name with a line break made Django refuse the subject
(BadHeaderError) and the sweeper retried it every 15 s with a traceback. A contact's name is
the company's choice, so it is read as one short line wherever a header is built from it.
"""

from __future__ import annotations

import logging
import socket
from datetime import timedelta
from email import message_from_bytes

import pytest
from django.core import mail
from django.db.models import F
from django.utils import timezone

from conversations import jobs
from conversations.escalation import (
    DIGEST_SLACK_SECONDS,
    NAME_LIMIT,
    RETRY_AFTER_SECONDS,
    header_safe,
    notify_owner,
)
from conversations.models import Escalation, OwnerSettings
from conversations.sweeper import sweep_stalled_work

pytestmark = pytest.mark.django_db

CODE_REQUEST = "Security check: please reply with the verification code we sent you."
DIGEST = "conversations.tasks.notify_owner_digest"


def stalled() -> None:
    """Every escalation is old enough for the sweeper to look at it."""
    Escalation.objects.update(created_at=timezone.now() - timedelta(hours=1))


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Acme\r\nBcc: victim@example.com", "Acme Bcc: victim@example.com"),
        ("First\u2028Bank\u2029Ltd\x85", "First Bank Ltd"),
        ("  Telco\t\tSupport \x00\x1b[31m", "Telco Support [31m"),
        ("Pay\u202egnp.exe\u200b", "Paygnp.exe"),
        ("Café ☕ Ünïcode", "Café ☕ Ünïcode"),
        ("\r\n\t", ""),
    ],
)
def test_a_name_becomes_one_line_without_control_or_format_characters(name, shown):
    assert header_safe(name) == shown


def test_a_long_name_is_cut_short():
    shown = header_safe("Very Long Company Name " * 20)
    assert len(shown) == NAME_LIMIT and shown.endswith("…")


def test_a_profile_name_with_a_line_break_is_emailed_with_a_one_line_subject_and_no_extra_header(
    owner, graph_api, deliver, run_jobs
):
    OwnerSettings.objects.filter(owner=owner).update(notify_whatsapp="+44 7700 900123")
    deliver(CODE_REQUEST, name="Acme\r\nBcc: victim@example.com")
    run_jobs()

    (email,) = mail.outbox
    assert email.subject == "Gatekeeper needs you: Acme Bcc: victim@example.com"
    assert email.recipients() == [owner.email]
    parsed = message_from_bytes(email.message().as_bytes())
    assert parsed["Bcc"] is None
    assert parsed.get_all("Subject") == ["Gatekeeper needs you: Acme Bcc: victim@example.com"]
    assert "Acme Bcc: victim@example.com on " in email.body
    (note,) = [sent.text for sent in graph_api.sent_texts() if sent.to == "+447700900123"]
    assert note.splitlines()[0].startswith("Gatekeeper needs you: Acme Bcc: victim@example.com (")

    assert not Escalation.objects.filter(notified_at__isnull=True).exists()
    stalled()
    assert sweep_stalled_work().notifications == 0
    assert jobs.recorded == []


def test_a_name_with_nothing_printable_falls_back_to_the_number(owner, graph_api, deliver, run_jobs):
    deliver(CODE_REQUEST, sender="15550002222", name="\u200b\r\n")
    run_jobs()

    (email,) = mail.outbox
    assert email.subject == "Gatekeeper needs you: 15550002222"


def test_an_email_that_can_never_be_sent_is_logged_once_and_not_retried(
    owner, graph_api, deliver, run_jobs, caplog
):
    OwnerSettings.objects.filter(owner=owner).update(
        notify_email="owner@example.com\nBcc: someone@example.com", notify_whatsapp="+44 7700 900123"
    )
    with caplog.at_level(logging.INFO, logger="conversations.escalation"):
        deliver(CODE_REQUEST, name="First Bank")
        run_jobs()
        stalled()
        for _ in range(3):
            assert sweep_stalled_work().notifications == 0
        notify_owner(Escalation.objects.get().pk)

    assert mail.outbox == []
    (record,) = [
        r for r in caplog.records if r.name == "conversations.escalation" and r.levelno >= logging.ERROR
    ]
    assert "cannot be sent (BadHeaderError" in record.getMessage()
    assert record.exc_info is None, "a reason, not a traceback"
    assert Escalation.objects.get().notified_at is not None
    assert [sent.to for sent in graph_api.sent_texts()] == ["+447700900123"], (
        "the owner is still told on WhatsApp"
    )


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


@pytest.mark.parametrize(("interval", "retry"), [(300.0, 300), (0.0, RETRY_AFTER_SECONDS)])
def test_a_mail_server_that_is_down_is_tried_again_with_the_next_batch_not_at_every_sweep(
    owner, graph_api, deliver, run_jobs, mail_server_down, caplog, interval, retry
):
    mail_server_down.NOTIFY_EMAIL_INTERVAL = interval
    with caplog.at_level(logging.WARNING, logger="conversations.escalation"):
        deliver(CODE_REQUEST, name="First Bank")
        run_jobs()
        stalled()
        for _ in range(3):
            assert sweep_stalled_work().notifications == 0

    (record,) = [r for r in caplog.records if r.name == "conversations.escalation"]
    assert "could not email owner" in record.getMessage()
    assert "(ConnectionRefusedError: " in record.getMessage()
    assert f"trying again in {retry:.0f} s" in record.getMessage()
    assert not record.exc_info, "a reason, not a traceback"
    assert Escalation.objects.get().notified_at is None, "not lost: the digest tries again"
    assert OwnerSettings.objects.get(owner=owner).last_notified_at is not None
    assert [(job.path, job.delay) for job in jobs.recorded] == [(DIGEST, retry + DIGEST_SLACK_SECONDS)]

    mail_server_down.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    OwnerSettings.objects.update(last_notified_at=F("last_notified_at") - timedelta(seconds=retry))
    run_jobs(delayed=True)
    (email,) = mail.outbox
    assert email.subject == "Gatekeeper needs you: First Bank"
    assert Escalation.objects.get().notified_at is not None

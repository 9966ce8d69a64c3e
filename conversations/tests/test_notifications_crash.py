"""A worker that stops between claiming a notification and telling the owner leaves it for the sweeper.

Invariant 7 (docs/architecture.md, nothing lost): the claim marks the escalations notified, so
before this a worker killed during the SMTP conversation (a deploy, the OOM killer) meant the owner
was never told. Now the claim keeps what it is to send; the sweeper has it finished once the worker
is presumed dead, at least once: the owner may hear twice, never not at all.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db.models import F
from django.utils import timezone

from conversations import escalation, jobs
from conversations.models import Escalation, NotificationBatch, OwnerSettings
from conversations.sweeper import sweep_stalled_work

pytestmark = pytest.mark.django_db

CODE_REQUEST = "Security check: please reply with the verification code we sent you."
OWNER_PHONE = "+447700900123"
KILLED = "conversations.tests.test_notifications_crash.KilledMidSend"


class KilledMidSend(BaseEmailBackend):
    """The worker's process dies while it talks to the mail server: nothing is sent, nothing is caught."""

    def send_messages(self, email_messages):
        raise SystemExit("killed")


def later() -> timezone.datetime:
    """Past the time a live worker could still be delivering (the sweeper's cut-off and both timeouts)."""
    grace = (
        django_settings.STALLED_WORK_SECONDS
        + django_settings.EMAIL_TIMEOUT
        + django_settings.OUTBOUND_HTTP_TIMEOUT
    )
    return timezone.now() + timedelta(seconds=grace + 1)


def worker_killed_while_emailing(settings, deliver, run_jobs) -> None:
    """A bank asks for a code; the worker telling the owner dies in the SMTP conversation; a new one starts."""
    settings.EMAIL_BACKEND = KILLED
    deliver(CODE_REQUEST, sender="15550001234", name="First National Bank")
    with pytest.raises(SystemExit):
        run_jobs()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def finishers() -> list[jobs.RecordedJob]:
    return [job for job in jobs.recorded if job.path == escalation.FINISH_JOB]


def test_a_worker_killed_while_emailing_leaves_the_notification_for_the_sweeper(
    owner, graph_api, deliver, run_jobs, settings
):
    OwnerSettings.objects.filter(owner=owner).update(notify_whatsapp="+44 7700 900123")
    worker_killed_while_emailing(settings, deliver, run_jobs)
    assert mail.outbox == [] and Escalation.objects.get().notified_at is not None, "claimed, not told"

    jobs.recorded.clear()
    assert sweep_stalled_work().notifications == 0, "a worker may still be at it"
    assert finishers() == []
    NotificationBatch.objects.update(claimed_at=F("claimed_at") - (later() - timezone.now()))  # time passes
    assert sweep_stalled_work().notifications == 1
    assert len(finishers()) == 1
    run_jobs()

    [email] = mail.outbox
    assert (email.to, email.subject) == ([owner.email], "Gatekeeper needs you: First National Bank")
    notes = [sent.text for sent in graph_api.sent_texts() if sent.to == OWNER_PHONE]
    assert len(notes) == 1 and notes[0].startswith("Gatekeeper needs you: First National Bank (")
    assert not NotificationBatch.objects.exists()
    assert sweep_stalled_work(now=later() + timedelta(hours=1)).notifications == 0, "finished once"
    assert len(mail.outbox) == 1


def test_a_worker_stopped_after_the_email_leaves_only_the_whatsapp_note_to_send(
    owner, graph_api, deliver, run_jobs, settings
):
    OwnerSettings.objects.filter(owner=owner).update(notify_whatsapp="+44 7700 900123")
    worker_killed_while_emailing(settings, deliver, run_jobs)
    NotificationBatch.objects.update(email_to="")  # as recorded once the email went, before the note

    batch = NotificationBatch.objects.get()
    escalation.finish(batch.pk, now=later())

    assert mail.outbox == [], "the email is not sent twice"
    assert [sent.to for sent in graph_api.sent_texts()].count(OWNER_PHONE) == 1
    assert not NotificationBatch.objects.exists()


def test_two_finishers_of_one_batch_tell_the_owner_once(owner, deliver, run_jobs, settings):
    worker_killed_while_emailing(settings, deliver, run_jobs)
    batch = NotificationBatch.objects.get()
    at = later()

    # The second took it over first: the first finds it taken (or gone) and does nothing.
    NotificationBatch.objects.filter(pk=batch.pk).update(claimed_at=at)
    escalation.finish(batch.pk, now=at)
    assert mail.outbox == []
    escalation.finish(batch.pk, now=at + timedelta(seconds=django_settings.STALLED_WORK_SECONDS * 3))
    escalation.finish(batch.pk, now=at + timedelta(seconds=django_settings.STALLED_WORK_SECONDS * 3))
    assert len(mail.outbox) == 1


def test_a_mail_server_that_is_down_releases_the_claim_and_keeps_no_batch(owner, deliver, run_jobs, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1  # nothing listens there
    deliver(CODE_REQUEST, sender="15550001234", name="First National Bank")
    run_jobs()

    assert Escalation.objects.get().notified_at is None, "waits for the retry digest"
    assert not NotificationBatch.objects.exists(), "the digest claims it afresh; no finisher is needed"

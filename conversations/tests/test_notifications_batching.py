"""Notifications are batched per owner: one email (and one WhatsApp note) per NOTIFY_EMAIL_INTERVAL, then a digest.

Issue "Trust II": 65 fresh senders in a minute sent the owner 61 emails. Now the first escalation
emails at once, the rest wait for one digest when the interval ends. Time moves forward the way
the other tests move it: the test moves the stored due time (`last_notified_at`) back and runs the
delayed jobs, or passes `now` to the plain functions.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db.models import F
from django.utils import timezone

from conversations import jobs
from conversations.escalation import (
    DIGEST_LIST_LIMIT,
    DIGEST_SLACK_SECONDS,
    conversation_admin_url,
    escalate,
    notify_owner,
    notify_owner_digest,
    review_queue_url,
)
from conversations.models import Draft, Escalation, EscalationReason, OwnerSettings
from conversations.sweeper import sweep_stalled_work
from conversations.tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db

CODE_REQUEST = "Security check: please reply with the verification code we sent you."
NOTIFY = "conversations.tasks.notify_owner"
DIGEST = "conversations.tasks.notify_owner_digest"

on_postgres = pytest.mark.skipif(
    not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="needs PostgreSQL (DATABASE_URL): SQLite has no row locks, and runs one worker in production",
)


def recorded(path: str) -> list[jobs.RecordedJob]:
    return [job for job in jobs.recorded if job.path == path]


def interval_passes(owner, seconds: float | None = None) -> None:
    """Move the owner's last email back by the interval (or `seconds`): their digest is due now."""
    seconds = django_settings.NOTIFY_EMAIL_INTERVAL if seconds is None else seconds
    OwnerSettings.objects.filter(owner=owner).update(
        last_notified_at=F("last_notified_at") - timedelta(seconds=seconds)
    )


@pytest.fixture
def interval(settings):
    settings.NOTIFY_EMAIL_INTERVAL = 300.0
    return timedelta(seconds=300)


@pytest.fixture
def escalate_in(make_conversation, django_capture_on_commit_callbacks):
    """Escalate a fresh conversation of the owner, scheduling its notification job as on commit."""
    senders = iter(range(5511000000100, 5511000099999))

    def make(
        owner, name: str = "Telco Support", reason=EscalationReason.GUARD, detail: str = ""
    ) -> Escalation:
        conversation = make_conversation(owner, contact_name=name, contact_address=str(next(senders)))
        with django_capture_on_commit_callbacks(execute=True):
            escalation = escalate(conversation, reason=reason, detail=detail)
        assert escalation is not None
        return escalation

    return make


def test_sixty_five_fresh_senders_in_a_minute_send_one_email_at_once_and_one_digest_after(
    owner, graph_api, deliver, run_jobs, interval
):
    for number in range(1, 66):
        deliver(CODE_REQUEST, sender=f"1555000{number:04d}", name=f"Company {number:02d}")
        run_jobs()  # a worker keeps up with the flood: each escalation's job runs as it comes

    assert Escalation.objects.count() == 65
    (first,) = mail.outbox
    assert first.subject == "Gatekeeper needs you: Company 01"
    assert Escalation.objects.filter(notified_at__isnull=True).count() == 64, "the rest wait for the digest"
    (digest_job,) = recorded(DIGEST)
    assert digest_job.args == (owner.pk,)
    assert interval.total_seconds() - 60 < digest_job.delay <= interval.total_seconds() + DIGEST_SLACK_SECONDS

    assert [job.path for job in jobs.recorded] == [DIGEST]
    run_jobs(delayed=True, limit=1)
    assert len(mail.outbox) == 1, "the digest run early (a clock ahead) waits for its time again"
    assert len(recorded(DIGEST)) == 1
    interval_passes(owner)
    run_jobs(delayed=True)

    first, digest = mail.outbox
    assert digest.to == [owner.email]
    assert digest.subject == "Gatekeeper needs you: Company 02 and 63 more"
    listed = Escalation.objects.order_by("created_at", "id")[1 : 1 + DIGEST_LIST_LIMIT]
    for escalation in listed:
        assert conversation_admin_url(escalation.conversation_id) in digest.body
    assert digest.body.index("Company 02 on") < digest.body.index("Company 03 on"), "oldest first"
    assert "A guard held a reply" in digest.body
    assert "Company 22 on" not in digest.body, "capped"
    assert "And 44 more." in digest.body
    assert review_queue_url() in digest.body
    assert not Escalation.objects.filter(notified_at__isnull=True).exists()
    assert recorded(DIGEST) == [] and recorded(NOTIFY) == []

    Escalation.objects.update(created_at=timezone.now() - timedelta(hours=1))
    assert sweep_stalled_work().notifications == 0
    assert len(mail.outbox) == 2


def test_the_whatsapp_note_follows_the_same_batching(owner, graph_api, deliver, run_jobs, interval):
    OwnerSettings.objects.filter(owner=owner).update(notify_whatsapp="+44 7700 900123")
    for number in range(1, 6):
        deliver(CODE_REQUEST, sender=f"1555000{number:04d}", name=f"Company {number}")
        run_jobs()
    interval_passes(owner)
    run_jobs(delayed=True)

    notes = [sent.text for sent in graph_api.sent_texts() if sent.to == "+447700900123"]
    assert len(notes) == len(mail.outbox) == 2
    assert notes[0].startswith("Gatekeeper needs you: Company 1 (")
    assert notes[1].startswith("Gatekeeper needs you: Company 2 and 3 more.\n")
    assert notes[1].endswith(f"\n{review_queue_url()}")
    held = Draft.objects.filter(conversation__contact__name__in=[f"Company {n}" for n in range(2, 6)])
    assert all(f"#{draft.pk} " in notes[1] for draft in held), "each held draft is listed with its number"


def test_two_owners_are_batched_independently(owner_a, owner_b, escalate_in, run_jobs, interval):
    escalate_in(owner_a, "Bank A1")
    escalate_in(owner_b, "Bank B1")
    run_jobs()
    escalate_in(owner_a, "Bank A2")
    escalate_in(owner_a, "Bank A3")
    run_jobs()

    assert [(email.to, email.subject) for email in mail.outbox] == [
        ([owner_a.email], "Gatekeeper needs you: Bank A1"),
        ([owner_b.email], "Gatekeeper needs you: Bank B1"),
    ]
    assert [job.args for job in recorded(DIGEST)] == [(owner_a.pk,)]

    escalate_in(owner_b, "Bank B2")
    run_jobs()
    assert [job.args for job in recorded(DIGEST)] == [(owner_a.pk,), (owner_b.pk,)]
    interval_passes(owner_a)
    interval_passes(owner_b)
    run_jobs(delayed=True)

    subjects = {(tuple(email.to), email.subject) for email in mail.outbox[2:]}
    assert subjects == {
        ((owner_a.email,), "Gatekeeper needs you: Bank A2 and 1 more"),
        ((owner_b.email,), "Gatekeeper needs you: Bank B2"),
    }
    assert not Escalation.objects.filter(notified_at__isnull=True).exists()


def test_with_no_interval_each_escalation_emails_at_once(owner_a, escalate_in, run_jobs, settings):
    settings.NOTIFY_EMAIL_INTERVAL = 0
    for name in ("Bank 1", "Bank 2", "Bank 3"):
        escalate_in(owner_a, name)
        run_jobs()

    assert [email.subject for email in mail.outbox] == [
        "Gatekeeper needs you: Bank 1",
        "Gatekeeper needs you: Bank 2",
        "Gatekeeper needs you: Bank 3",
    ]
    assert recorded(DIGEST) == []


def test_the_digest_is_due_when_the_interval_ends(
    owner_a, escalate_in, interval, django_capture_on_commit_callbacks
):
    first = escalate_in(owner_a, "Bank 1")
    second = escalate_in(owner_a, "Bank 2")
    jobs.recorded.clear()
    start = timezone.now()

    notify_owner(first.pk, now=start)
    assert [email.subject for email in mail.outbox] == ["Gatekeeper needs you: Bank 1 and 1 more"]
    third = escalate_in(owner_a, "Bank 3")
    jobs.recorded.clear()
    with django_capture_on_commit_callbacks(execute=True):
        notify_owner(third.pk, now=start + interval - timedelta(seconds=10))
        notify_owner_digest(owner_a.pk, now=start + interval - timedelta(seconds=1))
    assert len(mail.outbox) == 1
    assert [job.delay for job in recorded(DIGEST)] == [10 + DIGEST_SLACK_SECONDS, 1 + DIGEST_SLACK_SECONDS]

    notify_owner_digest(owner_a.pk, now=start + interval)
    assert [email.subject for email in mail.outbox][1:] == ["Gatekeeper needs you: Bank 3"]
    third.refresh_from_db()
    assert third.notified_at == start + interval
    assert OwnerSettings.objects.get(owner=owner_a).last_notified_at == start + interval
    notify_owner(second.pk, now=start + 2 * interval)
    assert len(mail.outbox) == 2, "a job for an escalation already told is a no-op"


def test_the_sweeper_leaves_an_escalation_waiting_for_its_digest_alone(
    owner_a, escalate_in, run_jobs, interval
):
    escalate_in(owner_a, "Bank 1")
    run_jobs()
    for number in range(2, 6):
        escalate_in(owner_a, f"Bank {number}")
    run_jobs()
    assert len(recorded(DIGEST)) == 1
    Escalation.objects.update(created_at=timezone.now() - timedelta(minutes=2))  # "stalled" by age alone

    for _ in range(3):
        assert sweep_stalled_work().notifications == 0
    assert len(recorded(DIGEST)) == 1 and len(mail.outbox) == 1


def test_the_sweeper_sends_an_overdue_digest_once_per_owner(
    owner_a, escalate_in, run_jobs, interval, settings
):
    escalate_in(owner_a, "Bank 1")
    run_jobs()
    for number in range(2, 6):
        escalate_in(owner_a, f"Bank {number}")
    run_jobs()
    jobs.recorded.clear()  # Redis lost the digest's job
    Escalation.objects.update(created_at=timezone.now() - timedelta(hours=1))
    interval_passes(owner_a, interval.total_seconds() + settings.STALLED_WORK_SECONDS + 1)

    assert sweep_stalled_work().notifications == 1
    assert [job.args for job in recorded(DIGEST)] == [(owner_a.pk,)]
    run_jobs()
    assert [email.subject for email in mail.outbox][1:] == ["Gatekeeper needs you: Bank 2 and 3 more"]
    assert sweep_stalled_work().notifications == 0


def test_an_owner_without_an_email_address_is_marked_notified_with_a_log_line(
    owner_a, escalate_in, run_jobs, interval, caplog
):
    owner_a.email = ""
    owner_a.save(update_fields=["email"])
    escalation = escalate_in(owner_a, "Bank 1")

    with caplog.at_level(logging.WARNING, logger="conversations.escalation"):
        run_jobs()

    escalation.refresh_from_db()
    assert escalation.notified_at is not None
    assert mail.outbox == []
    assert f"owner {owner_a.pk} has no email address" in caplog.text
    Escalation.objects.update(created_at=timezone.now() - timedelta(hours=1))
    assert sweep_stalled_work().notifications == 0


@on_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("second_worker", ["digest", "escalation"])
def test_two_workers_at_once_send_one_email_per_batch(owner_a, make_conversation, interval, second_worker):
    """Two RQ workers (two connections) run the owner's digest and an escalation's job at the same moment."""
    conversations = [
        make_conversation(owner_a, contact_name=f"Bank {n}", contact_address=f"55110000002{n:02d}")
        for n in range(6)
    ]
    OwnerSettings.objects.create(owner=owner_a)
    for round_ in range(3):
        escalations = [
            Escalation.objects.create(conversation=conversation, reason=EscalationReason.GUARD)
            for conversation in conversations[2 * round_ : 2 * round_ + 2]
        ]
        OwnerSettings.objects.filter(owner=owner_a).update(
            last_notified_at=timezone.now() - interval - timedelta(seconds=1)
        )
        second = (
            (notify_owner_digest, owner_a.pk)
            if second_worker == "digest"
            else (notify_owner, escalations[1].pk)
        )

        assert run_at_once((notify_owner_digest, owner_a.pk), second) == []
        assert len(mail.outbox) == round_ + 1, f"round {round_}: one email for the batch"
        assert mail.outbox[-1].subject == f"Gatekeeper needs you: Bank {2 * round_} and 1 more"
        assert not Escalation.objects.filter(notified_at__isnull=True).exists()

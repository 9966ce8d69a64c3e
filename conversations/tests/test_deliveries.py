"""Webhook deliveries: the body is committed before the 200, a job stores what it carried, exactly once.

Invariants (docs/architecture.md, "The flow and its invariants"): 2 (the webhook answers 200 only
after what it carried is durably committed), 3 (a redelivered message changes nothing and
schedules nothing) and 7 (nothing lost: a delivery whose job vanished is found by the sweeper).
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from channels_app.whatsapp.signature import sign
from channels_app.whatsapp_payloads import encode, text_message_payload
from conftest import PHONE_NUMBER_ID
from conversations import deliveries, jobs
from conversations.inbound import InboundBatch, InboundMessage
from conversations.metrics import GatekeeperCollector
from conversations.models import Delivery, Message, Provider, User
from conversations.sweeper import sweep_stalled_work
from conversations.tests.concurrency import run_at_once
from conversations.tests.review_support import logged_in

DRAFT_JOB = "conversations.tasks.draft_reply"
on_postgres = pytest.mark.skipif(
    not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="needs PostgreSQL (DATABASE_URL): SQLite has no row locks, and runs one worker in production",
)


def post(client, body: bytes):
    """Meta's POST, and nothing after it: no worker has run yet."""
    return client.post(
        "/webhook/whatsapp",
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=sign(body, django_settings.WHATSAPP_APP_SECRET),
    )


def bill(message_id: str = "wamid.BILL", sender: str = "15550001111") -> bytes:
    return encode(
        text_message_payload(
            phone_number_id=PHONE_NUMBER_ID, sender=sender, text="Your bill is ready", message_id=message_id
        )
    )


def paths() -> list[str]:
    return [job.path for job in jobs.recorded]


@pytest.fixture
def test_readers():
    """Readers registered by a test, taken out again after it."""
    added = []

    def register(provider: str, reader) -> None:
        deliveries.register_reader(provider, reader)
        added.append(provider)

    yield register
    for provider in added:
        deliveries._readers.pop(provider, None)


def test_the_webhook_answers_once_the_body_is_stored_as_it_came_and_before_it_is_ingested(
    owner, client, django_capture_on_commit_callbacks
):
    body = bill()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, body)

    assert response.status_code == 200
    delivery = Delivery.objects.get()
    assert (delivery.provider, bytes(delivery.body), delivery.attempts) == (Provider.WHATSAPP, body, 0)
    assert not Message.objects.exists()
    assert paths() == [deliveries.JOB]


def test_the_ingest_job_stores_the_messages_deletes_the_delivery_and_schedules_the_draft(
    owner, client, run_jobs
):
    post(client, bill())
    assert deliveries.ingest_waiting() == 1

    assert Message.objects.get().text == "Your bill is ready"
    assert not Delivery.objects.exists()
    assert deliveries.ingest_waiting() == 0, "a second job finds nothing to do"


def test_a_redelivered_body_is_kept_twice_but_its_message_is_stored_and_answered_once(
    owner, client, run_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post(client, bill())
        post(client, bill())
    assert Delivery.objects.count() == 2
    assert paths() == [deliveries.JOB], "one job for every delivery waiting"

    run_jobs(limit=1)
    assert Message.objects.count() == 1
    assert not Delivery.objects.exists()
    jobs.recorded.clear()

    post(client, bill())
    run_jobs(limit=1)  # nothing but the ingest job is due
    assert Message.objects.count() == 1
    assert DRAFT_JOB not in paths(), "a redelivered message schedules nothing"


def test_one_job_ingests_every_waiting_delivery_as_one_batch(owner, client):
    for number in range(5):
        post(client, bill(message_id=f"wamid.{number}", sender=f"1555000{number}"))
    post(client, bill(message_id="wamid.0", sender="15550000"))  # a redelivery in the same batch

    with CaptureQueriesContext(connection) as together:
        assert deliveries.ingest_waiting() == 6
    assert Message.objects.count() == 5
    assert not Delivery.objects.exists()

    post(client, bill(message_id="wamid.alone", sender="15550009"))
    with CaptureQueriesContext(connection) as alone:
        deliveries.ingest_waiting()
    # Five new senders cost the statements of one: the batch is stored set-based.
    assert len(together.captured_queries) == len(alone.captured_queries)


def test_a_job_takes_at_most_a_batch_and_schedules_another_for_the_rest(owner, run_jobs):
    Delivery.objects.bulk_create(
        Delivery(provider=Provider.WHATSAPP, body=bill(message_id=f"wamid.{n}", sender=f"1555{n:04d}"))
        for n in range(deliveries.BATCH + 1)
    )
    jobs.enqueue_now(deliveries.JOB)

    ran = [job.path for job in run_jobs() if job.path == deliveries.JOB]

    assert ran == [deliveries.JOB, deliveries.JOB], "a full batch, then the one left"
    assert Message.objects.count() == deliveries.BATCH + 1
    assert not Delivery.objects.exists()


def test_a_body_with_nothing_to_store_is_acknowledged_and_not_kept(owner, client, caplog):
    empty = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": []}]}
    with caplog.at_level(logging.INFO, logger="channels_app"):
        response = post(client, encode(empty))
    assert response.status_code == 200
    assert not Delivery.objects.exists()
    assert "nothing Gatekeeper stores" in caplog.text


def test_a_delivery_whose_job_was_lost_is_ingested_after_the_sweeper_finds_it(owner, client, run_jobs):
    post(client, bill())
    jobs.recorded.clear()  # Redis restarted: the job is gone, the delivery is not

    assert sweep_stalled_work().deliveries == 0, "not overdue yet"
    later = timezone.now() + timedelta(seconds=django_settings.STALLED_WORK_SECONDS + 1)
    assert sweep_stalled_work(now=later).deliveries == 1
    run_jobs()

    assert Message.objects.get().text == "Your bill is ready"
    assert not Delivery.objects.exists()


def test_an_unreadable_body_is_set_aside_at_once_with_its_reason(owner, client, caplog):
    Delivery.objects.create(provider=Provider.WHATSAPP, body=b'{"object": "page"}')
    post(client, bill())

    with caplog.at_level(logging.ERROR, logger="conversations.deliveries"):
        assert deliveries.ingest_waiting() == 1

    kept = Delivery.objects.get()
    assert kept.attempts == deliveries.MAX_ATTEMPTS
    assert "unreadable" in kept.error and "whatsapp_business_account" in kept.error
    assert f"delivery {kept.pk} set aside" in caplog.text
    assert Message.objects.get().text == "Your bill is ready", "the readable delivery was not held back"
    later = timezone.now() + timedelta(hours=1)
    assert sweep_stalled_work(now=later).deliveries == 0, "a set-aside delivery is not tried again"


def test_a_delivery_that_cannot_be_stored_is_tried_again_then_set_aside_without_holding_others_back(
    owner, client, test_readers
):
    # A reader (an edge's plugin) that returns a message the database refuses: it has no text at all.
    unstorable = InboundMessage(
        provider=Provider.WHATSAPP,
        account_address=PHONE_NUMBER_ID,
        provider_message_id="wamid.BROKEN",
        sender_address="15550002222",
        text=None,  # type: ignore[arg-type]
    )
    test_readers("test-broken", lambda body: InboundBatch(messages=(unstorable,)))
    broken = Delivery.objects.create(provider="test-broken", body=b"{}")
    post(client, bill())

    assert deliveries.ingest_waiting() == 1
    assert Message.objects.get().provider_message_id == "wamid.BILL"
    broken.refresh_from_db()
    assert broken.attempts == 1 and "IntegrityError" in broken.error

    clock = timezone.now()
    for _ in range(deliveries.MAX_ATTEMPTS - 1):
        clock += deliveries.RETRY_BACKOFF[-1]
        assert deliveries.ingest_waiting(now=clock) == 0
    broken.refresh_from_db()
    assert (broken.attempts, broken.retry_at) == (deliveries.MAX_ATTEMPTS, None)
    assert deliveries.ingest_waiting(now=clock + timedelta(days=1)) == 0
    assert Delivery.objects.filter(attempts__lt=deliveries.MAX_ATTEMPTS).count() == 0


def test_a_failing_delivery_pauses_longer_after_each_try_and_the_sweeper_wakes_it(owner, test_readers):
    calls = []

    def failing(body: bytes) -> InboundBatch:
        calls.append(body)
        raise RuntimeError("deadlock detected")

    test_readers("test-failing", failing)
    Delivery.objects.create(provider="test-failing", body=b"{}")
    clock = timezone.now()
    assert deliveries.ingest_waiting(now=clock) == 0
    for pause in deliveries.RETRY_BACKOFF:
        delivery = Delivery.objects.get()
        assert delivery.retry_at == clock + pause
        tries = len(calls)
        assert deliveries.ingest_waiting(now=clock + pause - timedelta(seconds=1)) == 0
        assert len(calls) == tries, "not tried again within its pause, however many jobs run"
        jobs.recorded.clear()
        assert sweep_stalled_work(now=clock + pause - timedelta(seconds=1)).deliveries == 0
        assert sweep_stalled_work(now=clock + pause).deliveries == 1, "the sweeper schedules it once due"
        clock += pause
        assert deliveries.ingest_waiting(now=clock) == 0
        assert len(calls) == tries + 1
    assert Delivery.objects.get().attempts == deliveries.MAX_ATTEMPTS


def test_trying_a_delivery_again_from_the_admin_clears_its_pause(owner, client):
    post(client, bill())
    waiting = Delivery.objects.get()
    Delivery.objects.filter(pk=waiting.pk).update(
        attempts=2, error="OperationalError: deadlock", retry_at=timezone.now() + timedelta(hours=1)
    )
    assert deliveries.ingest_waiting() == 0

    assert deliveries.try_again([waiting.pk]) == 1
    assert deliveries.ingest_waiting() == 1
    assert Message.objects.get().text == "Your bill is ready"


def test_a_reader_that_crashes_counts_a_try_and_the_others_are_ingested(owner, client, test_readers):
    def crashing(body: bytes) -> InboundBatch:
        raise RuntimeError("the reader has a bug")

    test_readers("test-crashing", crashing)
    crashed = Delivery.objects.create(provider="test-crashing", body=b"{}")
    post(client, bill())

    assert deliveries.ingest_waiting() == 1
    crashed.refresh_from_db()
    assert (crashed.attempts, crashed.error) == (1, "RuntimeError: the reader has a bug")
    assert Message.objects.count() == 1


def test_metrics_count_waiting_and_set_aside_deliveries(owner, client):
    post(client, bill())
    Delivery.objects.create(provider=Provider.WHATSAPP, body=b"[]", attempts=deliveries.MAX_ATTEMPTS)

    families = {family.name: family for family in GatekeeperCollector().collect()}
    samples = {sample.labels["state"]: sample.value for sample in families["gatekeeper_deliveries"].samples}
    assert samples == {"waiting": 1, "set_aside": 1}


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_ingest_every_delivery_exactly_once(owner, client):
    for number in range(20):
        post(client, bill(message_id=f"wamid.race{number}", sender=f"155500{number:02d}"))
    counted = []

    def worker():
        while done := deliveries.ingest_waiting(limit=3):
            counted.append(done)

    assert run_at_once((worker,), (worker,)) == []
    assert sum(counted) == 20, "no delivery was ingested by both"
    assert Message.objects.count() == 20
    assert not Delivery.objects.exists()


def test_a_superuser_sees_a_set_aside_delivery_and_has_it_tried_again(owner, client, run_jobs):
    admin_user = User.objects.create_superuser("root", "root@example.com", "root-password")
    stuck = Delivery.objects.create(
        provider=Provider.WHATSAPP,
        body=bill(),
        attempts=deliveries.MAX_ATTEMPTS,
        error="OperationalError: gone",
    )
    browser = logged_in(admin_user)

    listing = browser.get(reverse("admin:conversations_delivery_changelist")).content.decode()
    assert "OperationalError: gone" in listing
    page = browser.get(reverse("admin:conversations_delivery_change", args=[stuck.pk])).content.decode()
    assert "Your bill is ready" in page, "the body is shown, decoded"

    browser.post(
        reverse("admin:conversations_delivery_changelist"),
        {"action": "try_again", "_selected_action": [stuck.pk]},
    )
    run_jobs()
    assert Message.objects.get().text == "Your bill is ready"
    assert not Delivery.objects.exists()


def test_a_stored_form_is_shown_field_by_field(owner):
    admin_user = User.objects.create_superuser("root", "root@example.com", "root-password")
    form = Delivery.objects.create(
        provider="twilio",
        body=b"MessageSid=SM123&From=whatsapp%3A%2B15550001111&Body=Your+bill+is+ready",
        attempts=deliveries.MAX_ATTEMPTS,
        error="unreadable: not a Twilio message webhook",
    )

    page = logged_in(admin_user).get(reverse("admin:conversations_delivery_change", args=[form.pk]))

    text = page.content.decode()
    assert "whatsapp:+15550001111" in text and "Your bill is ready" in text, "decoded, not percent-encoded"

"""Units of work commit when they return, and their side effects follow the commit.

Invariant 2 (docs/architecture.md): a delivery is acknowledged only once it is committed, so
`ingest_batch` refuses to run inside a caller's transaction (whose rollback would silently undo
what the provider was told is stored). The owner's actions are the same kind of unit. Mail,
jobs and provider calls happen after the commit, never for a rolled-back change and never
while a row lock is held.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import DatabaseError, connection, transaction

from conversations import services
from conversations.escalation import escalate, notify_owner
from conversations.inbound import InboundBatch, InboundMessage
from conversations.ingest import ingest_batch
from conversations.models import Escalation, EscalationReason, Message, OwnerSettings, Provider
from conversations.tests.smtp import SMTPStandIn

pytestmark = pytest.mark.django_db

on_postgres = pytest.mark.skipif(
    not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="needs PostgreSQL (DATABASE_URL): SQLite has no row locks to observe",
)


class Rollback(Exception):
    """Raised to roll a test's transaction back."""


def test_ingest_refuses_to_run_inside_a_callers_transaction(owner):
    delivery = InboundBatch(
        messages=(
            InboundMessage(
                provider=Provider.WHATSAPP,
                account_address=owner.channel_accounts.get().address,
                provider_message_id="wamid.durable",
                sender_address="15550001111",
                text="Your bill is ready.",
            ),
        )
    )

    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        ingest_batch(delivery)

    assert not Message.objects.exists()
    ingest_batch(delivery)
    assert Message.objects.count() == 1, "on its own it stores the delivery"


OWNER_ACTIONS: dict[str, Callable] = {
    "approve": lambda draft, by: services.draft_approve(draft_id=draft.pk, by=by),
    "reject": lambda draft, by: services.draft_reject(draft_id=draft.pk, by=by),
    "take over": lambda draft, by: services.conversation_take_over(
        conversation_id=draft.conversation_id, by=by
    ),
    "release": lambda draft, by: services.conversation_release(conversation_id=draft.conversation_id, by=by),
    "reply": lambda draft, by: services.conversation_reply(
        conversation_id=draft.conversation_id, by=by, text="I'll call you."
    ),
    "reengage": lambda draft, by: services.conversation_reengage(conversation_id=draft.conversation_id),
}


@pytest.mark.parametrize("action", OWNER_ACTIONS)
def test_an_owner_action_refuses_to_run_inside_a_callers_transaction(action, owner_a, draft_a):
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        OWNER_ACTIONS[action](draft_a, owner_a)


def test_a_rolled_back_escalation_emails_nobody(
    owner_a, make_conversation, run_jobs, django_capture_on_commit_callbacks
):
    rolled_back, kept = (
        make_conversation(owner_a),
        make_conversation(owner_a, contact_address="5511888880000"),
    )

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Rollback), transaction.atomic():
        escalate(rolled_back, reason=EscalationReason.GUARD)
        raise Rollback
    run_jobs(delayed=True)

    assert mail.outbox == []
    assert not Escalation.objects.exists()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        escalate(kept, reason=EscalationReason.GUARD)
    run_jobs(delayed=True)
    assert len(mail.outbox) == 1, "a committed escalation does email the owner"


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_the_email_goes_out_after_the_batch_is_committed_never_under_the_owners_lock(
    owner_a, make_conversation, settings
):
    conversation = make_conversation(owner_a)
    escalation = escalate(conversation, reason=EscalationReason.GUARD)
    seen: dict[str, object] = {}

    def while_sending(raw: bytes) -> None:
        """In the mail server's thread, as the email arrives: is the owner's row free, the batch committed?"""
        try:
            with transaction.atomic():
                OwnerSettings.objects.select_for_update(nowait=True).get(owner=owner_a)
                seen["claimed"] = Escalation.objects.get(pk=escalation.pk).notified_at is not None
            seen["lock"] = "free"
        except DatabaseError as exc:
            seen["lock"] = f"held: {exc}"
        finally:
            connection.close()

    with SMTPStandIn(on_message=while_sending) as smtp:
        smtp.deliver_here(settings)
        notify_owner(escalation.pk)

    assert [message["Subject"] for message in smtp.received] == ["Gatekeeper needs you: Telco Support"]
    assert seen == {"lock": "free", "claimed": True}

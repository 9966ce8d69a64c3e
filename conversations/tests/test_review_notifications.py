"""Escalations reach the owner: an email with a link, and a WhatsApp note to their own number from the notify job."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.core import mail

from conftest import PHONE_NUMBER_ID
from conversations import jobs
from conversations.escalation import notify_owner
from conversations.models import ChannelAccount, Conversation, Escalation, EscalationReason, OwnerSettings

pytestmark = pytest.mark.django_db

OWN_NUMBER = "+44 7700 900123"
CODE_REQUEST = "Security check: please reply with the verification code we sent you."


@pytest.fixture
def wants_whatsapp(owner):
    OwnerSettings.objects.filter(owner=owner).update(notify_whatsapp=OWN_NUMBER)
    return owner


def _link(conversation: Conversation) -> str:
    return f"{settings.PUBLIC_BASE_URL}/admin/conversations/conversation/{conversation.pk}/change/"


def test_an_escalation_emails_the_owner_a_link_straight_to_the_conversation(
    owner, graph_api, deliver, run_jobs
):
    deliver(CODE_REQUEST, name="First Bank")
    assert mail.outbox == [], "nobody is told inside the webhook request"
    run_jobs()

    conversation = Conversation.objects.get()
    (email,) = mail.outbox
    assert email.to == [owner.email]
    assert _link(conversation) in email.body
    assert [sent.to for sent in graph_api.sent_texts()] == [], "no WhatsApp note without a number"


def test_the_owner_also_gets_a_whatsapp_note_from_their_gatekeepers_number(
    wants_whatsapp, graph_api, deliver, run_jobs
):
    deliver(CODE_REQUEST, name="First Bank")
    assert graph_api.requests == [], "nothing is sent inside the webhook request"
    ran = run_jobs()

    assert "conversations.tasks.notify_owner" in [job.path for job in ran]
    (note,) = [sent for sent in graph_api.sent_texts() if sent.to == "+447700900123"]
    assert note.phone_number_id == PHONE_NUMBER_ID
    assert _link(Conversation.objects.get()) in note.text
    assert note.text.startswith("Gatekeeper needs you: First Bank")
    assert len(mail.outbox) == 1


def test_a_notification_is_sent_once_however_often_the_job_runs(wants_whatsapp, graph_api, make_conversation):
    conversation = make_conversation(wants_whatsapp, contact_address="5511000000001")
    escalation = Escalation.objects.create(conversation=conversation, reason=EscalationReason.LOW_CONFIDENCE)

    notify_owner(escalation.pk)
    notify_owner(escalation.pk)

    assert len(mail.outbox) == 1
    assert len(graph_api.sent_texts()) == 1


def test_a_failed_whatsapp_note_is_logged_and_the_email_still_counts(
    wants_whatsapp, graph_api, make_conversation, caplog
):
    conversation = make_conversation(wants_whatsapp, contact_address="5511000000001")
    escalation = Escalation.objects.create(conversation=conversation, reason=EscalationReason.GUARD)
    graph_api.fail_next(131047)

    with caplog.at_level(logging.WARNING, logger="conversations.owner_phone"):
        notify_owner(escalation.pk)

    escalation.refresh_from_db()
    assert escalation.notified_at is not None
    assert len(mail.outbox) == 1
    (record,) = [r for r in caplog.records if r.name == "conversations.owner_phone"]
    assert "WhatsApp note to owner" in record.getMessage()
    assert "within 24 hours" in record.getMessage()
    assert jobs.recorded == [], "a failed note is not retried: the email already went"


def test_an_owner_without_a_whatsapp_number_of_their_own_is_told_by_email_and_it_is_logged(
    wants_whatsapp, graph_api, make_conversation, caplog
):
    conversation = make_conversation(wants_whatsapp, contact_address="5511000000001")
    escalation = Escalation.objects.create(conversation=conversation, reason=EscalationReason.GUARD)
    ChannelAccount.objects.filter(owner=wants_whatsapp).update(provider="webchat")

    with caplog.at_level(logging.WARNING, logger="conversations.owner_phone"):
        notify_owner(escalation.pk)

    assert len(mail.outbox) == 1
    assert graph_api.sent_texts() == []
    assert "no WhatsApp number to send notifications from" in caplog.text

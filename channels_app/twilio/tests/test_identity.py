"""Senders Twilio names by a WhatsApp user id (`From=whatsapp:US.1234`, `ExternalUserId`), end to
end through the signed webhook: who the contact is, and where the reply goes at the Twilio stand-in
(docs/architecture.md, "One identity per contact")."""

from __future__ import annotations

import pytest

from channels_app.twilio.tests.helpers import fixture_params
from conversations import services
from conversations.models import Contact, Conversation
from conversations.providers import OutboundText, SendFailure

pytestmark = pytest.mark.django_db


@pytest.fixture
def reply_by_hand(owner, run_jobs, django_capture_on_commit_callbacks):
    """The owner answers on the conversation page; the send job runs."""

    def reply(conversation: Conversation, text: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            services.conversation_reply(conversation_id=conversation.pk, by=owner, text=text)
        run_jobs()

    return reply


def test_user_ids_with_the_same_digits_are_two_contacts(twilio_account, deliver_twilio):
    assert deliver_twilio(fixture_params("text_bsuid")).status_code == 200
    assert deliver_twilio(fixture_params("text_bsuid_other_country")).status_code == 200

    contacts = Contact.objects.order_by("user_id")
    assert [(c.user_id, c.phone) for c in contacts] == [("IN.1234", ""), ("US.1234", "")]
    assert Conversation.objects.count() == 2
    assert not Contact.objects.filter(phone="1234").exists()


def test_a_phoneless_sender_is_answered_at_its_user_id(
    twilio_account, twilio_api, deliver_twilio, reply_by_hand
):
    deliver_twilio(fixture_params("text_bsuid"))
    reply_by_hand(Conversation.objects.get(), "Friday morning, please.")

    (sent,) = twilio_api.sent_messages()
    assert sent.to == "whatsapp:US.1234"
    assert sent.from_ == "whatsapp:+14155238886"


def test_a_number_later_named_with_its_user_id_stays_one_contact(
    twilio_account, twilio_api, deliver_twilio, reply_by_hand
):
    deliver_twilio(fixture_params("text"))
    with_user_id = {
        **fixture_params("text"),
        "MessageSid": "SM" + "4d" * 16,
        "SmsMessageSid": "SM" + "4d" * 16,
        "SmsSid": "SM" + "4d" * 16,
        "ExternalUserId": "US.5550001",
    }
    deliver_twilio(with_user_id)

    contact = Contact.objects.get()
    assert (contact.phone, contact.user_id) == ("15551230001", "US.5550001")
    conversation = Conversation.objects.get()
    assert conversation.messages.count() == 2
    reply_by_hand(conversation, "Thanks, noted.")
    assert [sent.to for sent in twilio_api.sent_messages()] == ["whatsapp:+15551230001"]


def test_a_group_is_never_sent_to_through_twilio(provider, twilio_api):
    """Twilio has no group sends: refused, rather than written to a member privately."""
    message = OutboundText(
        account_address="+14155238886", to="group:Y2FwaV9ncm91cDox", to_group="Y2FwaV9ncm91cDox", text="Hi"
    )
    with pytest.raises(SendFailure) as refused:
        provider.send_text(message)
    assert refused.value.code == "group_unsupported"
    assert twilio_api.requests == []

"""The conversation page reads like a chat: the thread in order, who wrote what, delivery, and why drafts wait."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from conversations.models import (
    Author,
    Conversation,
    Direction,
    Draft,
    DraftStatus,
    Escalation,
    EscalationReason,
    Message,
    MessageStatus,
    OwnerSettings,
    Rule,
)
from conversations.selectors import conversation_thread
from conversations.tests.review_support import logged_in, staff_owner

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return staff_owner("alice")


@pytest.fixture
def client_alice(alice):
    return logged_in(alice)


def add(conversation: Conversation, text: str, *, author: str = Author.CONTACT, **fields) -> Message:
    direction = Direction.IN if author == Author.CONTACT else Direction.OUT
    fields.setdefault("status", MessageStatus.RECEIVED if direction == Direction.IN else MessageStatus.SENT)
    return Message.objects.create(
        conversation=conversation,
        account=conversation.account,
        direction=direction,
        author=author,
        text=text,
        **fields,
    )


def page_of(client, conversation: Conversation) -> str:
    response = client.get(reverse("admin:conversations_conversation_change", args=[conversation.pk]))
    assert response.status_code == 200
    return response.content.decode()


def plain(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_thread_shows_every_message_in_order_with_author_and_delivery(
    client_alice, alice, make_conversation
):
    conversation = make_conversation(alice, contact_name="Acme Mobile", text="Your bill is ready.")
    rule = Rule.objects.create(owner=alice, category="cellphone_provider", action="draft")
    Conversation.objects.filter(pk=conversation.pk).update(rule=rule)
    add(conversation, "Thanks, noted.", author=Author.ASSISTANT, status=MessageStatus.READ)
    add(conversation, "I'll call you tomorrow.", author=Author.OWNER, status=MessageStatus.DELIVERED)
    add(
        conversation,
        "Are you there?",
        author=Author.ASSISTANT,
        status=MessageStatus.FAILED,
        error_code="131047",
        error_detail="Re-engagement message",
    )

    text = plain(page_of(client_alice, conversation))

    order = ["Your bill is ready.", "Thanks, noted.", "I'll call you tomorrow.", "Are you there?"]
    assert [text.index(t.replace("'", "&#x27;")) for t in order] == sorted(
        text.index(t.replace("'", "&#x27;")) for t in order
    )
    assert "Acme Mobile (provider)" in text
    assert "Assistant" in text and "Owner, by hand" in text
    assert "Read" in text and "Delivered" in text
    assert "Failed · error 131047: Re-engagement message" in text
    assert "Category: cellphone_provider" in text
    assert "Rule: cellphone_provider (Draft: always wait for my approval)" in text


def test_a_draft_shows_confidence_reason_and_every_guard_with_the_words_highlighted(
    client_alice, alice, make_conversation, make_draft
):
    OwnerSettings.objects.create(owner=alice, confidence_threshold=0.8)
    conversation = make_conversation(alice)
    draft = make_draft(
        conversation,
        text="I will pay today. My card is 4111 1111 1111 1111 and the code is 123456.",
        confidence=0.55,
        reason="The provider asked for payment.",
        decision="guard commitment: The reply would commit you to something.; confidence 0.55 is below your threshold 0.80",
        guards=[
            {"guard": "private_fact", "effect": "hold", "words": ["4111111111111111"], "detail": "Private."},
            {"guard": "one_time_code", "effect": "hold", "words": ["123456"], "detail": "A code."},
            {"guard": "commitment", "effect": "hold", "words": ["I will pay"], "detail": "Commits you."},
        ],
    )

    page = page_of(client_alice, conversation)
    card = page[page.index(f'id="draft-{draft.pk}"') :]

    assert re.findall(r'<mark class="gk-hit">([^<]+)</mark>', card)[:3] == [
        "I will pay",
        "4111 1111 1111 1111",
        "123456",
    ]
    text = plain(card)
    assert "confidence 55%" in text
    assert "The provider asked for payment." in text
    assert "Confidence 0.55 is below your threshold 0.80" in text
    for label in ("Private fact", "One-time code", "Commits you", "Low confidence"):
        assert label in text
    assert "The assistant is 55% sure; you asked for 80%." in text
    assert "“4111111111111111”" not in text, "a private value is never listed, only highlighted in place"


def test_a_code_request_is_highlighted_in_what_the_provider_wrote(
    client_alice, alice, make_conversation, make_draft
):
    conversation = make_conversation(alice, text="Please send the verification code we sent you.")
    make_draft(
        conversation,
        guards=[
            {
                "guard": "code_request",
                "effect": "escalate",
                "words": ["send the verification code"],
                "detail": "x",
            }
        ],
    )

    page = page_of(client_alice, conversation)

    assert 'Please <mark class="gk-hit">send the verification code</mark> we sent you.' in page


def test_a_stale_draft_is_marked_and_asks_for_a_fresh_look(
    client_alice, alice, make_conversation, make_draft
):
    conversation = make_conversation(alice)
    draft = make_draft(conversation)
    newer = add(conversation, "Hello? Please confirm.")

    page = page_of(client_alice, conversation)
    card = page[page.index(f'id="draft-{draft.pk}"') :]

    assert "The conversation moved on" in card
    assert "Approve anyway: I read the newer messages" in card
    assert f'name="seen_through" value="{newer.pk}"' in card
    assert f'gk-draft-stale" id="draft-{draft.pk}"' in page
    assert page.index(f'id="draft-{draft.pk}"') < page.index("Hello? Please confirm."), (
        "in the order it happened"
    )


def test_decided_drafts_show_who_decided_and_sent_ones_sit_under_their_message(
    client_alice, alice, make_conversation, make_draft
):
    conversation = make_conversation(alice)
    rejected = make_draft(conversation, status=DraftStatus.REJECTED, decided_by=alice)
    sent = Draft.objects.create(
        conversation=conversation,
        text="Sent reply.",
        status=DraftStatus.SENT,
        answers_through=0,
        confidence=0.9,
    )
    add(conversation, "Sent reply.", author=Author.ASSISTANT, draft=sent)

    text = plain(page_of(client_alice, conversation))

    assert f"Draft #{rejected.pk} by the assistant" in text and "Rejected by alice" in text
    assert f"Draft #{sent.pk} · Sent · confidence 90% · sent on your behalf" in text


def test_escalations_appear_in_the_thread(client_alice, alice, make_conversation):
    conversation = make_conversation(alice)
    Escalation.objects.create(conversation=conversation, reason=EscalationReason.SEND_FAILED, detail="131026")

    text = plain(page_of(client_alice, conversation))

    assert "Escalated to you: A reply could not be delivered" in text
    assert "notification pending" in text


def test_a_long_conversation_shows_its_newest_messages_and_links_to_the_rest(
    client_alice, alice, make_conversation
):
    conversation = make_conversation(alice)
    for n in range(5):
        add(conversation, f"message {n}")

    thread = conversation_thread(conversation, limit=3)
    page = page_of(client_alice, conversation)

    assert thread.hidden_older == 3
    assert [entry.message.text for entry in thread.entries] == ["message 2", "message 3", "message 4"]
    assert "older message" not in page, "the page shows up to 200 messages"
    everything = client_alice.get(
        reverse("admin:conversations_message_changelist") + f"?conversation__id__exact={conversation.pk}"
    )
    assert everything.status_code == 200
    assert "message 0" in everything.content.decode() and "message 4" in everything.content.decode()


def test_the_draft_page_offers_the_decision_with_the_thread_since(
    client_alice, alice, make_conversation, make_draft
):
    conversation = make_conversation(alice)
    draft = make_draft(conversation, guards=[{"guard": "commitment", "effect": "hold", "words": ["thank"]}])
    newer = add(conversation, "One more thing.")

    page = client_alice.get(reverse("admin:conversations_draft_change", args=[draft.pk])).content.decode()

    assert 'No, <mark class="gk-hit">thank</mark> you.' in page
    assert "One more thing." in page
    assert f'name="seen_through" value="{newer.pk}"' in page
    assert f'formaction="/admin/conversations/draft/{draft.pk}/decide/"' in page
    assert "Approve anyway: I read the newer messages" in page
    assert 'name="text"' in page, "a pending draft's text can be edited here"


def test_an_edit_saved_on_the_draft_page_never_sends(client_alice, alice, make_conversation, make_draft):
    draft = make_draft(make_conversation(alice))

    client_alice.post(reverse("admin:conversations_draft_change", args=[draft.pk]), {"text": "Edited."})

    draft.refresh_from_db()
    assert (draft.text, draft.status) == ("Edited.", DraftStatus.PENDING)
    assert not Message.objects.filter(direction=Direction.OUT).exists()

"""A web-chat visitor reads as "Web-chat visitor", their typed name and a short id, never `webchat:<hex>`."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from conversations.escalation import escalate
from conversations.models import Contact, EscalationReason
from conversations.tests.review_support import logged_in, staff_owner

pytestmark = pytest.mark.django_db

ALICE_ID = "3f9a2c" + "0" * 26
BOB_ID = "b41d07" + "1" * 26


@pytest.mark.parametrize(
    ("address", "name", "shown"),
    [
        (f"webchat:{ALICE_ID}", "", "Web-chat visitor (3f9a2c)"),
        (f"webchat:{ALICE_ID}", "Alice", "Web-chat visitor Alice (3f9a2c)"),
        (f"webchat:{BOB_ID}", "Alice", "Web-chat visitor Alice (b41d07)"),
        ("5511999990000", "Telco Support", "Telco Support"),
        ("5511999990000", "", "5511999990000"),
    ],
)
def test_a_contact_is_shown_readably(address, name, shown):
    assert str(Contact(address=address, name=name)) == shown


def test_the_review_queue_and_lists_show_visitors_readably(make_conversation, make_draft):
    alice = staff_owner("alice")
    make_draft(make_conversation(alice, contact_address=f"webchat:{ALICE_ID}", contact_name=""))
    make_draft(make_conversation(alice, contact_address=f"webchat:{BOB_ID}", contact_name="Bob"))
    client = logged_in(alice)

    pages = [
        client.get(reverse(name)).content.decode()
        for name in (
            "admin:index",
            "admin:conversations_draft_changelist",
            "admin:conversations_conversation_changelist",
        )
    ]

    for page in pages:
        assert "Web-chat visitor (3f9a2c)" in page
        assert "Web-chat visitor Bob (b41d07)" in page
        assert f">webchat:{ALICE_ID}<" not in page


def test_an_escalation_email_names_the_visitor_on_one_line(
    owner_a, make_conversation, django_capture_on_commit_callbacks, run_jobs
):
    conversation = make_conversation(
        owner_a, contact_address=f"webchat:{ALICE_ID}", contact_name="Alice\r\nBcc: x@example.com"
    )

    with django_capture_on_commit_callbacks(execute=True):
        escalate(conversation, reason=EscalationReason.GUARD, detail="a guard held the reply")
    run_jobs()

    (email,) = mail.outbox
    assert email.subject == "Gatekeeper needs you: Web-chat visitor Alice Bcc: x@example.com (3f9a2c)"

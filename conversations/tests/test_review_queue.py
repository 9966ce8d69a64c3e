"""The review queue: counts and rows on the admin index, filters and search, and constant query counts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conversations.models import (
    AuditAction,
    AuditEntry,
    Author,
    Conversation,
    ConversationStatus,
    Direction,
    Draft,
    DraftStatus,
    Escalation,
    EscalationReason,
    Fact,
    Message,
    MessageStatus,
    OwnerSettings,
    Provider,
    Rule,
)
from conversations.tests.review_support import logged_in, staff_owner

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return staff_owner("alice")


@pytest.fixture
def client_alice(alice):
    return logged_in(alice)


def _ids(response, pattern: str = r'name="_selected_action" value="(\d+)"') -> list[int]:
    return [int(pk) for pk in re.findall(pattern, response.content.decode())]


def test_the_index_opens_on_what_needs_the_owner_newest_first(
    client_alice, alice, make_conversation, make_draft
):
    older = make_draft(make_conversation(alice, contact_name="Acme Mobile", contact_address="1"))
    newer = make_draft(
        make_conversation(alice, contact_name="City Power", contact_address="2"), confidence=0.3
    )
    Draft.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(hours=1))
    escalated = make_conversation(alice, contact_name="First Bank", contact_address="3", category="bank")
    Escalation.objects.create(conversation=escalated, reason=EscalationReason.GUARD)
    Conversation.objects.filter(pk=escalated.pk).update(status=ConversationStatus.NEEDS_ATTENTION)

    page = client_alice.get(reverse("admin:index")).content.decode()

    queue = page[page.index('class="gk-queue"') : page.index("</section>")]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", queue))
    assert "2 drafts waiting for approval" in text
    assert "1 conversation needs attention" in text
    assert text.index("City Power") < text.index("Acme Mobile"), "newest first"
    assert "Low confidence" in text, "a draft below the owner's threshold says so"
    assert "A guard held a reply" in text
    assert f"/admin/conversations/conversation/{newer.conversation_id}/change/#draft-{newer.pk}" in queue
    assert page.index('class="gk-queue"') < page.index('class="app-conversations'), "the queue comes first"


def test_the_queue_says_so_when_nothing_waits(client_alice):
    page = client_alice.get(reverse("admin:index")).content.decode()

    assert "Nothing waits for your approval." in page
    assert "No conversation needs you right now." in page


def test_the_draft_list_opens_on_pending_drafts_newest_first(
    client_alice, alice, make_conversation, make_draft
):
    first = make_draft(make_conversation(alice, contact_address="1"))
    second = make_draft(make_conversation(alice, contact_address="2"))
    decided = make_draft(make_conversation(alice, contact_address="3"), status=DraftStatus.REJECTED)

    pending = client_alice.get(reverse("admin:conversations_draft_changelist"))
    everything = client_alice.get(reverse("admin:conversations_draft_changelist") + "?status=all")

    assert _ids(pending) == [second.pk, first.pk]
    assert set(_ids(everything)) == {first.pk, second.pk, decided.pk}


@pytest.fixture
def assorted(alice, make_conversation, make_draft) -> dict[str, Draft]:
    """Drafts across channels, categories, rules and confidences, one of them stale."""
    OwnerSettings.objects.create(owner=alice, confidence_threshold=0.8)
    bank_rule = Rule.objects.create(owner=alice, category="bank")
    telco = make_draft(
        make_conversation(alice, contact_name="Acme Mobile", contact_address="1"), confidence=0.95
    )
    bank_conversation = make_conversation(
        alice, contact_name="First Bank", contact_address="2", category="bank"
    )
    Conversation.objects.filter(pk=bank_conversation.pk).update(rule=bank_rule)
    bank = make_draft(bank_conversation, text="Please call me about the transfer.", confidence=0.7)
    web_conversation = make_conversation(alice, contact_name="Visitor", contact_address="3", category="spam")
    web_account = web_conversation.account
    web_account.pk = None
    web_account.provider, web_account.address = Provider.WEBCHAT, "alice-chat"
    web_account.save()
    Conversation.objects.filter(pk=web_conversation.pk).update(account=web_account)
    spam = make_draft(web_conversation, confidence=0.3)
    Message.objects.create(
        conversation=bank_conversation,
        account=bank_conversation.account,
        direction=Direction.IN,
        author=Author.CONTACT,
        text="Hello?",
        status=MessageStatus.RECEIVED,
    )
    return {"telco": telco, "bank": bank, "spam": spam}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("conversation__account__provider__exact=webchat", {"spam"}),
        ("category=bank", {"bank"}),
        ("conversation__rule__id__exact={rule}", {"bank"}),
        ("confidence=below_threshold", {"bank", "spam"}),
        ("confidence=low", {"spam"}),
        ("confidence=medium", {"bank"}),
        ("confidence=high", {"telco"}),
        ("stale=yes", {"bank"}),
        ("stale=no", {"telco", "spam"}),
        ("q=transfer", {"bank"}),
        ("q=Acme", {"telco"}),
    ],
)
def test_the_draft_list_filters_and_searches(client_alice, alice, assorted, query, expected):
    rule = Rule.objects.get(owner=alice, category="bank")

    response = client_alice.get(
        reverse("admin:conversations_draft_changelist") + "?" + query.format(rule=rule.pk)
    )

    assert response.status_code == 200
    by_pk = {draft.pk: name for name, draft in assorted.items()}
    assert {by_pk[pk] for pk in _ids(response)} == expected


def test_the_conversation_list_puts_what_needs_the_owner_first(
    client_alice, alice, make_conversation, make_draft
):
    quiet = make_conversation(alice, contact_address="1")
    waiting = make_conversation(alice, contact_address="2")
    make_draft(waiting)
    attention = make_conversation(alice, contact_address="3")
    Conversation.objects.filter(pk=attention.pk).update(status=ConversationStatus.NEEDS_ATTENTION)
    quiet.save()  # the most recent activity, yet the least urgent

    response = client_alice.get(reverse("admin:conversations_conversation_changelist"))

    assert _ids(response) == [attention.pk, waiting.pk, quiet.pk]
    needs_you = client_alice.get(reverse("admin:conversations_conversation_changelist") + "?needs=anything")
    assert set(_ids(needs_you)) == {attention.pk, waiting.pk}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status__exact=needs_attention", {"bank"}),
        ("account__provider__exact=webchat", {"spam"}),
        ("category=spam", {"spam"}),
        ("bot_paused__exact=1", {"telco"}),
        ("q=Hello", {"bank"}),
        ("q=First", {"bank"}),
    ],
)
def test_the_conversation_list_filters_and_searches(client_alice, assorted, query, expected):
    Conversation.objects.filter(pk=assorted["bank"].conversation_id).update(
        status=ConversationStatus.NEEDS_ATTENTION
    )
    Conversation.objects.filter(pk=assorted["telco"].conversation_id).update(bot_paused=True)

    response = client_alice.get(reverse("admin:conversations_conversation_changelist") + "?" + query)

    assert response.status_code == 200
    by_pk = {draft.conversation_id: name for name, draft in assorted.items()}
    assert {by_pk[pk] for pk in _ids(response)} == expected


def test_provider_text_is_escaped_everywhere_it_is_shown(client_alice, alice, make_conversation, make_draft):
    evil = "<script>alert(1)</script>"
    conversation = make_conversation(alice, contact_name=f"Evil {evil}", text=f"Hi {evil}", category="x<b>y")
    make_draft(
        conversation,
        text=f"I will pay {evil}",
        reason=f"Because {evil}",
        decision=f"guard commitment: x; {evil}",
        guards=[{"guard": f"g{evil}", "effect": "hold", "words": [f"{evil}"], "detail": evil}],
    )
    Escalation.objects.create(conversation=conversation, reason=EscalationReason.GUARD, detail=evil)

    pages = [
        client_alice.get(reverse("admin:index")),
        client_alice.get(reverse("admin:conversations_draft_changelist")),
        client_alice.get(reverse("admin:conversations_conversation_changelist")),
        client_alice.get(reverse("admin:conversations_conversation_change", args=[conversation.pk])),
        client_alice.get(reverse("admin:conversations_draft_change", args=[conversation.drafts.get().pk])),
        client_alice.get(reverse("admin:conversations_message_changelist")),
        client_alice.get(reverse("admin:conversations_escalation_changelist")),
    ]

    for response in pages:
        assert response.status_code == 200
        body = response.content.decode()
        assert "<script>alert(1)" not in body, response.wsgi_request.path
        assert "x<b>y" not in body


def _add_rows(owner, make_conversation, make_draft, start: int, count: int) -> None:
    """Conversations with a pending and a sent draft, messages, an escalation and audit entries."""
    for n in range(start, start + count):
        conversation = make_conversation(owner, contact_address=f"55119{n:08d}")
        pending = make_draft(
            conversation, guards=[{"guard": "commitment", "effect": "hold", "words": ["pay"]}]
        )
        sent = Draft.objects.create(
            conversation=conversation, text="Sent.", status=DraftStatus.SENT, answers_through=0
        )
        Message.objects.create(
            conversation=conversation,
            account=conversation.account,
            direction=Direction.OUT,
            author=Author.ASSISTANT,
            text="Sent.",
            status=MessageStatus.FAILED,
            error_code="131047",
            draft=sent,
        )
        Escalation.objects.create(conversation=conversation, reason=EscalationReason.LOW_CONFIDENCE)
        AuditEntry.objects.create(
            owner=owner, actor=owner, action=AuditAction.EDIT, conversation=conversation, draft=pending
        )
        Rule.objects.create(owner=owner, category=f"category-{n}")
        Fact.objects.create(owner=owner, key=f"key-{n}", value="secret")


CHANGELISTS = [
    "conversation",
    "draft",
    "message",
    "escalation",
    "auditentry",
    "rule",
    "fact",
    "contact",
    "channelaccount",
    "ownersettings",
]


@pytest.mark.parametrize("model", CHANGELISTS)
def test_changelists_run_a_constant_number_of_queries(
    client_alice, alice, make_conversation, make_draft, model
):
    OwnerSettings.objects.create(owner=alice)
    url = reverse(f"admin:conversations_{model}_changelist")
    if model == "draft":
        url += "?status=all"
    _add_rows(alice, make_conversation, make_draft, 0, 1)
    client_alice.get(url)  # warm the session and content-type caches
    with CaptureQueriesContext(connection) as few:
        assert client_alice.get(url).status_code == 200
    _add_rows(alice, make_conversation, make_draft, 1, 12)

    with CaptureQueriesContext(connection) as many:
        client_alice.get(url)

    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


@pytest.mark.parametrize("page", ["index", "conversation"])
def test_the_queue_and_the_conversation_page_run_a_constant_number_of_queries(
    client_alice, alice, make_conversation, make_draft, page
):
    OwnerSettings.objects.create(owner=alice)
    _add_rows(alice, make_conversation, make_draft, 0, 1)
    conversation = Conversation.objects.get()
    url = (
        reverse("admin:index")
        if page == "index"
        else reverse("admin:conversations_conversation_change", args=[conversation.pk])
    )
    client_alice.get(url)
    with CaptureQueriesContext(connection) as few:
        client_alice.get(url)
    _add_rows(alice, make_conversation, make_draft, 1, 12)
    for n in range(12):
        Message.objects.create(
            conversation=conversation,
            account=conversation.account,
            direction=Direction.IN if n % 2 else Direction.OUT,
            author=Author.CONTACT if n % 2 else Author.OWNER,
            text=f"message {n}",
            status=MessageStatus.RECEIVED if n % 2 else MessageStatus.DELIVERED,
        )

    with CaptureQueriesContext(connection) as many:
        client_alice.get(url)

    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]

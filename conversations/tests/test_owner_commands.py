"""The owner's phone is the console: held drafts reach the owner's own number with their number,
and the owner's answers from that number (ok, yes, edit, no, take, status) act like the dashboard.

Through signed Meta webhooks and the Graph stand-in; the Twilio twin is in
channels_app/twilio/tests/test_owner_commands.py.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from channels_app.whatsapp_payloads import text_message_payload
from conftest import PHONE_NUMBER_ID, PROVIDER_NUMBER
from conversations.models import (
    AuditAction,
    AuditEntry,
    ChannelAccount,
    Contact,
    Conversation,
    Direction,
    Draft,
    DraftStatus,
    Message,
    MessageStatus,
    OwnerCommand,
    OwnerNotice,
    OwnerNoticeStatus,
    OwnerSettings,
    Provider,
    Rule,
    RuleAction,
    User,
)
from conversations.owner_commands import APPROVE, EDIT, HELP, HELP_TEXT, REJECT, STATUS, TAKE, Command, parse

OWN_NUMBER = "+44 7700 900123"
OWN_WA_ID = "447700900123"
OTHER_COMPANY = "15550002222"
DRAFT_TEXT = "Thanks, I will look at the bill."


# -- parsing: a pure function ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "command"),
    [
        ("ok 12", Command(APPROVE, 12)),
        ("OK #12", Command(APPROVE, 12)),
        ("yes 12", Command(APPROVE, 12)),
        ("Yes 12.", Command(APPROVE, 12)),
        ("ok", Command(APPROVE)),
        ("  yes  ", Command(APPROVE)),
        ("no 7", Command(REJECT, 7)),
        ("no", Command(REJECT)),
        ("take 3", Command(TAKE, 3)),
        ("take", Command(TAKE)),
        ("status", Command(STATUS)),
        ("Status?", Command(STATUS)),
        ("edit 12 Not now, thank you.", Command(EDIT, 12, "Not now, thank you.")),
        ("edit #12 Line one\nline two", Command(EDIT, 12, "Line one\nline two")),
        ("edit Not now", Command(EDIT, None, "Not now")),
        ("edit 12", Command(EDIT, 12, "")),
        ("ok \uff11\uff12", Command(APPROVE, 12)),  # full-width digits from a phone keyboard
        ("hello?", Command(HELP)),
        ("ok 12 and also 13", Command(HELP)),
        ("okay", Command(HELP)),
        ("no thanks", Command(HELP)),
        ("", Command(HELP)),
    ],
)
def test_parse_reads_the_fixed_grammar_and_nothing_else(message, command):
    assert parse(message) == command


# -- end to end through signed webhooks --------------------------------------------------------


@pytest.fixture
def phone_owner(owner, script):
    """An owner who gave their own number, whose telco's replies always wait for approval."""
    OwnerSettings.objects.filter(owner=owner).update(notify_whatsapp=OWN_NUMBER)
    Rule.objects.filter(owner=owner, category="cellphone_provider").update(
        action=RuleAction.DRAFT, match_senders=[f"+{PROVIDER_NUMBER}", f"+{OTHER_COMPANY}"]
    )
    script({"reply": DRAFT_TEXT, "category": "cellphone_provider", "confidence": 0.95, "reason": "a bill"})
    return owner


@pytest.fixture
def held_draft(phone_owner, deliver, run_jobs):
    """A company writes; the assistant's reply waits for the owner; returns the draft."""

    def hold(text: str = "Your bill is ready", *, sender: str = PROVIDER_NUMBER, name: str = "Acme Mobile"):
        assert deliver(text, sender=sender, name=name).status_code == 200
        run_jobs()
        return Draft.objects.filter(status=DraftStatus.PENDING).latest("id")

    return hold


@pytest.fixture
def command(deliver, run_jobs):
    """The owner writes from their own number to their gatekeeper's number."""

    def write(text: str, *, message_id: str | None = None, timestamp: int | None = None):
        payload = text_message_payload(
            phone_number_id=PHONE_NUMBER_ID,
            sender=OWN_WA_ID,
            name="Me",
            text=text,
            message_id=message_id,
            timestamp=timestamp,
        )
        assert deliver(payload=payload).status_code == 200
        return run_jobs()

    return write


def notes(graph_api) -> list[str]:
    """What reached the owner's own number."""
    return [sent.text for sent in graph_api.sent_texts() if sent.to == "+" + OWN_WA_ID]


def to_companies(graph_api) -> list[str]:
    return [sent.text for sent in graph_api.sent_texts() if sent.to != "+" + OWN_WA_ID]


def test_a_held_draft_reaches_the_owners_phone_with_its_number_company_text_and_reason(graph_api, held_draft):
    draft = held_draft()

    (note,) = notes(graph_api)
    assert f"#{draft.pk}" in note
    assert "Acme Mobile" in note
    assert DRAFT_TEXT in note
    assert "Why: " in note and "the rule for this category says draft" in note
    assert f"ok {draft.pk}" in note
    assert to_companies(graph_api) == [], "nothing went to the company"


def test_ok_sends_the_draft_to_the_company_exactly_once_and_confirms_even_when_redelivered(
    graph_api, held_draft, command
):
    draft = held_draft()

    command(f"ok {draft.pk}", message_id="wamid.OWNER-OK-1")
    command(f"ok {draft.pk}", message_id="wamid.OWNER-OK-1")  # Meta redelivers the same message

    assert to_companies(graph_api) == [DRAFT_TEXT]
    assert notes(graph_api)[1:] == [f"Sending draft {draft.pk} to Acme Mobile."]
    draft.refresh_from_db()
    assert draft.status == DraftStatus.SENT
    assert draft.decided_by.username == "owner"
    assert OwnerCommand.objects.count() == 1
    assert AuditEntry.objects.filter(action=AuditAction.APPROVE, draft=draft).count() == 1


def test_a_second_ok_is_answered_with_the_reason_and_sends_nothing_more(graph_api, held_draft, command):
    draft = held_draft()
    command(f"yes {draft.pk}")
    command(f"ok {draft.pk}")

    assert to_companies(graph_api) == [DRAFT_TEXT]
    assert notes(graph_api)[-1] == f"Draft {draft.pk} was already sent."
    assert OwnerCommand.objects.latest("id").outcome == "refused"


def test_edit_sends_the_owners_text_instead(graph_api, held_draft, command):
    draft = held_draft()

    command(f"edit {draft.pk} Not now, thank you.")

    assert to_companies(graph_api) == ["Not now, thank you."]
    assert notes(graph_api)[-1] == f"Sending your text for draft {draft.pk} to Acme Mobile."
    assert AuditEntry.objects.filter(action=AuditAction.EDIT, draft=draft).exists()


def test_no_rejects_the_draft_and_nothing_is_sent(graph_api, held_draft, command):
    draft = held_draft()

    command(f"no {draft.pk}")

    draft.refresh_from_db()
    assert draft.status == DraftStatus.REJECTED
    assert to_companies(graph_api) == []
    assert notes(graph_api)[-1] == f"Draft {draft.pk} rejected: nothing goes to Acme Mobile."


def test_take_takes_the_conversation_over(graph_api, held_draft, command):
    draft = held_draft()

    command(f"take {draft.pk}")

    conversation = Conversation.objects.get(pk=draft.conversation_id)
    draft.refresh_from_db()
    assert conversation.bot_paused
    assert draft.status == DraftStatus.WITHDRAWN
    assert notes(graph_api)[-1].startswith("You took Acme Mobile over: the assistant stays silent there.")
    assert to_companies(graph_api) == []


def test_status_lists_what_waits(graph_api, held_draft, command):
    first = held_draft()
    second = held_draft("Your plan changes", sender=OTHER_COMPANY, name="City Phone")

    command("status")

    reply = notes(graph_api)[-1]
    assert reply.startswith("2 draft(s) wait for you:")
    assert f"#{first.pk} Acme Mobile" in reply
    assert f"#{second.pk} City Phone" in reply


def test_status_says_so_when_nothing_waits(graph_api, phone_owner, command):
    command("status")

    assert notes(graph_api) == ["Nothing waits for you."]


def test_a_command_without_a_number_applies_to_the_latest_notification(graph_api, held_draft, command):
    older = held_draft()
    latest = held_draft("Your plan changes", sender=OTHER_COMPANY, name="City Phone")

    command("ok")

    assert to_companies(graph_api) == [DRAFT_TEXT]
    older.refresh_from_db()
    latest.refresh_from_db()
    assert (older.status, latest.status) == (DraftStatus.PENDING, DraftStatus.SENT)
    assert notes(graph_api)[-1] == f"Sending draft {latest.pk} to City Phone."


def test_a_command_without_a_number_and_no_notification_asks_which(graph_api, phone_owner, command):
    command("no")

    assert notes(graph_api) == ["Which draft? Add its number, e.g. ok 12; status lists what waits."]


def test_anything_else_gets_the_list_of_commands(graph_api, held_draft, command):
    draft = held_draft()

    command("Hi, what is going on?")

    assert notes(graph_api)[-1] == HELP_TEXT
    draft.refresh_from_db()
    assert draft.status == DraftStatus.PENDING


def test_another_owners_draft_number_is_no_such_draft(graph_api, held_draft, command):
    held_draft()
    bob = User.objects.create_user(username="bob", password="bob-password")
    account = ChannelAccount.objects.create(owner=bob, provider=Provider.WHATSAPP, address="200000000000001")
    contact = Contact.objects.create(owner=bob, address=PROVIDER_NUMBER, name="Acme Mobile")
    conversation = Conversation.objects.create(owner=bob, account=account, contact=contact)
    inbound = Message.objects.create(
        conversation=conversation,
        account=account,
        direction=Direction.IN,
        author="contact",
        text="Bob's bill",
        status=MessageStatus.RECEIVED,
    )
    bobs = Draft.objects.create(conversation=conversation, text="Bob's reply", answers_through=inbound.pk)

    command(f"ok {bobs.pk}")
    command(f"take {bobs.pk}")

    assert notes(graph_api)[-2:] == [f"No such draft: {bobs.pk}."] * 2
    bobs.refresh_from_db()
    conversation.refresh_from_db()
    assert bobs.status == DraftStatus.PENDING and not conversation.bot_paused
    assert to_companies(graph_api) == []


def test_a_stale_draft_is_refused_with_the_reason_and_a_second_ok_confirms(
    graph_api, held_draft, command, deliver, run_jobs
):
    draft = held_draft()
    deliver("Also, your contract ends soon", name="Acme Mobile")
    run_jobs()

    command(f"ok {draft.pk}")
    refusal = notes(graph_api)[-1]
    assert refusal.startswith(f"Draft {draft.pk} was not sent: The conversation moved on")
    assert "Also, your contract ends soon" in refusal
    assert refusal.endswith(f"Send ok {draft.pk} again to send it anyway.")
    assert to_companies(graph_api) == []

    command(f"ok {draft.pk}")
    assert to_companies(graph_api) == [DRAFT_TEXT]


def test_the_owners_number_never_becomes_a_company_conversation(graph_api, phone_owner, command):
    ran = command("Hello, is this thing on?")

    assert not Contact.objects.filter(address=OWN_WA_ID).exists()
    assert Conversation.objects.count() == 0
    assert Message.objects.count() == 0
    assert "conversations.tasks.draft_reply" not in [job.path for job in ran]
    assert notes(graph_api) == [HELP_TEXT]


def test_an_owner_without_a_number_of_their_own_is_answered_like_a_company(graph_api, owner, command):
    command("ok 1")

    assert Conversation.objects.filter(contact__address=OWN_WA_ID).exists()
    assert OwnerCommand.objects.count() == 0


def test_a_number_given_or_removed_counts_from_the_next_message_even_with_a_conversation_for_it(
    graph_api, owner, command
):
    """Ingest reads the owner's number with the sender's conversation: an edit is never missed."""
    command("ok 1")
    conversation = Conversation.objects.get(contact__address=OWN_WA_ID)

    OwnerSettings.objects.filter(owner=owner).update(notify_whatsapp=OWN_NUMBER)
    command("status")
    OwnerSettings.objects.filter(owner=owner).update(notify_whatsapp="")
    command("ok 2")

    assert list(OwnerCommand.objects.values_list("text", flat=True)) == ["status"]
    assert list(
        conversation.messages.filter(direction=Direction.IN).order_by("pk").values_list("text", flat=True)
    ) == ["ok 1", "ok 2"]


def test_outside_the_owners_window_a_note_goes_as_the_owners_template(graph_api, held_draft, command):
    OwnerSettings.objects.filter(notify_whatsapp=OWN_NUMBER).update(
        notify_template="gatekeeper_note", notify_template_language="en_GB"
    )
    command("status", timestamp=int(time.time()) - 25 * 3600)  # the owner last wrote a day ago
    draft = held_draft()

    templates = [r.json for r in graph_api.requests if r.accepted and r.json.get("type") == "template"]
    note = templates[-1]
    assert note["to"] == "+" + OWN_WA_ID
    assert note["template"]["name"] == "gatekeeper_note"
    assert note["template"]["language"]["code"] == "en_GB"
    (parameter,) = note["template"]["components"][0]["parameters"]
    assert f"#{draft.pk}" in parameter["text"] and "\n" not in parameter["text"]
    assert notes(graph_api) == [], "no free-form text once the owner's window closed"
    assert OwnerNotice.objects.get(draft=draft).via_template


def test_outside_the_window_without_a_template_a_note_waits_until_the_owner_writes(
    graph_api, held_draft, command, caplog
):
    command("status", timestamp=int(time.time()) - 25 * 3600)
    with caplog.at_level("WARNING", logger="conversations.owner_phone"):
        draft = held_draft()

    assert notes(graph_api) == []
    held = OwnerNotice.objects.get(draft=draft)
    assert held.status == OwnerNoticeStatus.HELD
    assert "sent when they next write" in caplog.text

    command("status")

    sent = notes(graph_api)
    assert sent[0].startswith("1 draft(s) wait for you:"), "the answer comes first"
    assert any(f"#{draft.pk}" in text and DRAFT_TEXT in text for text in sent[1:])
    held.refresh_from_db()
    assert held.status == OwnerNoticeStatus.SENT


def test_a_held_draft_that_escalates_is_told_once_with_its_number(graph_api, held_draft, script, command):
    script({"reply": DRAFT_TEXT, "category": "cellphone_provider", "confidence": 0.3, "reason": "unsure"})
    draft = held_draft()

    (note,) = notes(graph_api)
    assert note.startswith("Gatekeeper needs you: Acme Mobile (the assistant is unsure)")
    assert f"draft #{draft.pk}" in note and DRAFT_TEXT in note

    command("yes")  # the escalation's note is the latest notification
    assert to_companies(graph_api) == [DRAFT_TEXT]


def test_a_command_whose_job_vanished_is_found_by_the_sweeper(
    graph_api, held_draft, deliver, run_jobs, settings
):
    from conversations import jobs
    from conversations.sweeper import sweep_stalled_work

    draft = held_draft()
    payload = text_message_payload(phone_number_id=PHONE_NUMBER_ID, sender=OWN_WA_ID, text=f"ok {draft.pk}")
    deliver(payload=payload)
    jobs.recorded.clear()  # Redis lost the job
    OwnerCommand.objects.update(received_at=OwnerCommand.objects.get().received_at - timedelta(hours=1))

    sweep_stalled_work()
    run_jobs()
    sweep_stalled_work()
    run_jobs()

    assert to_companies(graph_api) == [DRAFT_TEXT]
    assert notes(graph_api)[-1] == f"Sending draft {draft.pk} to Acme Mobile."


def test_a_held_note_about_a_draft_decided_meanwhile_is_not_sent_later(graph_api, held_draft, command, owner):
    from conversations.services import draft_reject

    command("status", timestamp=int(time.time()) - 25 * 3600)
    draft = held_draft()
    draft_reject(draft_id=draft.pk, by=owner)  # in the dashboard, while the note waited

    command("status")

    assert notes(graph_api) == ["Nothing waits for you."]
    assert OwnerNotice.objects.get(draft=draft).status == OwnerNoticeStatus.FAILED


def test_a_company_that_writes_a_command_is_only_a_company(graph_api, held_draft, deliver, run_jobs):
    draft = held_draft()

    deliver(f"ok {draft.pk}", name="Me")  # from the company's number, whatever name it shows
    run_jobs()

    draft.refresh_from_db()
    assert draft.status == DraftStatus.PENDING
    assert to_companies(graph_api) == []
    assert OwnerCommand.objects.count() == 0


def test_the_owners_number_writing_to_another_owners_account_is_that_owners_contact(
    graph_api, held_draft, deliver, run_jobs
):
    draft = held_draft()
    bob = User.objects.create_user(username="bob", password="bob-password")
    ChannelAccount.objects.create(owner=bob, provider=Provider.WHATSAPP, address="200000000000001")

    payload = text_message_payload(
        phone_number_id="200000000000001", sender=OWN_WA_ID, name="Alice", text=f"ok {draft.pk}"
    )
    deliver(payload=payload)
    run_jobs()

    draft.refresh_from_db()
    assert draft.status == DraftStatus.PENDING, "a command acts only through the owner's own accounts"
    assert OwnerCommand.objects.count() == 0
    assert Conversation.objects.filter(owner=bob, contact__address=OWN_WA_ID).exists()


def test_a_picture_from_the_owner_gets_the_list_of_commands(graph_api, phone_owner, deliver, run_jobs):
    payload = text_message_payload(phone_number_id=PHONE_NUMBER_ID, sender=OWN_WA_ID, text="")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message.pop("text")
    message.update(type="image", image={"id": "1234567890", "mime_type": "image/jpeg", "sha256": "x"})
    deliver(payload=payload)
    run_jobs()

    assert notes(graph_api) == [HELP_TEXT]
    assert Conversation.objects.count() == 0


@pytest.mark.parametrize(
    ("own", "sender", "same"),
    [
        ("+44 7700 900123", "447700900123", True),
        ("+44 (7700) 900-123", "whatsapp:+447700900123", True),
        ("+44 7700 900123", "447700900124", False),
        ("", "447700900123", False),
        ("123", "123", False),  # too short to be anyone's number
    ],
)
def test_the_owners_number_is_compared_digit_by_digit(own, sender, same):
    from conversations.owner_phone import is_owner_number

    assert is_owner_number(own, sender) is same


def test_a_note_as_a_template_variable_is_one_line_and_short():
    from conversations.owner_phone import TEMPLATE_VARIABLE_LIMIT, template_variable

    value = template_variable("Draft #12 for Acme\n\n“text”\tmore\nWhy: x" + "y" * 2000)
    assert "\n" not in value and len(value) <= TEMPLATE_VARIABLE_LIMIT
    assert value.startswith("Draft #12 for Acme | “text”")


def test_splitting_off_commands_costs_one_query_per_delivery_however_many_arrive(phone_owner):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from conversations.inbound import InboundBatch, InboundMessage
    from conversations.ingest import ingest_batch

    def statements(*senders: str) -> int:
        messages = tuple(
            InboundMessage(
                provider=Provider.WHATSAPP,
                account_address=PHONE_NUMBER_ID,
                provider_message_id=f"wamid.{sender}.{n}.{time.monotonic_ns()}",
                sender_address=sender,
                sender_phone=sender,
                text="status",
            )
            for n, sender in enumerate(senders)
        )
        with CaptureQueriesContext(connection) as queries:
            ingest_batch(InboundBatch(messages=messages))
        return len(queries.captured_queries)

    statements(PROVIDER_NUMBER)  # the company's conversation exists from now on
    company = statements(PROVIDER_NUMBER)
    one_command = statements(OWN_WA_ID)
    many_commands = statements(*[OWN_WA_ID] * 50)
    mixed = statements(PROVIDER_NUMBER, *[OWN_WA_ID] * 50)

    assert one_command == many_commands, "commands are inserted in one statement"
    assert mixed == company + 1, "besides the company's message, one INSERT of the commands"
    assert OwnerCommand.objects.count() == 101

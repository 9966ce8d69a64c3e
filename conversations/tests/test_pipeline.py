"""The flow's invariants (docs/architecture.md, "The flow and its invariants"), end to end through the webhook."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from ai.testing import OpenAIStandIn
from conftest import PHONE_NUMBER_ID, PROVIDER_NUMBER, use_model
from conversations import jobs, tasks
from conversations.models import (
    Conversation,
    ConversationStatus,
    Direction,
    Draft,
    DraftStatus,
    Escalation,
    Fact,
    Message,
    MessageStatus,
    Rule,
    RuleAction,
)
from conversations.services import conversation_take_over, draft_approve
from conversations.sweeper import sweep_stalled_work

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_draft_job(django_capture_on_commit_callbacks):
    """Run one conversation's draft job now, as a worker would, whatever its due time."""

    def run(conversation_id: int) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            tasks.draft_reply(conversation_id)

    return run


def delegate(owner, category="cellphone_provider"):
    """The rule says `auto`, and names the company's number: the owner's own data says who it is."""
    Rule.objects.filter(owner=owner, category=category).update(
        action=RuleAction.AUTO, match_senders=[f"+{PROVIDER_NUMBER}"]
    )


DRAFT_JOB = "conversations.tasks.draft_reply"


def sent_texts(graph):
    return [sent.text for sent in graph.sent_texts()]


def test_default_rules_hold_the_reply_as_a_pending_draft(owner, graph_api, deliver, run_jobs):
    response = deliver("Your bill is ready")

    assert response.status_code == 200
    assert Draft.objects.count() == 0, "no AI call inside the request"
    assert graph_api.requests == [], "no outbound call inside the request"
    run_jobs()
    draft = Draft.objects.get()
    assert draft.status == DraftStatus.PENDING
    assert draft.category == "cellphone_provider"
    assert "the rule for this category says draft" in draft.decision
    assert sent_texts(graph_api) == []


def test_a_delegated_category_is_answered_as_a_contextual_reply(owner, graph_api, deliver, run_jobs):
    delegate(owner)
    deliver("Your bill is ready", message_id="wamid.BILL1")
    run_jobs()

    (send,) = graph_api.sent_texts()
    assert send.phone_number_id == PHONE_NUMBER_ID
    assert send.to == f"+{PROVIDER_NUMBER}"
    assert send.reply_to == "wamid.BILL1"
    reply = Message.objects.get(direction=Direction.OUT)
    assert reply.status == MessageStatus.SENT and reply.provider_message_id == send.message_id
    assert Draft.objects.get().status == DraftStatus.SENT


def test_the_inbound_message_is_marked_read(owner, graph_api, deliver, run_jobs):
    deliver("Your bill is ready", message_id="wamid.README")
    run_jobs()

    assert graph_api.read_receipts() == ["wamid.README"]


def test_a_redelivered_message_changes_nothing_and_schedules_nothing(owner, graph_api, deliver, run_jobs):
    delegate(owner)
    assert deliver("Your bill is ready", message_id="wamid.SAME").status_code == 200
    run_jobs()
    assert deliver("Your bill is ready", message_id="wamid.SAME").status_code == 200

    assert jobs.recorded == []
    assert Message.objects.filter(direction=Direction.IN).count() == 1
    assert len(graph_api.sent_texts()) == 1


def test_a_burst_of_messages_gets_one_reply(owner, graph_api, deliver, run_jobs):
    delegate(owner)
    for text in ["Hello", "About your mobile plan", "Your bill is ready"]:
        deliver(text)
    run_jobs()

    assert len(graph_api.sent_texts()) == 1
    draft = Draft.objects.get()
    assert draft.answers_through == Message.objects.filter(direction=Direction.IN).latest("id").pk


def test_messages_within_the_burst_window_are_answered_together_once_it_ends(
    owner, graph_api, deliver, run_jobs, run_draft_job, settings
):
    """The window (REPLY_BURST_SECONDS, 0 elsewhere in the suite) is read from the due times, no clock waited on."""
    settings.REPLY_BURST_SECONDS = 30.0
    delegate(owner)
    before = timezone.now()
    deliver("Hello")
    conversation = Conversation.objects.get()
    first_due = conversation.reply_due_at
    assert before + timedelta(seconds=30) <= first_due <= timezone.now() + timedelta(seconds=30)
    assert [(job.path, job.delay) for job in jobs.recorded] == [(DRAFT_JOB, 30.0)]

    deliver("About your mobile plan")
    conversation.refresh_from_db()
    assert conversation.reply_due_at > first_due, "a new message restarts the window"

    jobs.recorded.clear()
    run_draft_job(conversation.pk)  # the first message's job, run early: the window is still open
    assert sent_texts(graph_api) == [] and not Draft.objects.exists()
    (again,) = jobs.recorded
    assert again.path == DRAFT_JOB and 0 < again.delay <= 30.0, "it comes back when the window ends"

    Conversation.objects.filter(pk=conversation.pk).update(reply_due_at=timezone.now())  # the window ends
    jobs.recorded.clear()
    run_draft_job(conversation.pk)
    run_jobs()
    assert len(sent_texts(graph_api)) == 1
    assert (
        Draft.objects.get().answers_through == Message.objects.filter(direction=Direction.IN).latest("id").pk
    )


def test_a_retried_job_never_sends_twice(owner, graph_api, deliver, run_jobs):
    delegate(owner)
    deliver("Your bill is ready")
    conversation = Conversation.objects.get()
    run_jobs()
    jobs.enqueue_now("conversations.tasks.draft_reply", conversation.pk)
    jobs.enqueue_now("conversations.tasks.send_pending", conversation.pk)
    run_jobs()

    assert len(graph_api.sent_texts()) == 1
    assert Draft.objects.count() == 1


def test_replies_in_a_conversation_go_out_in_order(
    owner, graph_api, deliver, run_jobs, script, django_capture_on_commit_callbacks
):
    script(
        {"match": "first", "reply": "Reply one", "category": "utilities", "confidence": 0.9, "reason": "r"},
        {"match": "second", "reply": "Reply two", "category": "utilities", "confidence": 0.9, "reason": "r"},
    )
    deliver("first question", name="City Power")
    run_jobs()
    deliver("second question", name="City Power")
    run_jobs()
    first, second = Draft.objects.order_by("id")
    newest = Message.objects.latest("id").pk
    with django_capture_on_commit_callbacks(execute=True):
        # The first draft is stale (the second question came after it): confirm having read it.
        # (Approving the second first would withdraw it: test_superseded_drafts.)
        draft_approve(draft_id=first.pk, by=owner, text="Reply one, edited", seen_through=newest)
        draft_approve(draft_id=second.pk, by=owner)
    run_jobs()

    assert sent_texts(graph_api) == ["Reply one, edited", "Reply two"]


def test_a_message_in_flight_holds_back_the_next_one(owner, graph_api, deliver, run_jobs):
    delegate(owner)
    deliver("Your bill is ready")
    run_jobs()
    conversation = Conversation.objects.get()
    # Sent a minute ago: the company answers at a person's pace, not a bot's.
    Message.objects.filter(direction=Direction.OUT).update(
        status=MessageStatus.SENDING, sent_at=timezone.now() - timedelta(minutes=1)
    )
    deliver("Your bill is ready again")
    run_jobs()

    assert len(graph_api.sent_texts()) == 1, "the second reply waits while the first is in flight"
    assert conversation.messages.filter(direction=Direction.OUT, status=MessageStatus.QUEUED).count() == 1


def test_the_bot_stays_silent_where_the_owner_took_over(owner, graph_api, deliver, run_jobs):
    delegate(owner)
    deliver("Your bill is ready")
    run_jobs()
    conversation_take_over(conversation_id=Conversation.objects.get().pk, by=owner)
    deliver("Hello? Anyone?")
    run_jobs()

    assert len(graph_api.sent_texts()) == 1
    assert Draft.objects.count() == 1
    assert (
        Conversation.objects.get().handled_through
        == Message.objects.filter(direction=Direction.IN).latest("id").pk
    )


def test_a_failing_engine_is_retried_with_backoff_then_the_owner_is_told(
    owner, graph_api, deliver, run_jobs, script
):
    script({"error": "model server unreachable"})
    deliver("Your bill is ready")
    conversation = Conversation.objects.get()
    before = timezone.now()
    run_jobs()  # the first attempt fails and schedules the next one, later
    conversation.refresh_from_db()
    assert conversation.draft_attempts == 1
    assert conversation.reply_due_at > before
    assert [job.delay for job in jobs.recorded] == [5]
    assert not Escalation.objects.exists()

    for _ in range(2):
        Conversation.objects.update(reply_due_at=timezone.now())
        run_jobs(delayed=True, limit=1)
    assert Escalation.objects.get().reason == "engine_failing"
    run_jobs()  # the notification
    assert "needs you" in mail.outbox[0].subject
    assert f"/admin/conversations/conversation/{conversation.pk}/change/" in mail.outbox[0].body

    script({"reply": "Noted, thanks.", "category": "cellphone_provider", "confidence": 0.95, "reason": "ok"})
    Conversation.objects.update(reply_due_at=timezone.now())
    run_jobs(delayed=True)
    assert Draft.objects.get().text == "Noted, thanks."
    assert Message.objects.filter(direction=Direction.IN).count() == 1, "nothing lost"


def test_an_engine_timing_out_tells_the_owner_at_its_first_failure_once_the_contact_waited_half_a_minute(
    owner, graph_api, deliver, run_jobs, script
):
    script({"error": "read timeout"})
    deliver("Your bill is ready")
    Message.objects.update(created_at=timezone.now() - timedelta(seconds=31))  # a slow model timed out

    run_jobs()

    assert Conversation.objects.get().draft_attempts == 1
    assert Escalation.objects.get().reason == "engine_failing"


def test_a_closed_window_fails_the_message_and_escalates(owner, graph_api, deliver, run_jobs):
    delegate(owner)
    graph_api.fail_next(
        131047, only="send", details="Message failed to send because more than 24 hours have passed."
    )
    deliver("Your bill is ready")
    run_jobs()

    reply = Message.objects.get(direction=Direction.OUT)
    assert reply.status == MessageStatus.FAILED and reply.error_code == "131047"
    assert Escalation.objects.get().reason == "window_closed"
    assert Conversation.objects.get().status == ConversationStatus.NEEDS_ATTENTION


def test_a_rate_limit_is_retried_later_and_sent_once(owner, graph_api, deliver, run_jobs):
    delegate(owner)
    graph_api.fail_next(130429, only="send")
    deliver("Your bill is ready")
    run_jobs()
    reply = Message.objects.get(direction=Direction.OUT)
    assert reply.status == MessageStatus.QUEUED and reply.next_attempt_at > timezone.now()
    assert graph_api.sent_texts() == []  # the refused attempt is not a send

    Message.objects.filter(pk=reply.pk).update(next_attempt_at=timezone.now())
    run_jobs(delayed=True)
    reply.refresh_from_db()
    assert reply.status == MessageStatus.SENT and reply.attempts == 2
    assert len(graph_api.sent_texts()) == 1


def test_a_permanent_graph_error_fails_and_escalates(owner, graph_api, deliver, run_jobs):
    delegate(owner)
    graph_api.fail_next(131026, only="send")
    deliver("Your bill is ready")
    run_jobs()

    assert Message.objects.get(direction=Direction.OUT).status == MessageStatus.FAILED
    assert Escalation.objects.get().reason == "send_failed"


def test_a_delegated_reply_goes_out_from_the_draft_job_without_a_second_trip_through_the_queue(
    owner, graph_api, deliver, run_jobs
):
    delegate(owner)
    deliver("Your bill is ready")

    ran = run_jobs()

    assert [job.path for job in ran] == ["conversations.tasks.draft_reply"]
    assert len(graph_api.sent_texts()) == 1
    assert Message.objects.get(direction=Direction.OUT).status == MessageStatus.SENT


def test_the_sweeper_reschedules_work_whose_job_vanished(owner, graph_api, deliver, run_jobs):
    delegate(owner)
    deliver("Your bill is ready")
    jobs.recorded.clear()  # Redis lost the job
    Conversation.objects.update(reply_due_at=timezone.now() - timedelta(minutes=5))

    assert sweep_stalled_work().replies == 1
    run_jobs()
    assert len(graph_api.sent_texts()) == 1


def test_an_interrupted_send_is_reported_not_repeated(owner, graph_api, deliver, run_jobs):
    delegate(owner)
    graph_api.fail_next(130429, only="send")
    deliver("Your bill is ready")
    run_jobs()  # drafted; the first attempt is refused and a retry scheduled
    # The retry's worker is killed mid-call: the message stays `sending`, its job is gone.
    jobs.recorded.clear()
    Message.objects.filter(direction=Direction.OUT).update(status=MessageStatus.SENDING)
    Message.objects.filter(direction=Direction.OUT).update(updated_at=timezone.now() - timedelta(hours=1))

    assert sweep_stalled_work().interrupted_sends == 1
    run_jobs()
    assert graph_api.sent_texts() == []
    assert Message.objects.get(direction=Direction.OUT).status == MessageStatus.FAILED
    assert (
        Escalation.objects.get().reason == "send_outcome_unknown"
        or Escalation.objects.get().reason == "send_failed"
    )


def test_media_is_stored_with_metadata_and_escalated_without_a_draft(
    owner, graph_api, deliver, run_jobs, load_fixture
):
    payload = load_fixture("image.json")
    payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = PHONE_NUMBER_ID
    assert deliver(payload=payload).status_code == 200
    run_jobs()

    message = Message.objects.get()
    assert message.kind == "image" and message.metadata
    assert Escalation.objects.get().reason == "unreadable_message"
    assert not Draft.objects.exists()
    assert len(mail.outbox) == 1


def test_a_reaction_is_stored_and_never_answered(owner, graph_api, deliver, run_jobs, load_fixture):
    delegate(owner)
    payload = load_fixture("reaction.json")
    payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = PHONE_NUMBER_ID
    assert deliver(payload=payload).status_code == 200
    run_jobs()

    assert Message.objects.get().kind == "reaction"
    assert not Draft.objects.exists() and not Escalation.objects.exists()
    assert graph_api.requests == []


def test_an_unknown_phone_number_id_is_acknowledged_and_ignored(owner, deliver):
    response = deliver("hello", phone_number_id="999999999")

    assert response.status_code == 200
    assert not Message.objects.exists()


def test_a_long_reply_is_split_for_whatsapp(owner, graph_api, deliver, run_jobs, script):
    delegate(owner)
    paragraph = "This is a sentence about your bill. " * 60
    script(
        {
            "reply": "\n\n".join([paragraph] * 3),
            "category": "cellphone_provider",
            "confidence": 0.9,
            "reason": "r",
        }
    )
    deliver("Your bill is ready")
    run_jobs()

    texts = sent_texts(graph_api)
    assert len(texts) > 1
    assert all(len(text) <= 4096 for text in texts)
    assert " ".join(" ".join(texts).split()) == " ".join(Draft.objects.get().text.split()), "nothing lost"
    assert Draft.objects.get().status == DraftStatus.SENT


def test_a_reply_containing_a_private_fact_is_held(owner, graph_api, deliver, run_jobs, script):
    delegate(owner)
    Fact.objects.create(owner=owner, key="home address", value="12 Elm Street", private=True)
    script(
        {
            "reply": "Sure, I live at 12 Elm Street.",
            "category": "cellphone_provider",
            "confidence": 0.95,
            "reason": "r",
        }
    )
    deliver("Where do you live?")
    run_jobs()

    draft = Draft.objects.get()
    assert draft.status == DraftStatus.PENDING
    assert draft.guards[0]["guard"] == "private_fact" and draft.guards[0]["words"] == ["12 Elm Street"]
    assert graph_api.sent_texts() == []


def test_a_commitment_needs_approval_even_when_delegated(owner, graph_api, deliver, run_jobs, script):
    delegate(owner)
    script(
        {
            "reply": "Yes, I will upgrade to the premium plan.",
            "category": "cellphone_provider",
            "confidence": 0.99,
            "reason": "r",
        }
    )
    deliver("Want to upgrade?")
    run_jobs()

    assert Draft.objects.get().status == DraftStatus.PENDING
    assert graph_api.sent_texts() == []


def test_a_request_for_a_verification_code_is_escalated(owner, graph_api, deliver, run_jobs):
    delegate(owner)
    deliver("Please send us the verification code we just texted you")
    run_jobs()

    assert Escalation.objects.get().reason == "guard"
    assert graph_api.sent_texts() == []


def test_low_confidence_is_held_and_escalated(owner, graph_api, deliver, run_jobs, script):
    delegate(owner)
    script({"reply": "Maybe?", "category": "cellphone_provider", "confidence": 0.3, "reason": "unsure"})
    deliver("Your bill is ready")
    run_jobs()

    assert Draft.objects.get().status == DraftStatus.PENDING
    assert Escalation.objects.get().reason == "low_confidence"


@pytest.mark.parametrize(
    ("action", "drafts", "escalations"),
    [(RuleAction.IGNORE, 0, 0), (RuleAction.ESCALATE, 0, 1)],
)
def test_ignore_and_escalate_rules_never_reply(
    owner, graph_api, deliver, run_jobs, action, drafts, escalations
):
    Rule.objects.filter(owner=owner, category="cellphone_provider").update(
        action=action, match_senders=["Acme Mobile"]
    )
    deliver("Your bill is ready")
    run_jobs()

    assert Draft.objects.count() == drafts
    assert Escalation.objects.count() == escalations
    assert graph_api.sent_texts() == []


def test_statuses_never_move_backwards_and_failures_keep_their_code(
    owner, graph_api, deliver, run_jobs, client
):
    delegate(owner)
    deliver("Your bill is ready")
    run_jobs()
    reply = Message.objects.get(direction=Direction.OUT)

    def status(value, **extra):
        item = {
            "id": reply.provider_message_id,
            "status": value,
            "timestamp": "1750030073",
            "recipient_id": PROVIDER_NUMBER,
            **extra,
        }
        payload = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"display_phone_number": "1", "phone_number_id": PHONE_NUMBER_ID},
                                "statuses": [item],
                            },
                        }
                    ],
                }
            ],
        }
        assert deliver(payload=payload).status_code == 200
        reply.refresh_from_db()
        return reply.status

    assert status("read") == "read"
    assert status("delivered") == "read"
    assert status("sent") == "read"
    assert status("failed", errors=[{"code": 131049, "title": "x"}]) == "read"


def test_a_failed_status_keeps_the_error_and_escalates(owner, graph_api, deliver, run_jobs, load_fixture):
    delegate(owner)
    deliver("Your bill is ready")
    run_jobs()
    reply = Message.objects.get(direction=Direction.OUT)
    payload = load_fixture("status_failed_131047.json")
    value = payload["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = PHONE_NUMBER_ID
    value["statuses"][0]["id"] = reply.provider_message_id
    assert deliver(payload=payload).status_code == 200

    reply.refresh_from_db()
    assert reply.status == MessageStatus.FAILED and reply.error_code == "131047"
    assert Escalation.objects.get().reason == "window_closed"


@pytest.mark.parametrize("answer", ["Sure, I'll handle it.", '{"reply": "Ok", "confidence": "high"', ""])
def test_a_model_answering_garbage_yields_a_held_draft_never_a_send(
    owner, graph_api, deliver, run_jobs, settings, answer
):
    delegate(owner)
    with OpenAIStandIn() as model:
        model.respond(answer)
        use_model(settings, model)
        deliver("Your bill is ready")
        run_jobs()

    draft = Draft.objects.get()
    assert draft.status == DraftStatus.PENDING and draft.confidence <= 0.2
    assert graph_api.sent_texts() == []
    assert Escalation.objects.get().reason == "low_confidence"


def test_a_model_that_is_down_keeps_the_message_pending(owner, graph_api, deliver, run_jobs, settings):
    with OpenAIStandIn() as model:
        model.fail(500, "overloaded")
        use_model(settings, model)
        deliver("Your bill is ready")
        run_jobs()

    conversation = Conversation.objects.get()
    assert conversation.draft_attempts == 1 and conversation.reply_due_at is not None
    assert not Draft.objects.exists()

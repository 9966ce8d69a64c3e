"""WhatsApp's 24-hour window: tracked from the contact's last message, never crossed free-form, reopened
with the owner's approved re-engagement template (here through Meta; Twilio's are in channels_app)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from conftest import PHONE_NUMBER_ID, PROVIDER_NUMBER
from conversations import jobs, services, window
from conversations.models import (
    ChannelAccount,
    Contact,
    Conversation,
    Direction,
    Draft,
    DraftKind,
    DraftStatus,
    Escalation,
    Message,
    MessageStatus,
    Provider,
    Rule,
    RuleAction,
    User,
)
from conversations.trust import guards

pytestmark = pytest.mark.django_db

TEMPLATE = "hello_world"


@pytest.fixture
def account(owner):
    """The owner's Meta number, with an approved re-engagement template."""
    account = ChannelAccount.objects.get(owner=owner, provider=Provider.WHATSAPP)
    account.reengagement_template = TEMPLATE
    account.reengagement_language = "en_GB"
    account.save()
    return account


@pytest.fixture
def approve(owner, django_capture_on_commit_callbacks):
    """The owner approves a draft through the same service as the dashboard."""

    def decide(draft: Draft) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            services.draft_approve(draft_id=draft.pk, by=owner)

    return decide


def delegate(owner) -> None:
    Rule.objects.filter(owner=owner, category="cellphone_provider").update(
        action=RuleAction.AUTO, match_senders=[f"+{PROVIDER_NUMBER}"]
    )


def close_window(hours: float = 25) -> None:
    Conversation.objects.update(last_inbound_at=timezone.now() - timedelta(hours=hours))


def template_sends(graph) -> list[dict]:
    return [r.json for r in graph.requests if r.accepted and r.json.get("type") == "template"]


def conversation_on(owner: User, provider: str, *, last_inbound_at=None) -> Conversation:
    """A conversation on a new channel account of that provider."""
    account = ChannelAccount.objects.create(owner=owner, provider=provider, address=f"{provider}-1")
    contact = Contact.objects.create(owner=owner, address=f"contact-{provider}")
    return Conversation.objects.create(
        owner=owner, account=account, contact=contact, last_inbound_at=last_inbound_at
    )


# -- the window itself ---------------------------------------------------------------------------


def test_the_window_is_open_for_24_hours_after_the_contacts_last_message(owner):
    now = timezone.now()
    conversation = conversation_on(
        owner, Provider.TWILIO, last_inbound_at=now - timedelta(hours=23, minutes=59)
    )
    assert window.is_open(conversation, now=now)
    assert window.closes_at(conversation) == conversation.last_inbound_at + timedelta(hours=24)
    assert not window.is_open(conversation, now=now + timedelta(minutes=1))
    assert not window.is_open(conversation, now=conversation.last_inbound_at + timedelta(hours=24))


def test_a_whatsapp_contact_who_never_wrote_has_no_open_window(owner):
    conversation = conversation_on(owner, Provider.WHATSAPP, last_inbound_at=None)
    assert not window.is_open(conversation)
    assert "never written" in window.closed_detail(conversation)


def test_web_chat_has_no_window(owner):
    conversation = conversation_on(
        owner, Provider.WEBCHAT, last_inbound_at=timezone.now() - timedelta(days=30)
    )
    assert window.is_open(conversation)
    assert window.closed_findings(conversation) == []
    state = window.window_state(conversation)
    assert (state.applies, state.open, state.closes_at) == (False, True, None)


def test_the_window_state_names_the_configured_template(owner, account):
    conversation = Conversation.objects.create(
        owner=owner,
        account=account,
        contact=Contact.objects.create(owner=owner, address=PROVIDER_NUMBER),
        last_inbound_at=timezone.now() - timedelta(hours=30),
    )
    state = window.window_state(conversation)
    assert (state.applies, state.open, state.template, state.language) == (True, False, TEMPLATE, "en_GB")
    assert state.template_configured


# -- the window's decisions, one at a time --------------------------------------------------------


def outbound(conversation: Conversation, kind: str = "text") -> Message:
    return Message.objects.create(
        conversation=conversation,
        account=conversation.account,
        direction=Direction.OUT,
        author="assistant",
        kind=kind,
        text="Thanks",
        status=MessageStatus.QUEUED,
    )


def windowed(owner, account, *, hours: float) -> Conversation:
    """A WhatsApp conversation whose contact last wrote `hours` ago."""
    return Conversation.objects.create(
        owner=owner,
        account=account,
        contact=Contact.objects.create(owner=owner, address=PROVIDER_NUMBER),
        last_inbound_at=timezone.now() - timedelta(hours=hours),
    )


def window_finding() -> guards.Finding:
    return guards.Finding(guard=window.GUARD, effect=guards.ESCALATE, words=(), detail="closed")


def test_the_send_job_attempts_free_form_only_while_the_window_is_open(owner, account):
    open_now = windowed(owner, account, hours=1)
    assert not window.refuses(outbound(open_now))
    Conversation.objects.filter(pk=open_now.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))
    assert window.refuses(outbound(Conversation.objects.get(pk=open_now.pk)))


def test_a_template_is_attempted_after_the_window_closed(owner, account):
    assert not window.refuses(outbound(windowed(owner, account, hours=30), kind="template"))


def test_a_refused_reply_offers_the_template_and_a_refused_template_offers_none(owner, account):
    conversation = windowed(owner, account, hours=30)
    offer = window.report_refused(outbound(conversation, kind="template"), detail="the template failed")
    assert offer is None and not Draft.objects.exists()
    assert Escalation.objects.get().reason == "window_closed"

    offer = window.report_refused(outbound(conversation), detail="the reply failed")
    assert offer.kind == DraftKind.TEMPLATE and offer.status == DraftStatus.PENDING


def test_a_recorded_turn_withdraws_template_offers_only_while_the_window_is_open(owner, account):
    conversation = windowed(owner, account, hours=30)
    offer = window.offer_reengagement(conversation)
    assert window.settle_offers(conversation) == 0
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now())
    assert window.settle_offers(Conversation.objects.get(pk=conversation.pk)) == 1
    offer.refresh_from_db()
    assert offer.status == DraftStatus.WITHDRAWN


def test_a_reply_held_by_the_closed_window_is_reported_with_the_template(owner, account):
    conversation = windowed(owner, account, hours=30)
    assert window.report_held_reply(conversation, [window_finding()], replied=False, detail="") is None
    assert window.report_held_reply(conversation, [], replied=True, detail="") is None
    assert not Escalation.objects.exists()

    offer = window.report_held_reply(conversation, [window_finding()], replied=True, detail="held")
    assert offer.kind == DraftKind.TEMPLATE
    assert Escalation.objects.get().reason == "window_closed"


def test_the_windows_finding_is_told_apart_from_the_others():
    other = guards.Finding(guard="money", effect=guards.HOLD, words=(), detail="money")
    assert window.closed_in([other, window_finding()]) and not window.closed_in([other])
    assert window.other_findings([window_finding(), other]) == [other]


# -- Meta, end to end ------------------------------------------------------------------------------


def test_window_open_a_delegated_reply_goes_out_free_form(owner, account, graph_api, deliver, run_jobs):
    delegate(owner)
    deliver("Your bill is ready")
    run_jobs()

    assert len(graph_api.sent_texts()) == 1
    assert template_sends(graph_api) == []
    assert not Draft.objects.filter(kind=DraftKind.TEMPLATE).exists()


def test_window_closed_no_free_form_attempt_owner_told_template_sent_after_approval(
    owner, account, graph_api, deliver, run_jobs, approve
):
    deliver("Your bill is ready")
    run_jobs()
    held = Draft.objects.get()
    close_window()
    approve(held)
    run_jobs()

    assert [r for r in graph_api.requests if not r.is_read_receipt] == [], "no free-form attempt"
    failed = Message.objects.get(direction=Direction.OUT)
    assert (failed.status, failed.error_code) == (MessageStatus.FAILED, window.CLOSED_CODE)
    offer = Draft.objects.get(kind=DraftKind.TEMPLATE)
    assert offer.status == DraftStatus.PENDING
    assert offer.text == "Re-engagement template “hello_world” (en_GB)"
    assert "24-hour window closed" in offer.reason
    assert "always waits for your approval" in offer.decision
    assert Escalation.objects.get().reason == "window_closed"

    approve(offer)
    run_jobs()

    (sent,) = template_sends(graph_api)
    assert sent == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": f"+{PROVIDER_NUMBER}",
        "type": "template",
        "template": {"name": TEMPLATE, "language": {"code": "en_GB"}},
    }
    message = Message.objects.get(kind="template")
    assert message.status == MessageStatus.SENT and message.provider_message_id.startswith("wamid.")
    assert message.text == offer.text
    offer.refresh_from_db()
    assert offer.status == DraftStatus.SENT


def test_a_rejected_template_sends_nothing(owner, account, graph_api, deliver, run_jobs, approve):
    deliver("Your bill is ready")
    run_jobs()
    close_window()
    approve(Draft.objects.get())
    run_jobs()

    services.draft_reject(draft_id=Draft.objects.get(kind=DraftKind.TEMPLATE).pk, by=owner)
    run_jobs()
    assert template_sends(graph_api) == []


def test_a_late_draft_job_holds_a_delegated_reply_and_escalates_with_the_reason(
    owner, account, graph_api, deliver, run_jobs
):
    delegate(owner)
    deliver("Your bill is ready")
    close_window()
    run_jobs()

    draft = Draft.objects.get(kind=DraftKind.TEXT)
    assert draft.status == DraftStatus.PENDING
    assert draft.guards[0]["guard"] == "window_closed" and draft.guards[0]["effect"] == "escalate"
    assert "guard window_closed: WhatsApp's 24-hour window closed" in draft.decision
    assert graph_api.sent_texts() == []
    escalation = Escalation.objects.get()
    assert escalation.reason == "window_closed"
    offer = Draft.objects.get(kind=DraftKind.TEMPLATE)
    assert f"draft #{offer.pk}" in escalation.detail


def test_131047_from_the_graph_api_fails_the_reply_and_offers_the_template(
    owner, account, graph_api, deliver, run_jobs
):
    delegate(owner)
    graph_api.fail_next(131047)
    deliver("Your bill is ready")
    run_jobs()

    reply = Message.objects.get(direction=Direction.OUT)
    assert (reply.status, reply.error_code) == (MessageStatus.FAILED, "131047")
    assert Escalation.objects.get().reason == "window_closed"
    assert Draft.objects.get(kind=DraftKind.TEMPLATE).status == DraftStatus.PENDING


def test_131047_in_a_status_webhook_fails_the_reply_and_offers_the_template(
    owner, account, graph_api, deliver, run_jobs, load_fixture
):
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
    assert (reply.status, reply.error_code) == (MessageStatus.FAILED, "131047")
    assert Escalation.objects.get().reason == "window_closed"
    assert Draft.objects.get(kind=DraftKind.TEMPLATE).status == DraftStatus.PENDING


def test_without_a_configured_template_the_owner_is_told_how_to_set_one(owner, graph_api, deliver, run_jobs):
    delegate(owner)
    graph_api.fail_next(131047)
    deliver("Your bill is ready")
    run_jobs()

    assert not Draft.objects.filter(kind=DraftKind.TEMPLATE).exists()
    assert "Set a re-engagement template" in Escalation.objects.get().detail


def test_an_owners_own_reply_after_the_window_closed_is_not_attempted(
    owner, account, graph_api, deliver, run_jobs
):
    deliver("Your bill is ready")
    run_jobs()
    close_window()
    services.conversation_reply(conversation_id=Conversation.objects.get().pk, by=owner, text="Call me.")
    jobs.enqueue_now("conversations.tasks.send_pending", Conversation.objects.get().pk)
    run_jobs()

    assert graph_api.sent_texts() == []
    assert Message.objects.get(author="owner").error_code == window.CLOSED_CODE
    assert Draft.objects.get(kind=DraftKind.TEMPLATE).status == DraftStatus.PENDING


def test_only_one_template_is_offered_however_many_replies_fail(
    owner, account, graph_api, deliver, run_jobs, django_capture_on_commit_callbacks
):
    deliver("first")
    run_jobs()
    deliver("second")
    run_jobs()
    close_window()
    newest = Message.objects.latest("id").pk
    with django_capture_on_commit_callbacks(execute=True):
        for draft in Draft.objects.filter(kind=DraftKind.TEXT, status=DraftStatus.PENDING).order_by("id"):
            services.draft_approve(draft_id=draft.pk, by=owner, seen_through=newest)
    run_jobs()

    assert Message.objects.filter(direction=Direction.OUT, status=MessageStatus.FAILED).count() == 2
    assert Draft.objects.filter(kind=DraftKind.TEMPLATE).count() == 1


# -- the owner's re-engagement service ------------------------------------------------------------


def test_reengaging_offers_one_template_draft_and_returns_it_again(owner, account, deliver, run_jobs):
    deliver("Your bill is ready")
    run_jobs()
    close_window()
    conversation = Conversation.objects.get()

    first, created = services.conversation_reengage(conversation_id=conversation.pk)
    again, created_again = services.conversation_reengage(conversation_id=conversation.pk)

    assert (created, created_again) == (True, False)
    assert first == again and first.kind == DraftKind.TEMPLATE and first.status == DraftStatus.PENDING
    assert first.answers_through == Message.objects.filter(direction=Direction.IN).latest("id").pk
    assert Draft.objects.filter(kind=DraftKind.TEXT, answers_through=first.answers_through).exists(), (
        "it claims no turn: the text draft answering the same message stands beside it"
    )


def test_a_new_offer_follows_a_rejected_one(owner, account, deliver, run_jobs):
    deliver("Your bill is ready")
    run_jobs()
    close_window()
    conversation = Conversation.objects.get()
    first, _ = services.conversation_reengage(conversation_id=conversation.pk)
    services.draft_reject(draft_id=first.pk, by=owner)

    second, created = services.conversation_reengage(conversation_id=conversation.pk)
    assert created and second.pk != first.pk


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        pytest.param(lambda account: None, "window is open", id="window-open"),
        pytest.param(
            lambda account: ChannelAccount.objects.filter(pk=account.pk).update(reengagement_template=""),
            "no re-engagement template",
            id="no-template",
        ),
    ],
)
def test_reengaging_is_refused_when_it_makes_no_sense(owner, account, deliver, run_jobs, setup, reason):
    deliver("Your bill is ready")
    run_jobs()
    if reason != "window is open":
        close_window()
    setup(account)
    with pytest.raises(window.ReengagementRefused, match=reason):
        services.conversation_reengage(conversation_id=Conversation.objects.get().pk)


def test_web_chat_cannot_be_reengaged(owner):
    conversation = conversation_on(owner, Provider.WEBCHAT, last_inbound_at=None)
    with pytest.raises(window.ReengagementRefused, match="Only WhatsApp"):
        services.conversation_reengage(conversation_id=conversation.pk)


# -- the API --------------------------------------------------------------------------------------


@pytest.fixture
def api(owner):
    """The owner's API client, with their token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=owner).key}")
    return client


def test_the_api_shows_the_window_and_offers_the_template_to_approve(
    owner, account, api, deliver, run_jobs, graph_api, django_capture_on_commit_callbacks
):
    deliver("Your bill is ready")
    run_jobs()
    conversation = Conversation.objects.get()

    state = api.get(f"/api/conversations/{conversation.pk}/window").json()
    assert (state["applies"], state["open"], state["template"], state["template_draft"]) == (
        True,
        True,
        TEMPLATE,
        None,
    )
    assert api.post(f"/api/conversations/{conversation.pk}/reengage").status_code == 409

    close_window()
    created = api.post(f"/api/conversations/{conversation.pk}/reengage")
    assert created.status_code == 201
    body = created.json()
    assert (body["kind"], body["status"]) == ("template", "pending")
    assert api.post(f"/api/conversations/{conversation.pk}/reengage/").json()["id"] == body["id"]
    assert api.get(f"/api/conversations/{conversation.pk}/window").json()["template_draft"] == body["id"]

    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/drafts/{body['id']}/approve").status_code == 200
    run_jobs()
    assert template_sends(graph_api)[0]["template"]["name"] == TEMPLATE


def test_another_owners_conversation_is_a_404(owner, account, deliver, run_jobs):
    deliver("Your bill is ready")
    run_jobs()
    close_window()
    stranger = APIClient()
    stranger.force_authenticate(User.objects.create_user(username="mallory", password="x"))
    conversation = Conversation.objects.get()

    assert stranger.post(f"/api/conversations/{conversation.pk}/reengage").status_code == 404
    assert stranger.get(f"/api/conversations/{conversation.pk}/window").status_code == 404
    assert not Draft.objects.filter(kind=DraftKind.TEMPLATE).exists()


def test_the_window_actions_are_in_the_api_schema(client):
    schema = client.get("/api/schema/?format=json").json()
    assert "post" in schema["paths"]["/api/conversations/{id}/reengage"]
    assert "get" in schema["paths"]["/api/conversations/{id}/window"]

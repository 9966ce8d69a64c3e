"""Phone calls: the assistant answers the owner's voice number (docs/architecture.md, "Phone calls").

A call is a conversation on the `voice` channel. Each speech turn is stored as an inbound message
and goes through the same checks as a chat message: the category by the owner's data
(`trust.senders`), the engine, then one verdict (`trust.verdict.judge`). Unlike a chat, the caller
is waiting on the line, so the engine is called here, synchronously, under a deadline
(`CALL_ENGINE_TIMEOUT`); anything that is not a reply the verdict sends becomes a message taken
for the owner (an escalation carrying the transcript). Nothing here speaks TwiML: the edge
(`channels_app/twilio/voice/`) renders the `CallAnswer`s these functions return.

Idempotent like ingest: the turn's message is keyed on CallSid and the turn's sequence number
(`<CallSid>:<turn>` as its provider id), and the answer is stored beside it, so a replayed
webhook gets the same answer without a second engine call, message or escalation.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import Truncator

from ai.base import AIReply
from ai.categories import SPAM
from ai.engines import get_client
from conversations import audit, identity
from conversations.context import Policyholder, engine_context, owner_policy, recent_messages
from conversations.escalation import escalate
from conversations.models import (
    Author,
    Call,
    CallOutcome,
    ChannelAccount,
    Contact,
    Conversation,
    Direction,
    Draft,
    DraftStatus,
    EscalationReason,
    Message,
    MessageStatus,
    OwnerSettings,
    Provider,
    RuleAction,
)
from conversations.phones import e164
from conversations.trust import guards, senders
from conversations.trust.verdict import judge_turn

logger = logging.getLogger(__name__)

#: Twilio's CallStatus values after which nothing more happens on the call.
TERMINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})

#: Threads that run engine calls for callers on the line; a slow engine occupies one until it returns.
_engine_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="call-engine")


# -- what the edge hands in -------------------------------------------------------------------


@dataclass(frozen=True)
class CallEvent:
    """One of Twilio's voice webhooks, normalized: whose call, on which of the owner's numbers."""

    call_sid: str
    account_address: str  # the owner's voice number, +E.164
    caller_address: str  # the caller's digits (as a WhatsApp contact's address), or "anonymous"
    caller_phone: str = ""  # the digits, as a contact's phone is kept; "" when withheld
    caller_name: str = ""  # Twilio's CallerName (caller-name lookup), a claim like a display name
    status: str = ""  # CallStatus


@dataclass(frozen=True)
class SpeechTurn:
    """A `<Gather input="speech">` result: what the caller said on turn `turn`, try `attempt`."""

    event: CallEvent
    turn: int
    attempt: int
    speech: str
    confidence: float | None = None


# -- what the edge renders --------------------------------------------------------------------


@dataclass(frozen=True)
class CallAnswer:
    """What to do on the line: say these sentences, then listen, forward the call, or hang up.

    `listen_turn` set: gather speech for that turn (`attempt` counts re-prompts after silence),
    after `prompt`. `dial` set: forward the call to that number. Otherwise the call ends.
    """

    say: tuple[str, ...] = ()
    listen_turn: int | None = None
    attempt: int = 1
    prompt: str = ""
    dial: str = ""

    @property
    def hangs_up(self) -> bool:
        return self.listen_turn is None and not self.dial

    def as_dict(self) -> dict:
        return {**asdict(self), "say": list(self.say)}

    @classmethod
    def from_dict(cls, data: dict) -> CallAnswer:
        return cls(**{**data, "say": tuple(data.get("say", ()))})


def _owner_name(owner) -> str:
    return (owner.get_full_name() or owner.username).strip() or "the owner"


WHAT_ABOUT = "What is your call about?"
ANYTHING_ELSE = "Is there anything else?"


def unknown_number_answer() -> CallAnswer:
    """A call to a number no owner has: polite, and the end of the call."""
    return CallAnswer(say=("Sorry, this number is not taking calls at the moment. Goodbye.",))


def unavailable_answer() -> CallAnswer:
    """Something failed on our side (the database): never silence, never an error tone."""
    return CallAnswer(
        say=("Sorry, the assistant cannot take your call right now. Please try again later. Goodbye.",)
    )


def _greeting(name: str) -> CallAnswer:
    return CallAnswer(
        say=(
            f"Hello. You've reached {name}'s assistant. I'm an automated assistant: {name} can't take "
            f"your call right now, and what you say is written down for {name}.",
        ),
        listen_turn=1,
        prompt=WHAT_ABOUT,
    )


def _take_message(name: str) -> CallAnswer:
    return CallAnswer(say=(f"Thank you. I'll pass that on to {name}. Goodbye.",))


def _end_politely(name: str) -> CallAnswer:
    return CallAnswer(say=(f"Thank you for calling. {name} is not taking these calls. Goodbye.",))


def _goodbye(name: str) -> CallAnswer:
    return CallAnswer(say=(f"I didn't hear anything. Please call again or write to {name}. Goodbye.",))


def _put_through(name: str, number: str) -> CallAnswer:
    return CallAnswer(say=(f"Please hold, I'm putting you through to {name}.",), dial=number)


# -- the call and its conversation ------------------------------------------------------------


def voice_account(address: str) -> ChannelAccount | None:
    """The owner's voice number that was called, if any owner has it."""
    return (
        ChannelAccount.objects.select_related("owner")
        .filter(provider=Provider.VOICE, address=address)
        .first()
    )


def _call_for(event: CallEvent) -> Call | None:
    """The call of this CallSid, created with its conversation if this is the first we hear of it.

    None when the number called belongs to no owner (logged). Webhooks may come out of order
    (a status or a speech turn before the incoming call), so any of them may create it.
    """
    call = Call.objects.select_related(
        "conversation__owner", "conversation__contact", "conversation__account"
    )
    found = call.filter(call_sid=event.call_sid).first()
    if found is not None:
        return found
    account = voice_account(event.account_address)
    if account is None:
        logger.warning(
            "call %s to %s ignored: no owner has this voice number (link it with gatekeeper_setup)",
            event.call_sid,
            event.account_address,
        )
        return None
    try:
        with transaction.atomic():
            contact = _caller_contact(account.owner_id, event)
            conversation, _ = Conversation.objects.get_or_create(
                account=account, contact=contact, defaults={"owner_id": account.owner_id}
            )
            Call.objects.create(conversation=conversation, call_sid=event.call_sid, status=event.status)
    except IntegrityError:
        pass  # a concurrent webhook of the same call created it first
    return call.get(call_sid=event.call_sid)


def _caller_contact(owner_id: int, event: CallEvent) -> Contact:
    """The caller as the owner's contact: the one WhatsApp knows by the same number, or a new one.

    Found like a message's sender (`identity`), so a company that writes and calls from one number
    is one contact, with its pinned category, `put_through` and rules. `CallerName` fills a blank
    name only; it is a claim, as a display name is.
    """
    sender = identity.Sender(
        address=event.caller_address, phone=event.caller_phone, name=event.caller_name[:160]
    )
    candidates = Contact.objects.filter(owner_id=owner_id).filter(identity.lookup([sender]))
    contact = identity.best(candidates, sender)
    if contact is None:
        contact = identity.new_contact(owner_id, sender)
        contact.save()
    else:
        identity.record_identifiers(contact, sender)
    return contact


def _say_out(conversation: Conversation, key: str, text: str, answer: CallAnswer, *, meta: dict) -> Message:
    """Store what the assistant said on the line, once (keyed like the turns)."""
    message, _ = Message.objects.get_or_create(
        account_id=conversation.account_id,
        provider_message_id=key,
        defaults={
            "conversation": conversation,
            "direction": Direction.OUT,
            "author": Author.ASSISTANT,
            "text": text,
            "status": MessageStatus.SENT,
            "sent_at": timezone.now(),
            "accepted_at": timezone.now(),
            "metadata": {**meta, "answer": answer.as_dict()},
        },
    )
    return message


def _forward_number(owner_id: int) -> str:
    """Where `<Dial>` puts a caller through, in E.164 (a number saved before it was checked, too)."""
    owner_settings = OwnerSettings.objects.filter(owner_id=owner_id).first()
    if owner_settings is None:
        return ""
    return e164(owner_settings.forward_calls_to or owner_settings.notify_whatsapp)


def incoming_call(event: CallEvent) -> CallAnswer:
    """A call rings the owner's number: put a trusted contact through, else disclose and ask why."""
    call = _call_for(event)
    if call is None:
        return unknown_number_answer()
    conversation = call.conversation
    name = _owner_name(conversation.owner)
    if call.status in TERMINAL_STATUSES:
        return CallAnswer(say=("Goodbye.",))  # a late or replayed webhook of a call already over
    number = _forward_number(conversation.owner_id) if conversation.contact.put_through else ""
    answer = _put_through(name, number) if number else _greeting(name)
    with transaction.atomic():
        said = _say_out(
            conversation, f"{call.call_sid}:0:out", " ".join(answer.say), answer, meta=_meta(call, 0)
        )
        stored = CallAnswer.from_dict(said.metadata["answer"])
        if stored.dial:
            Call.objects.filter(pk=call.pk, outcome="").update(outcome=CallOutcome.PUT_THROUGH)
        if event.status and call.status not in TERMINAL_STATUSES:
            Call.objects.filter(pk=call.pk).update(status=event.status)
        _refresh_summary(call.pk)
    return stored


def _meta(call: Call, turn: int) -> dict:
    return {"call_sid": call.call_sid, "turn": turn}


# -- a speech turn ----------------------------------------------------------------------------


@dataclass
class _Decision:
    """What one turn comes to: an answer, and whether (and why) the owner is told."""

    answer: CallAnswer
    outcome: str
    why: str = ""
    draft: dict = field(default_factory=dict)
    category: senders.Category | None = None
    claim: str = ""


def speech_turn(turn: SpeechTurn) -> CallAnswer:
    """What the caller said on one turn: stored once, judged like a chat message, answered in time."""
    call = _call_for(turn.event)
    if call is None:
        return unknown_number_answer()
    conversation = call.conversation
    name = _owner_name(conversation.owner)
    speech = " ".join(turn.speech.split())
    if not speech:
        return _silence(call, turn, name)
    limit = settings.CALL_TURN_MAX_CHARS
    text = speech if len(speech) <= limit else Truncator(speech).chars(limit)
    stored = _store_turn(call, turn, text)
    if isinstance(stored, CallAnswer):
        return stored  # a replay: the answer already given
    decision = _decide(call, stored, name, turn.turn)
    return _record(call, stored, decision, name)


def _silence(call: Call, turn: SpeechTurn, name: str) -> CallAnswer:
    """The Gather timed out: ask once more, then say goodbye (the call stays on record, unescalated)."""
    if turn.attempt < 2:
        prompt = WHAT_ABOUT if turn.turn <= 1 else ANYTHING_ELSE
        return CallAnswer(
            say=("Sorry, I didn't catch that.",),
            listen_turn=turn.turn,
            attempt=turn.attempt + 1,
            prompt=prompt,
        )
    if turn.turn > 1:
        return CallAnswer(say=("Thank you for calling. Goodbye.",))
    Call.objects.filter(pk=call.pk, outcome="").update(outcome=CallOutcome.NO_SPEECH)
    _refresh_summary(call.pk)
    return _goodbye(name)


def _store_turn(call: Call, turn: SpeechTurn, text: str) -> Message | CallAnswer:
    """Store the turn once; for a replayed turn, the answer it got (or a neutral one while it is decided)."""
    key = f"{call.call_sid}:{turn.turn}"
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=call.conversation_id)
        if Message.objects.filter(account_id=conversation.account_id, provider_message_id=key).exists():
            answered = Message.objects.filter(
                account_id=conversation.account_id, provider_message_id=f"{key}:out"
            ).first()
            logger.info("call %s turn %s replayed: answered as before", call.call_sid, turn.turn)
            if answered is not None and "answer" in answered.metadata:
                return CallAnswer.from_dict(answered.metadata["answer"])
            return CallAnswer(say=("Thank you.",), listen_turn=turn.turn + 1, prompt=ANYTHING_ELSE)
        now = timezone.now()
        message = Message.objects.create(
            conversation=conversation,
            account_id=conversation.account_id,
            direction=Direction.IN,
            author=Author.CONTACT,
            text=text,
            provider_message_id=key,
            status=MessageStatus.RECEIVED,
            metadata={**_meta(call, turn.turn), "confidence": turn.confidence, "attempt": turn.attempt},
        )
        # The call answers its own turns: no draft job ever picks them up (docs/architecture.md, 4).
        Conversation.objects.filter(pk=conversation.pk).update(
            last_inbound_at=now, handled_through=max(conversation.handled_through, message.pk), updated_at=now
        )
        Call.objects.filter(pk=call.pk, turns__lt=turn.turn).update(turns=turn.turn)
    message.conversation = call.conversation
    return message


def _call_texts(call: Call) -> list[str]:
    return list(
        Message.objects.filter(
            conversation_id=call.conversation_id, direction=Direction.IN, metadata__call_sid=call.call_sid
        )
        .order_by("id")
        .values_list("text", flat=True)
    )


def _decide(call: Call, message: Message, name: str, turn: int) -> _Decision:
    """The rule and the verdict on this turn, as a call can act on them."""
    conversation = call.conversation
    owner = owner_policy(conversation.owner_id)
    texts = _call_texts(call)
    known = senders.establish(conversation, owner, texts)
    if conversation.bot_paused:
        why = "you took this conversation over: the assistant answers nothing on your behalf"
        return _Decision(_take_message(name), CallOutcome.MESSAGE_TAKEN, why, category=known)
    if turn > settings.CALL_MAX_TURNS:
        why = f"the call went past {settings.CALL_MAX_TURNS} turns"
        return _Decision(_take_message(name), CallOutcome.MESSAGE_TAKEN, why, category=known)
    rule = known.rule
    if known.established and (known.category == SPAM or (rule and rule.action == RuleAction.IGNORE)):
        return _Decision(_end_politely(name), CallOutcome.ENDED, category=known)
    if known.established and rule and rule.action in (RuleAction.ESCALATE, RuleAction.DRAFT):
        why = f"your rule for {known.category} says {rule.action}"
        return _Decision(_take_message(name), CallOutcome.MESSAGE_TAKEN, why, category=known)

    context = engine_context(
        conversation, owner, recent_messages(conversation), category=known.category, rule=known.rule
    )
    client = get_client()
    timeout = settings.CALL_ENGINE_TIMEOUT
    try:
        reply = _engine_pool.submit(client.generate, context).result(timeout=timeout)
    except FuturesTimeout:
        logger.warning(
            "call %s: the engine did not answer within %s s; taking a message", call.call_sid, timeout
        )
        why = f"the assistant did not answer within {timeout:g} s"
        return _Decision(_take_message(name), CallOutcome.MESSAGE_TAKEN, why, category=known)
    except Exception as exc:
        logger.warning("call %s: the engine failed (%s); taking a message", call.call_sid, exc)
        return _Decision(
            _take_message(name), CallOutcome.MESSAGE_TAKEN, f"the engine failed: {exc}", category=known
        )
    return _judge_reply(conversation, owner, known, reply, texts, name, engine=client.alias)


def _judge_reply(
    conversation: Conversation,
    owner: Policyholder,
    known: senders.Category,
    reply: AIReply,
    texts: list[str],
    name: str,
    *,
    engine: str,
) -> _Decision:
    chosen, claim, findings = senders.who_is_asking(conversation, owner, known, reply.category)
    verdict = judge_turn(reply, owner=owner, applied=chosen, inbound_texts=texts, findings=findings)
    draft = {
        "text": verdict.text or "(no reply)",
        "disclosed": list(verdict.disclosed),
        "category": reply.category,
        "confidence": reply.confidence,
        "reason": reply.reason,
        "engine": engine,
        "guards": [finding.as_dict() for finding in verdict.findings],
        "decision": "; ".join(verdict.decision.reasons),
    }
    if verdict.sends:
        answer = CallAnswer(say=(verdict.text,), listen_turn=None, prompt=ANYTHING_ELSE)
        return _Decision(answer, CallOutcome.ANSWERED, draft=draft, category=chosen, claim=claim)
    needs_owner = any(f.effect == guards.ESCALATE for f in verdict.findings)
    spam = chosen.category == SPAM and (
        chosen.established or reply.confidence >= owner.settings.confidence_threshold
    )
    if (spam or (chosen.rule and chosen.rule.action == RuleAction.IGNORE)) and not needs_owner:
        return _Decision(_end_politely(name), CallOutcome.ENDED, category=chosen, claim=claim)
    why = "; ".join(verdict.decision.reasons) or "held for you"
    return _Decision(
        _take_message(name), CallOutcome.MESSAGE_TAKEN, why, draft=draft, category=chosen, claim=claim
    )


def _record(call: Call, message: Message, decision: _Decision, name: str) -> CallAnswer:
    """Store the answer and the outcome under the conversation's lock; tell the owner of a message taken.

    Only the request that stored the turn gets here (a replay is answered in `_store_turn`), so
    the draft and the answer are plain inserts.
    """
    turn = message.metadata["turn"]
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update()
            .select_related("contact", "account", "owner")
            .get(pk=call.conversation_id)
        )
        locked = Call.objects.select_for_update().get(pk=call.pk)
        locked.conversation = conversation
        if decision.outcome == CallOutcome.ANSWERED and locked.status in TERMINAL_STATUSES:
            # The caller hung up before hearing the answer: what they said is a message for the owner.
            decision = _Decision(
                _take_message(name),
                CallOutcome.MESSAGE_TAKEN,
                "the caller hung up before the answer",
                draft=decision.draft,
                category=decision.category,
                claim=decision.claim,
            )
        answered = decision.outcome == CallOutcome.ANSWERED
        answer = decision.answer
        if answered:
            answer = CallAnswer(say=answer.say, listen_turn=turn + 1, prompt=ANYTHING_ELSE)
        category = decision.category
        if category is not None:
            conversation.category = category.category or conversation.category
            conversation.category_source = category.source
            conversation.rule = category.rule
        conversation.claims_to_be = decision.claim
        conversation.save(update_fields=["category", "category_source", "rule", "claims_to_be", "updated_at"])
        draft = None
        if decision.draft:
            draft = Draft.objects.create(
                conversation=conversation,
                answers_through=message.pk,
                **decision.draft,
                status=DraftStatus.SENT if answered else DraftStatus.WITHDRAWN,
                reply_to=message,
                decided_at=timezone.now(),
            )
            if answered:
                audit.record_disclosure(draft, actor=None)
        now = timezone.now()
        Message.objects.create(
            conversation=conversation,
            account_id=conversation.account_id,
            direction=Direction.OUT,
            author=Author.ASSISTANT,
            text=" ".join(answer.say),
            provider_message_id=f"{message.provider_message_id}:out",
            status=MessageStatus.SENT,
            sent_at=now,
            accepted_at=now,
            draft=draft if answered else None,
            metadata={**_meta(call, turn), "answer": answer.as_dict()},
        )
        rank = [CallOutcome.ANSWERED, CallOutcome.ENDED, CallOutcome.MESSAGE_TAKEN]
        if decision.outcome in rank and (
            locked.outcome not in rank or rank.index(decision.outcome) > rank.index(locked.outcome)
        ):
            locked.outcome = decision.outcome
        texts = _call_texts(call)
        if decision.outcome == CallOutcome.MESSAGE_TAKEN:
            escalate(
                conversation,
                reason=EscalationReason.CALL_MESSAGE,
                detail=f"Why: {decision.why}.\n\n{transcript(call)}",
                dedupe=False,
            )
        locked.turns = max(locked.turns, turn)
        locked.summary = summary(locked, texts=texts)
        locked.save(update_fields=["outcome", "turns", "summary"])
    return answer


# -- after the call ---------------------------------------------------------------------------


def call_status(event: CallEvent, *, duration: int | None) -> Call | None:
    """Twilio's status callback: the call's status and duration; a finished call never comes back to life."""
    call = _call_for(event)
    if call is None:
        return None
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if locked.status in TERMINAL_STATUSES and event.status not in TERMINAL_STATUSES:
            logger.info("call %s: status %s after %s ignored", call.call_sid, event.status, locked.status)
            return locked
        fields = ["status"]
        locked.status = event.status or locked.status
        if event.status in TERMINAL_STATUSES:
            locked.ended_at = locked.ended_at or timezone.now()
            fields.append("ended_at")
            if duration is not None:
                locked.duration = duration
                fields.append("duration")
            if not locked.outcome and locked.turns == 0:
                locked.outcome = CallOutcome.NO_SPEECH
                fields.append("outcome")
        locked.save(update_fields=fields)
        _refresh_summary(locked.pk)
    locked.refresh_from_db()
    return locked


def transcript(call: Call) -> str:
    """The call as the owner reads it: who said what, in order."""
    messages = Message.objects.filter(conversation_id=call.conversation_id, metadata__call_sid=call.call_sid)
    caller = call.conversation.contact.shown()
    lines = [
        f"{'Assistant' if m.direction == Direction.OUT else caller}: {m.text}"
        for m in messages.order_by("id")
    ]
    return "Transcript of the call:\n" + "\n".join(lines)


def summary(call: Call, *, texts: list[str] | None = None) -> str:
    """One line: who called, about what, what the assistant did, how long, how it ended."""
    texts = _call_texts(call) if texts is None else texts
    caller = call.conversation.contact.shown()
    about = f' about "{Truncator(texts[0]).chars(80)}"' if texts else ""
    outcome = CallOutcome(call.outcome).label if call.outcome else "In progress"
    parts = [f"{caller} called{about}.", f"{outcome}."]
    if call.turns:
        parts.append(f"{call.turns} turn{'s' if call.turns != 1 else ''}.")
    if call.duration is not None:
        parts.append(f"{call.duration} s, {call.status}.")
    elif call.status:
        parts.append(f"Status: {call.status}.")
    return " ".join(parts)


def _refresh_summary(call_id: int) -> None:
    call = Call.objects.select_related("conversation__contact").get(pk=call_id)
    Call.objects.filter(pk=call_id).update(summary=summary(call))

"""Promises read from a company's words, and the engines' optional `follow_up` and `promises`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ai.base import ConversationContext, Turn
from ai.engines.openai import parse_answer
from ai.engines.rules import RulesEngine
from ai.promises import add_business_days, find_promises, read_follow_up

#: A Friday morning: business days skip the weekend that follows.
FRIDAY = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)


def due(text: str, *, now: datetime = FRIDAY, time_zone: str = "") -> datetime | None:
    found = find_promises([text], now=now, time_zone=time_zone)
    return found[0].due_at if found else None


@pytest.mark.parametrize(
    ("text", "days"),
    [
        pytest.param("We will call you back within 2 days.", 2, id="en"),
        pytest.param("Le llamaremos en dos días.", 2, id="es"),
        pytest.param("Nous vous rappellerons dans deux jours.", 2, id="fr"),
        pytest.param("Wir werden Sie in zwei Tagen zurückrufen.", 2, id="de"),
        pytest.param("Vamos ligar de volta em dois dias.", 2, id="pt"),
        pytest.param("La richiameremo entro due giorni.", 2, id="it"),
    ],
)
def test_a_duration_in_each_language_is_due_that_long_after_the_message(text, days):
    assert due(text) == FRIDAY + timedelta(days=days)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("We will call you back within 2 business days.", id="en"),
        pytest.param("Le llamaremos en dos días hábiles.", id="es"),
        pytest.param("Nous vous rappellerons sous deux jours ouvrés.", id="fr"),
        pytest.param("Wir rufen Sie innerhalb von zwei Werktagen zurück.", id="de"),
        pytest.param("Vamos ligar em dois dias úteis.", id="pt"),
        pytest.param("La richiameremo entro due giorni lavorativi.", id="it"),
    ],
)
def test_business_days_skip_the_weekend_in_each_language(text):
    assert due(text) == datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # Friday + 2 working days = Tuesday


@pytest.mark.parametrize(
    ("text", "days"),
    [
        pytest.param("Le remboursement arrivera dans 3 jours.", 3, id="fr-future"),
        pytest.param("Il rimborso arriverà entro 3 giorni.", 3, id="it-future"),
        pytest.param("El reembolso llegará en 3 días.", 3, id="es-future"),
    ],
)
def test_a_future_tense_is_a_commitment(text, days):
    assert due(text) == FRIDAY + timedelta(days=days)


def test_a_range_counts_to_its_upper_end():
    assert due("Your refund will arrive in 5-7 business days.") == datetime(2026, 3, 17, 10, 0, tzinfo=UTC)


def test_hours_are_hours():
    assert due("We'll get back to you within 48 hours.") == FRIDAY + timedelta(hours=48)


def test_a_day_without_a_time_is_due_the_morning_after_in_the_owners_zone():
    found = due("We will send the refund by 14 March.", time_zone="Europe/Madrid")
    assert found == datetime(2026, 3, 15, 9, 0, tzinfo=found.tzinfo)
    assert found.utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize(
    "text",
    [
        "Your bill is 20 euros.",
        "We called you 2 days ago.",
        "Thanks, we will look into it.",
        "Your plan has 5 days of roaming.",
    ],
)
def test_words_without_a_commitment_and_a_time_are_no_promise(text):
    assert due(text) is None


def test_business_days_started_on_a_weekend_count_from_monday():
    saturday = datetime(2026, 3, 7, 10, 0, tzinfo=UTC)
    assert add_business_days(saturday, 1) == datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def test_the_rules_engine_reports_the_promises_of_the_latest_company_messages():
    context = ConversationContext(
        history=(Turn("contact", "We will call you back within 2 days."),), now=FRIDAY, time_zone="UTC"
    )
    reply = RulesEngine("rules").generate(context)
    assert [(p.due_at, p.words) for p in reply.promises] == [(FRIDAY + timedelta(days=2), "2 days")]


def answer(**extra) -> str:
    return json.dumps({"reply": "Noted.", "category": "bank", "confidence": 0.9, "reason": "ok", **extra})


def test_the_openai_answer_may_carry_a_follow_up_and_promises():
    reply = parse_answer(
        answer(
            follow_up={"in": "3 days", "why": "They may not answer."},
            promises=[{"what": "a call back", "in": "2 business days"}],
        ),
        ["bank"],
        now=FRIDAY,
    )
    assert reply.follow_up.at == FRIDAY + timedelta(days=3)
    assert reply.follow_up.why == "They may not answer."
    assert [(p.what, p.due_at) for p in reply.promises] == [
        ("a call back", datetime(2026, 3, 10, 10, tzinfo=UTC))
    ]
    assert reply.confidence == 0.9


@pytest.mark.parametrize(
    "follow_up",
    [
        {"in": "yesterday", "why": "x"},
        {"at": "2020-01-01T10:00:00+00:00", "why": "x"},
        {"in": "3 days"},
        {"in": "3 days", "at": "2026-03-09T10:00:00+00:00", "why": "x"},
        {"in": "900 days", "why": "x"},
        "in 3 days",
    ],
)
def test_an_invalid_follow_up_is_dropped_with_a_note_and_the_reply_kept(follow_up):
    reply = parse_answer(answer(follow_up=follow_up), ["bank"], now=FRIDAY)
    assert reply.follow_up is None
    assert reply.reply == "Noted." and reply.confidence == 0.9
    assert any("follow_up ignored" in note for note in reply.extra["notes"])


def test_a_follow_up_at_a_naive_time_is_read_in_the_owners_zone():
    request = read_follow_up({"at": "2026-03-09T09:00:00", "why": "x"}, now=FRIDAY, time_zone="Europe/Berlin")
    assert request.at == datetime(2026, 3, 9, 8, 0, tzinfo=UTC)

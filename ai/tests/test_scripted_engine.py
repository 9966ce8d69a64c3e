"""The scripted engine: first matching entry wins, errors on demand, the script file read every call."""

from __future__ import annotations

import json

import pytest

from ai.base import AIError, ConversationContext, Turn
from ai.engines.scripted import ScriptedEngine


def said(*texts: str) -> ConversationContext:
    history = tuple(Turn("contact" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts))
    return ConversationContext(history=history, owner_name="Ana")


SCRIPT = [
    {"match": "outage", "reply": "Thanks for the notice.", "category": "utilities", "confidence": 0.9},
    {"match": "code", "error": "The engine is down."},
    {
        "match": "bill",
        "reply": "Noted, Ana will review it.",
        "category": "cellphone_provider",
        "reason": "bill",
    },
]


def test_the_first_matching_entry_answers():
    engine = ScriptedEngine("scripted", script=SCRIPT)
    reply = engine.generate(said("A planned OUTAGE and a bill"))
    assert reply.reply == "Thanks for the notice."
    assert reply.category == "utilities"
    assert reply.confidence == 0.9
    assert reply.extra == {"engine": "scripted", "entry": 0}


def test_matching_reads_the_latest_company_message():
    engine = ScriptedEngine("scripted", script=SCRIPT)
    reply = engine.generate(said("There is an outage", "Thanks", "Your bill is ready"))
    assert reply.category == "cellphone_provider"
    assert reply.reason == "bill"


def test_an_error_entry_raises_ai_error_with_its_message():
    engine = ScriptedEngine("scripted", script=SCRIPT)
    with pytest.raises(AIError, match="The engine is down"):
        engine.generate(said("Send me the code"))


def test_an_entry_without_match_answers_anything():
    engine = ScriptedEngine("scripted", script=[{"reply": "Hi", "category": "spam", "confidence": 0.3}])
    reply = engine.generate(said("whatever"))
    assert (reply.reply, reply.category, reply.confidence) == ("Hi", "spam", 0.3)


def test_no_match_or_no_script_is_a_low_confidence_other():
    for engine in (ScriptedEngine("scripted", script=SCRIPT), ScriptedEngine("scripted", script_path="")):
        reply = engine.generate(said("Hello"))
        assert reply.category == "other"
        assert reply.confidence <= 0.2
        assert reply.reply


def test_the_script_file_is_read_afresh_on_every_call(tmp_path):
    path = tmp_path / "script.json"
    path.write_text(json.dumps([{"reply": "first", "category": "bank"}]))
    engine = ScriptedEngine("scripted", script_path=str(path))
    assert engine.generate(said("hi")).reply == "first"
    path.write_text(json.dumps([{"reply": "second", "category": "spam"}]))
    assert engine.generate(said("hi")).reply == "second"
    path.write_text(json.dumps([{"error": "now failing"}]))
    with pytest.raises(AIError, match="now failing"):
        engine.generate(said("hi"))


def test_a_missing_script_file_means_no_script(tmp_path):
    engine = ScriptedEngine("scripted", script_path=str(tmp_path / "absent.json"))
    assert engine.generate(said("hi")).category == "other"


def test_an_unreadable_script_raises_ai_error(tmp_path):
    path = tmp_path / "script.json"
    path.write_text("[{not json")
    with pytest.raises(AIError, match="cannot read the script"):
        ScriptedEngine("scripted", script_path=str(path)).generate(said("hi"))
    path.write_text(json.dumps({"reply": "not a list"}))
    with pytest.raises(AIError, match="JSON list"):
        ScriptedEngine("scripted", script_path=str(path)).generate(said("hi"))


def test_a_delay_entry_waits_that_long_before_answering():
    engine = ScriptedEngine("scripted", script=[{"reply": "slow", "delay": 0.2}, {"reply": "never"}])
    waited: list[float] = []
    engine.sleep = waited.append

    assert engine.generate(said("hi")).reply == "slow"
    assert waited == [0.2]


def test_confidence_is_clamped_to_zero_one():
    engine = ScriptedEngine("scripted", script=[{"reply": "x", "confidence": 3}])
    assert engine.generate(said("hi")).confidence == 1.0

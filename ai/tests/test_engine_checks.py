"""`manage.py check` stops a wrong engine setting with a hint, and tells an install using AI_PROVIDER its new name."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError


def found(prefix: str = "ai.") -> list:
    return [message for message in run_checks() if message.id.startswith(prefix)]


def test_the_configured_engines_pass(settings):
    settings.AI_PROVIDER = ""
    assert found() == []


def test_an_unknown_engine_name_stops_manage_py_with_the_names_that_would_do(settings):
    settings.AI_ENGINE = "open-ai"

    [error] = found()

    assert error.id == "ai.E001" and "AI_ENGINE='open-ai'" in error.msg
    assert error.hint == "Set AI_ENGINE to one of openai, rules, scripted."
    with pytest.raises(SystemCheckError, match=r"ai\.E001"):
        call_command("check")


def test_an_engine_whose_backend_does_not_import_is_an_error_naming_it(settings):
    settings.AI_ENGINES = {**settings.AI_ENGINES, "local": {"BACKEND": "ai.engines.llama.LlamaEngine"}}

    [error] = found()

    assert error.id == "ai.E002"
    assert "AI_ENGINES['local']['BACKEND']='ai.engines.llama.LlamaEngine' cannot be imported" in error.msg
    assert "ai.engines.rules.RulesEngine" in error.hint


def test_the_former_name_ai_provider_still_works_with_a_warning_naming_ai_engine(settings):
    settings.AI_PROVIDER = settings.AI_ENGINE = "openai"

    [warning] = found()

    assert warning.id == "ai.W001" and "former name of AI_ENGINE" in warning.msg
    assert "AI_ENGINE=openai" in warning.hint
    call_command("check")  # a warning never stops a running install


def test_when_both_names_are_set_the_warning_says_ai_engine_wins(settings):
    settings.AI_PROVIDER, settings.AI_ENGINE = "openai", "rules"

    [warning] = found()

    assert "ignored" in warning.msg and "AI_ENGINE='rules'" in warning.msg

"""get_client: each configured alias loads its engine; an unknown alias is a configuration error."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from ai.engines import get_client
from ai.engines.openai import OpenAIEngine
from ai.engines.rules import RulesEngine
from ai.engines.scripted import ScriptedEngine


@pytest.fixture(autouse=True)
def fresh_clients():
    """get_client caches engines; tests that change settings must not see or leave stale ones."""
    get_client.cache_clear()
    yield
    get_client.cache_clear()


@pytest.mark.parametrize(
    ("alias", "engine_class"),
    [("rules", RulesEngine), ("openai", OpenAIEngine), ("scripted", ScriptedEngine)],
)
def test_each_configured_alias_loads_its_engine(alias, engine_class):
    client = get_client(alias)
    assert isinstance(client, engine_class)
    assert client.alias == alias


def test_the_default_alias_is_settings_ai_engine(settings):
    settings.AI_ENGINE = "scripted"
    assert isinstance(get_client(), ScriptedEngine)


def test_options_reach_the_engine(settings, tmp_path):
    settings.AI_ENGINES = {
        **settings.AI_ENGINES,
        "local": {
            "BACKEND": "ai.engines.openai.OpenAIEngine",
            "OPTIONS": {
                "api_key": "",
                "base_url": "http://127.0.0.1:11434/v1",
                "model": "llama3",
                "timeout": 7,
            },
        },
    }
    client = get_client("local")
    assert client.model == "llama3"
    assert client.timeout == 7.0
    assert str(client.client.base_url).startswith("http://127.0.0.1:11434/v1")


def test_the_engine_is_cached_per_alias():
    assert get_client("rules") is get_client("rules")


def test_an_unknown_alias_raises_improperly_configured_naming_it():
    with pytest.raises(ImproperlyConfigured, match="'no-such-engine'"):
        get_client("no-such-engine")


def test_an_unimportable_backend_raises_improperly_configured(settings):
    settings.AI_ENGINES = {"broken": {"BACKEND": "ai.engines.nowhere.Engine"}}
    with pytest.raises(ImproperlyConfigured, match="broken"):
        get_client("broken")

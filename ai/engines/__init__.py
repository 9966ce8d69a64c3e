"""Load the engine named by settings.AI_ENGINE from settings.AI_ENGINES, with the shared backend loader."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from ai.backends import load_backend
from ai.base import AIClient


@cache
def get_client(alias: str | None = None) -> AIClient:
    """The engine configured under `alias` in settings.AI_ENGINES (default settings.AI_ENGINE)."""
    name = alias or settings.AI_ENGINE
    try:
        config = settings.AI_ENGINES[name]
    except KeyError:
        setting = "AI_ENGINE" if alias is None else "engine"
        raise ImproperlyConfigured(
            f"{setting}={name!r} is not one of the engines in AI_ENGINES ({', '.join(sorted(settings.AI_ENGINES))})."
        ) from None
    backend = load_backend(f"AI_ENGINES[{name!r}]['BACKEND']", config.get("BACKEND"))
    return backend(name, **config.get("OPTIONS", {}))


def _reset_engines(*, setting: str, **kwargs) -> None:
    if setting in ("AI_ENGINES", "AI_ENGINE"):
        get_client.cache_clear()


setting_changed.connect(_reset_engines)

"""Load the engine named by settings.AI_ENGINE, the way Django loads its backends."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from ai.base import AIClient


@cache
def get_client(alias: str | None = None) -> AIClient:
    """The engine configured under `alias` in settings.AI_ENGINES (default settings.AI_ENGINE)."""
    alias = alias or settings.AI_ENGINE
    try:
        config = settings.AI_ENGINES[alias]
    except KeyError:
        raise ImproperlyConfigured(f"No AI engine {alias!r} in AI_ENGINES.") from None
    try:
        backend = import_string(config["BACKEND"])
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"AI engine {alias!r}: cannot import {config['BACKEND']!r}: {exc}"
        ) from exc
    return backend(alias, **config.get("OPTIONS", {}))


def _reset_engines(*, setting: str, **kwargs) -> None:
    if setting in ("AI_ENGINES", "AI_ENGINE"):
        get_client.cache_clear()


setting_changed.connect(_reset_engines)

"""Load the class a setting names, the Django way: one loader for AI engines, channel providers and job queues.

A backend setting holds a dotted path (`ai.engines.rules.RulesEngine`) or, where the setting has
them, a short name (`rq`). A wrong value is an `ImproperlyConfigured` naming the setting and the
value, raised when the backend is first used, and the same words are a system check Error at
start-up (`manage.py check`), so a typo stops the service before it has to answer anyone.

It lives in `ai`, the bottom layer, because every layer loads backends and may import `ai`,
while `ai` may import nothing above it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping

from django.core.checks import Error
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


def dotted_path(setting: str, value: object, short_names: Mapping[str, str] | None = None) -> str:
    """The dotted path `value` stands for: one of `short_names`, else the value itself if it is dotted."""
    names = dict(short_names or {})
    if isinstance(value, str) and value in names:
        return names[value]
    if isinstance(value, str) and "." in value.strip(".") and " " not in value:
        return value
    known = f"one of {', '.join(sorted(names))} or " if names else ""
    raise ImproperlyConfigured(f"{setting}={value!r} is not {known}a dotted path to a class.")


def load_backend(setting: str, value: object, short_names: Mapping[str, str] | None = None) -> type:
    """The class `value` names; `ImproperlyConfigured` names the setting and the value when it cannot be loaded."""
    path = dotted_path(setting, value, short_names)
    try:
        return import_string(path)
    except ImportError as exc:
        shown = repr(value) if path == value else f"{value!r} ({path})"
        raise ImproperlyConfigured(f"{setting}={shown} cannot be imported: {exc}") from exc


def find_backend(setting: str, value: object, short_names: Mapping[str, str] | None = None) -> None:
    """Like `load_backend`, but only finds the class's module, without importing it.

    For backends configured but not in use (an engine other than AI_ENGINE): a misspelt module
    is still caught at start-up, without every `manage.py` command paying for a heavy SDK import.
    """
    path = dotted_path(setting, value, short_names)
    module = path.rpartition(".")[0]
    try:
        found = importlib.util.find_spec(module)
    except ImportError as exc:
        raise ImproperlyConfigured(f"{setting}={value!r} cannot be imported: {exc}") from exc
    if found is None:
        raise ImproperlyConfigured(f"{setting}={value!r} cannot be imported: no module named {module!r}")


def check_backend(
    setting: str,
    value: object,
    *,
    id: str,
    short_names: Mapping[str, str] | None = None,
    example: str = "",
    in_use: bool = True,
) -> list[Error]:
    """A system check Error, with a hint, when `value` does not load (or, not `in_use`, has no module)."""
    try:
        (load_backend if in_use else find_backend)(setting, value, short_names)
    except ImproperlyConfigured as exc:
        choices = [
            *sorted(short_names or {}),
            f"a dotted path such as {example}" if example else "a dotted path",
        ]
        hint = (
            f"Set {setting} to "
            + (", ".join(choices[:-1]) + " or " if len(choices) > 1 else "")
            + choices[-1]
        )
        return [Error(str(exc), hint=hint + ".", id=id)]
    return []

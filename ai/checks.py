"""Start-up checks of the engine settings: a wrong engine name or path stops `manage.py` with a hint.

`AI_PROVIDER` is the former name of `AI_ENGINE`: settings still read it for one release, and a
warning here tells the owner the new name instead of breaking a running install.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from ai.backends import check_backend


@register()
def check_engines(app_configs=None, **kwargs) -> list[CheckMessage]:
    """ai.E001: AI_ENGINE names no engine of AI_ENGINES; ai.E002: an engine's BACKEND does not load.

    Only the engine in use is imported; the others' modules are only found (the openai SDK alone
    takes seconds to import, and every `manage.py` command runs these checks).
    """
    engines = settings.AI_ENGINES
    messages: list[CheckMessage] = []
    if settings.AI_ENGINE not in engines:
        messages.append(
            Error(
                f"AI_ENGINE={settings.AI_ENGINE!r} is not one of the engines in AI_ENGINES.",
                hint=f"Set AI_ENGINE to one of {', '.join(sorted(engines))}.",
                id="ai.E001",
            )
        )
    for alias, config in engines.items():
        messages += check_backend(
            f"AI_ENGINES[{alias!r}]['BACKEND']",
            config.get("BACKEND"),
            id="ai.E002",
            example="ai.engines.rules.RulesEngine",
            in_use=alias == settings.AI_ENGINE,
        )
    return messages


@register()
def check_renamed_engine_setting(app_configs=None, **kwargs) -> list[CheckMessage]:
    """ai.W001: the environment still names the engine by AI_PROVIDER, read for this release only."""
    old = getattr(settings, "AI_PROVIDER", "")
    if not old:
        return []
    if old == settings.AI_ENGINE:
        text = f"AI_PROVIDER={old!r} is the former name of AI_ENGINE; it is read until the next release."
        hint = f"Replace AI_PROVIDER={old} with AI_ENGINE={old} in the environment or .env."
    else:
        text = f"AI_PROVIDER={old!r} is ignored: AI_ENGINE={settings.AI_ENGINE!r} is set and wins."
        hint = "Remove AI_PROVIDER from the environment or .env."
    return [Warning(text, hint=hint, id="ai.W001")]

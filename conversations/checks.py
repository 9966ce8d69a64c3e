"""Start-up checks of the domain's backend settings: the job queue and each channel's provider.

A wrong dotted path or an unknown short name is an Error with a hint, so `manage.py` (migrate,
the server, the workers) stops before a webhook is acknowledged and its reply cannot be sent.
An install that still sets GATEKEEPER_PROVIDERS, or the EMAIL_BACKEND variable, gets a Warning naming
what replaced it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from ai.backends import check_backend
from conversations import jobs, providers
from conversations.models import Provider

PROVIDER_EXAMPLE = "channels_app.console.ConsoleProvider"


@register()
def check_job_backend(app_configs=None, **kwargs) -> list[CheckMessage]:
    """conversations.E001: GATEKEEPER_JOBS['BACKEND'] (GATEKEEPER_JOBS_BACKEND) does not load."""
    return check_backend(
        jobs.BACKEND_SETTING,
        settings.GATEKEEPER_JOBS.get("BACKEND"),
        id="conversations.E001",
        short_names=jobs.SHORT_NAMES,
        example="conversations.jobs.RQBackend",
    )


@register()
def check_channel_providers(app_configs=None, **kwargs) -> list[CheckMessage]:
    """conversations.E002: a provider path does not load; conversations.E003: a channel has none."""
    configured = settings.CHANNEL_PROVIDERS
    messages: list[CheckMessage] = []
    for alias in Provider.values:
        if alias not in configured and providers.legacy_config(alias) is None:
            messages.append(
                Error(
                    f"{providers.SETTING} names no provider for the channel {alias!r}: its replies could not be sent.",
                    hint=f"Add {alias!r}: '<dotted path to a ChannelProvider>' to {providers.SETTING}.",
                    id="conversations.E003",
                )
            )
    for alias, path in configured.items():
        messages += check_backend(
            f"{providers.SETTING}[{alias!r}]", path, id="conversations.E002", example=PROVIDER_EXAMPLE
        )
    for alias, config in (getattr(settings, providers.OLD_SETTING, None) or {}).items():
        messages += check_backend(
            f"{providers.OLD_SETTING}[{alias!r}]['BACKEND']",
            config.get("BACKEND"),
            id="conversations.E002",
            example=PROVIDER_EXAMPLE,
        )
    return messages


@register()
def check_renamed_provider_setting(app_configs=None, **kwargs) -> list[CheckMessage]:
    """conversations.W001: GATEKEEPER_PROVIDERS is still set; it is read for this release only."""
    old = getattr(settings, providers.OLD_SETTING, None)
    if not old:
        return []
    return [
        Warning(
            f"{providers.OLD_SETTING} is read for this release only (it sets {', '.join(sorted(old))}).",
            hint=(
                f"Name each channel's class in {providers.SETTING} (a dotted path per channel) and move its "
                "OPTIONS to the WHATSAPP_* and TWILIO_* settings (README, Configuration)."
            ),
            id="conversations.W001",
        )
    ]


@register()
def check_renamed_email_setting(app_configs=None, **kwargs) -> list[CheckMessage]:
    """conversations.W002: the mail backend comes from the former EMAIL_BACKEND variable, read this release only."""
    old = getattr(settings, "LEGACY_EMAIL_BACKEND", "")
    if not old:
        return []
    return [
        Warning(
            f"EMAIL_BACKEND={old!r} in the environment is read for this release only.",
            hint="Say where mail goes with EMAIL_URL instead (smtp+tls://user:pass@host:587, "
            "consolemail://, filemail:///path) and remove EMAIL_BACKEND.",
            id="conversations.W002",
        )
    ]

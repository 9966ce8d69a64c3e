"""Logging pieces named in settings.LOGGING: the filter that redacts secrets, and the JSON encoder.

Whatever a log line says (a library's error quoting a URL, an exception's message, an extra
field), the configured secrets never reach the output: `RedactSecrets` sits on the handler, so
it sees every record however it was logged, and replaces each secret's value, as written or
URL-encoded, with `[redacted NAME]`. It reads the values from the settings on each record, so
a secret changed at run time (tests do) is still found.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus

from pythonjsonlogger.json import JsonEncoder

#: Settings whose values are secrets.
SECRET_SETTINGS = (
    "SECRET_KEY",
    "WHATSAPP_API_TOKEN",
    "WHATSAPP_APP_SECRET",
    "WHATSAPP_VERIFY_TOKEN",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_WEBHOOK_SIGNING_KEY",
    "METRICS_TOKEN",
    "GATEKEEPER_PASSWORD",
    "EMAIL_HOST_PASSWORD",
)

#: Shorter values are not searched for: they would blank ordinary words and numbers in every line.
MIN_SECRET_LENGTH = 6

#: The attributes every LogRecord has; anything else on a record is an `extra`.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("name", logging.INFO, "path", 1, "msg", None, None)).keys()
    | {"message", "asctime"}
)

_traceback_formatter = logging.Formatter()


def secret_values() -> dict[str, str]:
    """The configured secrets by name (the OpenAI key is read from the engine's options)."""
    try:
        from django.conf import settings

        found = {name: getattr(settings, name, "") for name in SECRET_SETTINGS}
        found["OPENAI_API_KEY"] = settings.AI_ENGINES.get("openai", {}).get("OPTIONS", {}).get("api_key", "")
        found["DATABASE_PASSWORD"] = settings.DATABASES.get("default", {}).get("PASSWORD", "")
    except Exception:  # settings not configured (yet): nothing known to hide
        return {}
    return {name: value for name, value in found.items() if isinstance(value, str) and value}


@lru_cache(maxsize=8)
def _pattern(secrets: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    """One pattern matching every secret (as written and URL-encoded), longest first; and who each is."""
    names: dict[str, str] = {}
    for name, value in secrets:
        if len(value) < MIN_SECRET_LENGTH:
            continue
        for variant in (value, quote(value, safe=""), quote_plus(value)):
            names.setdefault(variant, name)
    if not names:
        return None, names
    alternatives = sorted(names, key=len, reverse=True)
    return re.compile("|".join(re.escape(variant) for variant in alternatives)), names


def redact(text: str, secrets: dict[str, str] | None = None) -> str:
    """`text` with each secret's value replaced by `[redacted NAME]`."""
    pattern, names = _pattern(tuple(sorted((secrets if secrets is not None else secret_values()).items())))
    if pattern is None or not text:
        return text
    return pattern.sub(lambda match: f"[redacted {names[match.group(0)]}]", text)


def _redact_value(value: Any, secrets: dict[str, str]) -> Any:
    """Strings redacted, inside lists, tuples and dicts too; other objects as they are."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(item, secrets) for item in value)
    if isinstance(value, dict):
        return {key: _redact_value(item, secrets) for key, item in value.items()}
    return value


class RedactSecrets(logging.Filter):
    """Replace configured secrets in a record's message, arguments, extras, traceback and stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = secret_values()
        if not secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: the handler reports it; still hide what we can
            message = str(record.msg)
        redacted = redact(message, secrets)
        if redacted != message:
            record.msg, record.args = redacted, None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRIBUTES:
                setattr(record, key, _redact_value(value, secrets))
        if record.exc_info:
            text = _traceback_formatter.formatException(record.exc_info)
            redacted = redact(text, secrets)
            if redacted != text:
                # Formatters (text and JSON) print exc_text when there is no exc_info to format again.
                record.exc_info, record.exc_text = None, redacted
        elif record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        return True


class RedactingJsonEncoder(JsonEncoder):
    """python-json-logger's encoder, with the text it makes of other objects (a request, a model) redacted."""

    def default(self, o: Any) -> Any:
        value = super().default(o)
        return redact(value) if isinstance(value, str) else value

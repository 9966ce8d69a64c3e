"""Logs: text or one JSON object per line (`LOG_FORMAT`), and known secrets redacted from every record in both."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from gatekeeper_site.logs import RedactSecrets, redact

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "EAAGm0PX4ZCpsBAKZBqZC1ZBsecretgraphtoken"
METRICS = "metrics-token-that-must-not-be-logged"


@pytest.fixture
def secrets_set(settings):
    settings.WHATSAPP_API_TOKEN = TOKEN
    settings.METRICS_TOKEN = METRICS
    settings.TWILIO_AUTH_TOKEN = "twilio-auth-token-value-0001"
    engines = {name: dict(config) for name, config in settings.AI_ENGINES.items()}
    engines["openai"] = {
        **engines["openai"],
        "OPTIONS": {**engines["openai"]["OPTIONS"], "api_key": "sk-proj-abcdef"},
    }
    settings.AI_ENGINES = engines


def configured_handler(form: str) -> tuple[logging.Handler, io.StringIO]:
    """A handler built from settings.LOGGING's own formatter and filter, writing to a buffer."""
    configurator = logging.config.DictConfigurator(django_settings.LOGGING)
    config = configurator.config
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(configurator.configure_formatter(config["formatters"][form]))
    handler.addFilter(configurator.configure_filter(config["filters"]["redact_secrets"]))
    return handler, stream


def emit(handler: logging.Handler, *args, exc_info=None, **extra) -> None:
    logger = logging.getLogger("gatekeeper.test.logs")
    record = logger.makeRecord(
        logger.name, logging.WARNING, __file__, 1, *args, exc_info=exc_info, extra=extra
    )
    handler.handle(record)


@pytest.mark.parametrize("form", ["plain", "json"])
def test_a_secret_in_the_arguments_the_message_or_a_traceback_is_redacted(secrets_set, form):
    handler, stream = configured_handler(form)
    emit(handler, "calling Graph with token %s", (TOKEN,))
    emit(handler, f"scraped with Bearer {METRICS}", None)
    emit(handler, "twilio said %(answer)s", ({"answer": "bad auth twilio-auth-token-value-0001"},))
    try:
        raise RuntimeError(f"401 from https://graph.example/?access_token={TOKEN}")
    except RuntimeError:
        emit(handler, "send failed", None, exc_info=sys.exc_info())

    output = stream.getvalue()
    for secret in (TOKEN, METRICS, "twilio-auth-token-value-0001"):
        assert secret not in output
    assert "[redacted WHATSAPP_API_TOKEN]" in output
    assert "[redacted METRICS_TOKEN]" in output
    assert "[redacted TWILIO_AUTH_TOKEN]" in output
    assert "RuntimeError" in output, "the traceback is kept, only the secret is gone"


def test_json_lines_parse_with_time_level_logger_message_and_extras(secrets_set):
    handler, stream = configured_handler("json")
    emit(handler, "delivered %s", ("wamid.1",), conversation=12, detail={"key": f"Bearer {METRICS}"})
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        emit(handler, "multi\nline", None, exc_info=sys.exc_info())

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, "one object per line, newlines inside escaped"
    first, second = (json.loads(line) for line in lines)
    assert {"time", "level", "logger", "message"} <= set(first)
    assert (first["level"], first["logger"], first["message"]) == (
        "WARNING",
        "gatekeeper.test.logs",
        "delivered wamid.1",
    )
    assert first["conversation"] == 12
    assert first["detail"] == {"key": "Bearer [redacted METRICS_TOKEN]"}
    assert "ZeroDivisionError" in second["exc_info"]
    assert second["message"] == "multi\nline"


def test_an_url_encoded_secret_is_redacted_too(settings):
    settings.METRICS_TOKEN = "a/b+c=d&e-long-enough"

    assert redact("GET /x?t=a%2Fb%2Bc%3Dd%26e-long-enough") == "GET /x?t=[redacted METRICS_TOKEN]"


def test_short_values_and_unset_secrets_do_not_blank_ordinary_words(settings):
    settings.METRICS_TOKEN = "abc"
    settings.TWILIO_AUTH_TOKEN = ""

    assert redact("abc is not a secret worth hiding") == "abc is not a secret worth hiding"


def test_a_record_without_secrets_is_left_as_it_was(secrets_set):
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d messages", (3,), None)

    assert RedactSecrets().filter(record) is True
    assert (record.msg, record.args) == ("%d messages", (3,))


def _child_env(**values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "LOG_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="gatekeeper_site.settings",
        SECRET_KEY="child-secret-key-0123456789-abcdefghij",
        DEBUG="true",
        GATEKEEPER_VAR_DIR=str(ROOT / "var" / "test-json-logs"),
        WHATSAPP_API_TOKEN=TOKEN,
        METRICS_TOKEN=METRICS,
        **values,
    )
    return env


CHILD = """
import logging, django
django.setup()
logging.getLogger("django.request").warning("Unauthorized: /metrics %s", "{metrics}", extra={{"status_code": 401}})
logging.getLogger("conversations.sending").info("sent with %s", "{token}")
try:
    raise ValueError("{token}")
except ValueError:
    logging.getLogger("conversations.jobs").exception("job failed")
"""


def test_with_log_format_json_every_line_a_process_logs_is_json_without_secrets():
    child = subprocess.run(
        [sys.executable, "-c", CHILD.format(metrics=METRICS, token=TOKEN)],
        cwd=ROOT,
        env=_child_env(LOG_FORMAT="json", WHATSAPP_PHONE_NUMBER_ID=""),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert child.returncode == 0, child.stderr
    lines = [line for line in child.stderr.splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    assert [r["logger"] for r in records if r["logger"] != "axes.apps"] == [
        "django.request",
        "conversations.sending",
        "conversations.jobs",
    ], "Django's own loggers print once, as JSON"
    assert records[-1]["exc_info"].endswith("ValueError: [redacted WHATSAPP_API_TOKEN]")
    assert TOKEN not in child.stderr and METRICS not in child.stderr


def test_text_is_the_default_and_other_formats_are_refused():
    text = subprocess.run(
        [sys.executable, "-c", CHILD.format(metrics=METRICS, token=TOKEN)],
        cwd=ROOT,
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert text.returncode == 0, text.stderr
    assert "WARNING django.request Unauthorized: /metrics [redacted METRICS_TOKEN]" in text.stderr
    assert TOKEN not in text.stderr and METRICS not in text.stderr

    refused = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=_child_env(LOG_FORMAT="yaml"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "LOG_FORMAT='yaml'" in refused.stderr

"""One source per setting, read from the environment as an operator's `.env` gives it (in a child process).

The engine is named by AI_ENGINE (AI_PROVIDER still read this release, with a warning); EMAIL_URL
alone says where mail goes; a wrong backend name stops `manage.py` with the check's hint.
"""

from __future__ import annotations

import json
from pathlib import Path

from gatekeeper_site.tests.test_production_settings import manage, production_env

SHOWN = ["AI_ENGINE", "EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_USE_TLS"]
SHOW = (
    "import json; from django.conf import settings; "
    f"print(json.dumps({{name: getattr(settings, name) for name in {SHOWN!r}}}))"
)


def shown(env: dict[str, str]) -> dict:
    run = manage("shell", "--no-startup", "--command", SHOW, env=env)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_an_install_still_on_ai_provider_keeps_its_engine_and_is_told_the_new_name(tmp_path: Path):
    env = production_env(tmp_path, AI_PROVIDER="openai")

    checked = manage("check", env=env)

    assert shown(env)["AI_ENGINE"] == "openai"
    assert checked.returncode == 0, checked.stderr
    assert "ai.W001" in checked.stderr and "AI_ENGINE=openai" in checked.stderr


def test_a_wrong_engine_name_stops_manage_py_with_a_hint(tmp_path: Path):
    checked = manage("check", env=production_env(tmp_path, AI_ENGINE="open-ai"))

    assert checked.returncode != 0
    assert (
        "ai.E001" in checked.stderr and "Set AI_ENGINE to one of openai, rules, scripted." in checked.stderr
    )


def test_a_wrong_job_backend_stops_manage_py_with_a_hint(tmp_path: Path):
    checked = manage(
        "check", env=production_env(tmp_path, GATEKEEPER_JOBS_BACKEND="conversations.jobs.Celery")
    )

    assert checked.returncode != 0
    assert "conversations.E001" in checked.stderr and "cannot be imported" in checked.stderr


def test_the_defaults_are_the_rules_engine_and_the_mail_server_of_email_url(tmp_path: Path):
    values = shown(production_env(tmp_path))

    assert values["AI_ENGINE"] == "rules"
    assert (values["EMAIL_BACKEND"], values["EMAIL_HOST"], values["EMAIL_PORT"], values["EMAIL_USE_TLS"]) == (
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.com",
        587,
        True,
    )
    assert values["EMAIL_HOST_USER"] == "gatekeeper"


def test_ai_engine_names_the_engine_and_without_email_url_mail_is_printed(tmp_path: Path):
    values = shown(production_env(tmp_path, AI_ENGINE="openai", EMAIL_URL=None))

    assert values["AI_ENGINE"] == "openai"
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert values["EMAIL_USE_TLS"] is False


def test_an_install_still_on_email_backend_keeps_it_when_email_url_is_unset_and_is_told(tmp_path: Path):
    dummy = "django.core.mail.backends.dummy.EmailBackend"
    env = production_env(tmp_path, EMAIL_URL=None, EMAIL_BACKEND=dummy)

    checked = manage("check", env=env)

    assert shown(env)["EMAIL_BACKEND"] == dummy
    assert checked.returncode == 0, checked.stderr
    assert "conversations.W002" in checked.stderr

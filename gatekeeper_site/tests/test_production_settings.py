"""Production settings come from the environment: `check --deploy` is clean, and no secret key is a constant.

Each case runs `manage.py` in a child process with `gatekeeper_site.settings` (not the test settings)
and only the environment it names, as an operator's `.env` would give it.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "gatekeeper.example.com"
#: Read from the settings module in the child (json-encoded).
SHOWN = [
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SECURE_REDIRECT_EXEMPT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_PROXY_SSL_HEADER",
    "SECRET_KEY",
]
SHOW = (
    "import json; from django.conf import settings; "
    f"print(json.dumps({{name: getattr(settings, name) for name in {SHOWN!r}}}))"
)


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """What an operator's `.env` holds in production: DEBUG off, an https URL, real secrets and providers."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "gatekeeper_site.settings",
        "GATEKEEPER_ENV_FILE": "",  # only what the case names, never the checkout's `.env`
        "GATEKEEPER_VAR_DIR": str(tmp_path),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PUBLIC_BASE_URL": f"https://{DOMAIN}",
        "ALLOWED_HOSTS": DOMAIN,
        "WHATSAPP_VERIFY_TOKEN": secrets.token_urlsafe(16),
        "WHATSAPP_APP_SECRET": secrets.token_hex(16),
        "WHATSAPP_API_TOKEN": secrets.token_urlsafe(32),
        "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
        "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "EMAIL_URL": "smtp+tls://gatekeeper:password@smtp.example.com:587",
    }
    env.update(overrides)
    return {name: value for name, value in env.items() if value is not None}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def settings_in(env: dict[str, str]) -> dict:
    shown = manage("shell", "--no-startup", "--command", SHOW, env=env)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "services",
    [
        {},
        {
            "DATABASE_URL": "postgres://gatekeeper@127.0.0.1:5432/gatekeeper",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
        },
    ],
    ids=["embedded", "postgres-and-redis"],
)
def test_check_deploy_reports_no_issues_with_production_settings(tmp_path, services):
    # Nothing is connected to: `check --deploy` reads settings only.
    checked = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(tmp_path, **services))

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "System check identified no issues (0 silenced)." in checked.stdout


def test_https_only_settings_follow_debug_off_and_an_https_public_url(tmp_path):
    shown = settings_in(production_env(tmp_path))

    assert shown["SECURE_SSL_REDIRECT"] is True
    assert shown["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert shown["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True and shown["SECURE_HSTS_PRELOAD"] is True
    assert shown["SESSION_COOKIE_SECURE"] is True and shown["CSRF_COOKIE_SECURE"] is True
    assert shown["CSRF_TRUSTED_ORIGINS"] == [f"https://{DOMAIN}"]
    assert shown["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert any(re.match(pattern, "healthz") for pattern in shown["SECURE_REDIRECT_EXEMPT"])


def test_hsts_max_age_is_a_setting_and_a_path_in_the_public_url_is_not_an_origin(tmp_path):
    env = production_env(tmp_path, SECURE_HSTS_SECONDS="3600", PUBLIC_BASE_URL=f"https://{DOMAIN}/gk")

    shown = settings_in(env)

    assert shown["SECURE_HSTS_SECONDS"] == 3600
    assert shown["CSRF_TRUSTED_ORIGINS"] == [f"https://{DOMAIN}"]


@pytest.mark.parametrize(
    "overrides",
    [{"DEBUG": "true"}, {"PUBLIC_BASE_URL": "http://127.0.0.1:8000", "ALLOWED_HOSTS": "127.0.0.1"}],
    ids=["debug", "plain-http"],
)
def test_development_and_plain_http_keep_http_working(tmp_path, overrides):
    shown = settings_in(production_env(tmp_path, **overrides))

    assert shown["SECURE_SSL_REDIRECT"] is False
    assert shown["SECURE_HSTS_SECONDS"] == 0
    assert shown["SESSION_COOKIE_SECURE"] is False and shown["CSRF_COOKIE_SECURE"] is False


def test_debug_without_a_secret_key_uses_a_random_key_per_process_and_says_so(tmp_path):
    env = production_env(tmp_path, DEBUG="true", SECRET_KEY="")

    runs = [manage("shell", "--no-startup", "--command", SHOW, env=env) for _ in range(2)]

    keys = [json.loads(run.stdout.strip().splitlines()[-1])["SECRET_KEY"] for run in runs]
    assert keys[0] != keys[1]
    assert all(len(key) >= 50 for key in keys)
    assert all("SECRET_KEY is not set" in run.stderr for run in runs)


def test_without_debug_a_missing_secret_key_is_refused(tmp_path):
    refused = manage("check", env=production_env(tmp_path, SECRET_KEY=""))

    assert refused.returncode != 0
    assert "SECRET_KEY is not set" in refused.stderr

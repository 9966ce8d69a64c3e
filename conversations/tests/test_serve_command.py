"""`make run` (`manage.py serve`): a banner whose hint works on any port, and a clear stop on a busy port."""

from __future__ import annotations

import io
import socket

import pytest
from django.core.management import CommandError, call_command

from conversations.management.commands.serve import banner
from conversations.setup import startup_setup
from conversations.tests.servers import clean_env, free_port, manage

HINT = '.venv/bin/python manage.py simulate_inbound "Your bill is ready"'


@pytest.fixture
def listening():
    """Another process's server: a real socket listening on a loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
        sock.listen()
        yield sock.getsockname()[1]


def command_env(tmp_path, **overrides: str) -> dict[str, str]:
    env = clean_env(
        DJANGO_SETTINGS_MODULE="gatekeeper_site.settings",
        GATEKEEPER_VAR_DIR=str(tmp_path),
        DEBUG="true",
        SECRET_KEY="a-test-key-" + "x" * 40,
        **overrides,
    )
    env.pop("PUBLIC_BASE_URL", None)
    return env


@pytest.mark.django_db
def test_the_banner_hint_names_a_custom_port(settings):
    settings.PORT = 8123
    result = startup_setup(warn=print)

    shown = banner(result, port=8123)

    assert f"PORT=8123 {HINT}" in shown


@pytest.mark.django_db
def test_the_banner_hint_is_plain_on_the_default_port():
    shown = banner(startup_setup(warn=print), port=8000)

    assert f"    {HINT}\n" in shown
    assert "PORT=" not in shown


def test_simulate_inbound_follows_port_as_the_hint_assumes(tmp_path):
    shown = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.PUBLIC_BASE_URL)",
        env=command_env(tmp_path, PORT="8123"),
    )

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().splitlines()[-1] == "http://127.0.0.1:8123"


def test_serve_refuses_a_busy_port_before_saying_it_runs(listening):
    out = io.StringIO()

    with pytest.raises(CommandError) as refused:
        call_command("serve", bind="127.0.0.1", port=listening, stdout=out)

    assert str(refused.value).startswith(f"port {listening} is in use — is Gatekeeper already running?")
    assert "Set PORT=" in str(refused.value)
    assert "running on" not in out.getvalue()


def test_a_second_make_run_exits_non_zero_with_the_reason(tmp_path, listening):
    second = manage("serve", env=command_env(tmp_path, PORT=str(listening)))

    assert second.returncode != 0
    assert f"port {listening} is in use — is Gatekeeper already running?" in second.stderr
    assert "Gatekeeper is running" not in second.stdout

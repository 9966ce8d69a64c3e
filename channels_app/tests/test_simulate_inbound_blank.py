"""`simulate_inbound ""` is refused with a reason and a non-zero exit; nothing reaches the server."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from conversations.models import Message
from conversations.tests.servers import clean_env, manage

pytestmark = pytest.mark.django_db(transaction=True)

BLANKS = ["", "   ", "\n\t"]


@pytest.mark.parametrize("text", BLANKS)
@pytest.mark.parametrize("provider", ["whatsapp", "twilio"])
def test_a_blank_message_is_refused_and_nothing_is_posted(owner, live_server, settings, text, provider):
    settings.PUBLIC_BASE_URL = live_server.url
    out = StringIO()

    with pytest.raises(CommandError, match="The message text is empty"):
        call_command("simulate_inbound", text, "--provider", provider, stdout=out)

    assert "POST" not in out.getvalue()
    assert not Message.objects.exists()


def test_the_command_exits_non_zero_on_a_blank_message(tmp_path):
    env = clean_env(
        DJANGO_SETTINGS_MODULE="gatekeeper_site.settings",
        GATEKEEPER_VAR_DIR=str(tmp_path),
        DEBUG="true",
        SECRET_KEY="a-test-key-" + "x" * 40,
        PUBLIC_BASE_URL="http://127.0.0.1:9",
    )

    refused = manage("simulate_inbound", "", env=env)

    assert refused.returncode == 1
    assert "The message text is empty" in refused.stderr
    assert "Could not reach" not in refused.stderr

"""With the database down, a Twilio webhook answers 503 (nothing half-written) so a retry can store it."""

from __future__ import annotations

import copy

import pytest
from django.conf import settings as django_settings
from django.db import connection

from channels_app.twilio.tests.helpers import INBOUND_PATH, TWILIO_NUMBER, fixture_params, post_signed
from conversations.models import ChannelAccount, Message, Provider

on_postgres = pytest.mark.skipif(
    not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="needs PostgreSQL (DATABASE_URL): the test points the connection at a dead port",
)


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_the_twilio_webhook_answers_503_while_the_database_is_down(owner, client):
    ChannelAccount.objects.create(owner=owner, provider=Provider.TWILIO, address=TWILIO_NUMBER)
    real = copy.deepcopy(connection.settings_dict)

    def reconnect(**changes: object) -> None:
        connection.close()
        if hasattr(connection, "close_pool"):
            connection.close_pool()
        connection.settings_dict.update(copy.deepcopy(real), **changes)

    down: dict[str, object] = {"PORT": "1"}  # nothing listens there
    if isinstance(real.get("OPTIONS", {}).get("pool"), dict):
        down["OPTIONS"] = {**real["OPTIONS"], "pool": {**real["OPTIONS"]["pool"], "timeout": 1}}
    reconnect(**down)
    try:
        response = post_signed(client, INBOUND_PATH, fixture_params("text"))
    finally:
        reconnect()

    assert response.status_code == 503
    assert not Message.objects.exists()
    retried = post_signed(client, INBOUND_PATH, fixture_params("text"))
    assert retried.status_code == 200 and retried["Content-Type"] == "text/xml"
    assert Message.objects.count() == 1

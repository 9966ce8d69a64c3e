"""With the database down, a caller still hears a sentence and a goodbye: never a 5xx (Twilio's error tone)."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET

import pytest
from django.conf import settings as django_settings
from django.db import connection

from channels_app.twilio.tests.helpers import post_signed
from channels_app.twilio.voice.payloads import call_params, new_call_sid
from channels_app.twilio.voice.tests.conftest import CALLER, VOICE_NUMBER, VOICE_PATH
from conversations.models import Call

on_postgres = pytest.mark.skipif(
    not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="needs PostgreSQL (DATABASE_URL): the test points the connection at a dead port",
)


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_a_call_while_the_database_is_down_is_told_to_try_later(voice_account, client):
    real = copy.deepcopy(connection.settings_dict)

    def reconnect(**changes: object) -> None:
        connection.close()
        if hasattr(connection, "close_pool"):
            connection.close_pool()
        connection.settings_dict.update(copy.deepcopy(real), **changes)

    down: dict[str, object] = {"PORT": "1"}  # nothing listens there
    if isinstance(real.get("OPTIONS", {}).get("pool"), dict):
        down["OPTIONS"] = {**real["OPTIONS"], "pool": {**real["OPTIONS"]["pool"], "timeout": 1}}
    params = call_params(call_sid=new_call_sid(), to=VOICE_NUMBER, caller=CALLER)
    reconnect(**down)
    try:
        response = post_signed(client, VOICE_PATH, params)
    finally:
        reconnect()

    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert "try again later" in " ".join(say.text for say in root.iter("Say"))
    assert list(root.iter("Hangup"))
    assert not Call.objects.exists()
    assert post_signed(client, VOICE_PATH, params).status_code == 200  # the retry is answered normally
    assert Call.objects.count() == 1

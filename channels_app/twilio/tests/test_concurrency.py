"""Twilio delivering one MessageSid several times at once stores one message and answers once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from channels_app.twilio.payloads import inbound_text_params
from channels_app.twilio.tests.helpers import INBOUND_PATH, TWILIO_NUMBER, post_signed
from conversations.models import ChannelAccount, Draft, Message, Provider


@pytest.mark.django_db(transaction=True)
def test_five_concurrent_deliveries_of_one_message_sid_store_one_message_and_one_draft(owner, run_jobs):
    ChannelAccount.objects.create(owner=owner, provider=Provider.TWILIO, address=TWILIO_NUMBER)
    params = inbound_text_params(
        to=TWILIO_NUMBER,
        sender="15550001111",
        name="Acme Mobile",
        text="Your bill is ready",
        message_sid="SM" + "c0ffee" * 5 + "00",
    )
    barrier = threading.Barrier(5)
    answers: list[tuple[int, bytes]] = []

    def deliver_once() -> None:
        barrier.wait()
        try:
            response = post_signed(Client(), INBOUND_PATH, params)
            answers.append((response.status_code, response.content))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver_once) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run_jobs()

    assert [status for status, _ in answers] == [200] * 5
    assert all(body.endswith(b"<Response/>") for _, body in answers)
    assert Message.objects.filter(provider_message_id=params["MessageSid"]).count() == 1
    assert Draft.objects.count() == 1

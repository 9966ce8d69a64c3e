"""The web-chat provider: sending rings the visitor's doorbell and returns a unique receipt."""

from __future__ import annotations

import pytest

from channels_app.webchat.provider import WebChatProvider
from conversations.providers import OutboundText, SendFailure, get_provider


def test_the_factory_hands_out_the_webchat_provider():
    assert isinstance(get_provider("webchat"), WebChatProvider)


def test_every_send_gets_a_unique_receipt():
    provider = WebChatProvider("webchat")
    message = OutboundText(account_address="acme", to="webchat:" + "a" * 32, text="hi")
    receipts = {provider.send_text(message).provider_message_id for _ in range(3)}
    assert len(receipts) == 3


def test_a_recipient_that_is_not_a_visitor_is_a_permanent_failure():
    with pytest.raises(SendFailure) as failure:
        WebChatProvider("webchat").send_text(
            OutboundText(account_address="acme", to="15550001111", text="hi")
        )
    assert failure.value.code == "bad_recipient" and not failure.value.retryable

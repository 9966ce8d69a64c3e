"""Provider input is made storable before it reaches PostgreSQL, which refuses NUL characters."""

from conversations.inbound import InboundBatch, InboundMessage, StatusUpdate
from conversations.storable import REPLACEMENT, storable_batch, storable_value


def test_nul_is_replaced_in_strings_and_inside_json():
    assert storable_value({"a\x00": ["x\x00y", 1, None, ("\x00",)]}) == {
        f"a{REPLACEMENT}": [f"x{REPLACEMENT}y", 1, None, (REPLACEMENT,)]
    }


def test_a_batch_keeps_everything_but_the_nul_characters():
    message = InboundMessage(
        provider="whatsapp",
        account_address="1",
        provider_message_id="wamid.\x00",
        sender_address="15550001111",
        text="bill\x00 ready",
        sender_name="Acme\x00",
        raw={"text": {"body": "bill\x00 ready"}},
    )
    status = StatusUpdate(provider="whatsapp", account_address="1", provider_message_id="w", status="read")
    (cleaned,) = storable_batch(InboundBatch(messages=(message,), statuses=(status,))).messages
    assert cleaned.text == f"bill{REPLACEMENT} ready"
    assert cleaned.provider_message_id == f"wamid.{REPLACEMENT}"
    assert cleaned.sender_name == f"Acme{REPLACEMENT}"
    assert cleaned.raw == {"text": {"body": f"bill{REPLACEMENT} ready"}}
    assert cleaned.sender_address == message.sender_address


def test_lone_surrogates_become_the_replacement_character():
    """JSON may escape half a surrogate pair ("\\ud800"); no database can encode it."""
    assert storable_value({"text": "a\ud800b\udfffc"}) == {"text": f"a{REPLACEMENT}b{REPLACEMENT}c"}
    assert storable_value("emoji \U0001f600 stays") == "emoji \U0001f600 stays"

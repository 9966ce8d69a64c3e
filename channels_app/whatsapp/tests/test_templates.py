"""MetaWhatsAppProvider.send_template: the re-engagement template, by name and language, on the wire."""

from __future__ import annotations

import pytest

from channels_app.whatsapp.tests.helpers import PHONE_NUMBER_ID
from conversations.providers import OutboundTemplate, SendFailure


def template(name: str = "hello_world", **fields) -> OutboundTemplate:
    fields.setdefault("to", "16505551234")
    return OutboundTemplate(account_address=PHONE_NUMBER_ID, template=name, **fields)


def test_a_template_goes_out_with_its_name_and_language(provider, graph):
    receipt = provider.send_template(template(language="en_GB"))

    (request,) = graph.requests
    assert request.path == f"/v25.0/{PHONE_NUMBER_ID}/messages"
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+16505551234",
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_GB"}},
    }
    assert receipt.provider_message_id.startswith("wamid.")


def test_the_language_defaults_to_en_us(provider, graph):
    provider.send_template(template())
    assert graph.requests[0].json["template"]["language"] == {"code": "en_US"}


def test_variables_fill_the_body_in_order(provider, graph):
    provider.send_template(template(variables=(("1", "Ana"), ("2", "your bill"))))
    assert graph.requests[0].json["template"]["components"] == [
        {
            "type": "body",
            "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "your bill"}],
        }
    ]


def test_a_phoneless_contact_is_addressed_by_business_scoped_user_id(provider, graph):
    provider.send_template(template(to="US.13491208655302741918"))
    assert graph.requests[0].json["recipient"] == "US.13491208655302741918"


def test_no_template_name_fails_permanently_without_a_request(provider, graph):
    with pytest.raises(SendFailure) as caught:
        provider.send_template(template("  "))
    assert (caught.value.code, caught.value.retryable) == ("no_template", False)
    assert graph.requests == []


def test_template_refusals_are_classified_like_texts(provider, graph):
    graph.fail_next(130429)
    with pytest.raises(SendFailure) as caught:
        provider.send_template(template())
    assert caught.value.retryable is True

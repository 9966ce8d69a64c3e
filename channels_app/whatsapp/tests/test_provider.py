"""MetaWhatsAppProvider against the loopback Graph API: wire shape, auth, and every failure class."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from channels_app.testing.graph_api import GraphAPIStandIn
from channels_app.whatsapp.provider import MetaWhatsAppProvider, classify_error
from channels_app.whatsapp.tests.helpers import GRAPH_TOKEN, PHONE_NUMBER_ID
from conversations.providers import OutboundText, SendFailure, SendReceipt

BSUID = "US.13491208655302741918"


def text(body: str = "Thanks, we will check.", **fields) -> OutboundText:
    fields.setdefault("to", "16505551234")
    return OutboundText(account_address=PHONE_NUMBER_ID, text=body, **fields)


def failure_of(provider: MetaWhatsAppProvider, message: OutboundText | None = None) -> SendFailure:
    with pytest.raises(SendFailure) as caught:
        provider.send_text(message or text())
    return caught.value


def test_send_text_posts_the_documented_body_and_returns_the_wamid(provider, graph):
    receipt = provider.send_text(text("Hello there"))

    (request,) = graph.requests
    assert request.method == "POST"
    assert request.path == f"/v25.0/{PHONE_NUMBER_ID}/messages"
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+16505551234",
        "type": "text",
        "text": {"preview_url": False, "body": "Hello there"},
    }
    assert request.headers["authorization"] == f"Bearer {GRAPH_TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert isinstance(receipt, SendReceipt)
    assert receipt.provider_message_id == graph.sent_texts()[0].message_id
    assert receipt.provider_message_id.startswith("wamid.")


def test_reply_in_context_carries_the_replied_message_id(provider, graph):
    provider.send_text(
        text(reply_to_provider_id="wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQTdCNTg5RjY1MEMyRjlGMjRGNgA=")
    )
    assert graph.requests[0].json["context"] == {
        "message_id": "wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQTdCNTg5RjY1MEMyRjlGMjRGNgA="
    }
    assert graph.sent_texts()[0].reply_to.startswith("wamid.HBgLMTY0")


def test_no_context_without_a_reply_id(provider, graph):
    provider.send_text(text())
    assert "context" not in graph.requests[0].json


def test_a_plus_prefixed_address_is_sent_with_one_plus(provider, graph):
    provider.send_text(text(to="+16505551234"))
    assert graph.requests[0].json["to"] == "+16505551234"


def test_a_known_phone_wins_over_a_business_scoped_address(provider, graph):
    provider.send_text(text(to=BSUID, to_phone="16505551234"))
    payload = graph.requests[0].json
    assert payload["to"] == "+16505551234"
    assert "recipient" not in payload


def test_a_phoneless_contact_is_addressed_by_business_scoped_user_id(provider, graph):
    receipt = provider.send_text(text(to=BSUID))
    payload = graph.requests[0].json
    assert payload["recipient"] == BSUID
    assert "to" not in payload
    assert graph.sent_texts()[0].to == BSUID
    assert receipt.provider_message_id


def test_the_longest_allowed_text_goes_out(provider, graph):
    assert provider.max_text_length == 4096
    provider.send_text(text("x" * 4096))
    assert len(graph.sent_texts()[0].text) == 4096


@pytest.mark.parametrize(
    ("message", "code"),
    [
        pytest.param(text("x" * 4097), "text_too_long", id="too-long"),
        pytest.param(text("   "), "empty_text", id="empty"),
        pytest.param(text(to=""), "no_recipient", id="no-recipient"),
        pytest.param(
            OutboundText(account_address="", to="16505551234", text="hi"), "no_account", id="no-account"
        ),
    ],
)
def test_sends_meta_would_refuse_fail_permanently_without_a_request(provider, graph, message, code):
    failure = failure_of(provider, message)
    assert failure.code == code
    assert failure.retryable is False
    assert graph.requests == []


@pytest.mark.parametrize("code", [130429, 131056, 4, 80007])
def test_rate_limits_are_retryable(provider, graph, code):
    graph.fail_next(code, details="Too many messages, slow down.")
    failure = failure_of(provider)
    assert failure.retryable is True
    assert failure.window_closed is False
    assert failure.code == str(code)
    assert "Too many messages, slow down." in failure.detail


@pytest.mark.parametrize(("code", "http_status"), [(131000, 500), (131016, 503), (2, 503), (131057, 500)])
def test_meta_side_trouble_is_retryable(provider, graph, code, http_status):
    graph.fail_next(code, http_status=http_status)
    failure = failure_of(provider)
    assert (failure.retryable, failure.code) == (True, str(code))


def test_a_closed_customer_service_window_is_flagged_and_not_retried(provider, graph):
    graph.fail_next(131047)
    failure = failure_of(provider)
    assert failure.window_closed is True
    assert failure.retryable is False
    assert failure.code == "131047"
    assert "24 hours" in failure.detail


@pytest.mark.parametrize("code", [131026, 131049, 100, 131051, 368])
def test_other_codes_fail_permanently(provider, graph, code):
    graph.fail_next(code)
    failure = failure_of(provider)
    assert (failure.retryable, failure.window_closed, failure.code) == (False, False, str(code))


@pytest.mark.parametrize("http_status", [400, 429, 500])
def test_the_graph_code_decides_not_the_http_status(provider, graph, http_status):
    graph.fail_next(130429, http_status=http_status)
    assert failure_of(provider).retryable is True
    graph.fail_next(131026, http_status=http_status)
    assert failure_of(provider).retryable is False


def test_a_server_error_with_an_unknown_code_is_retryable(provider, graph):
    graph.fail_next(1, http_status=500)
    failure = failure_of(provider)
    assert (failure.retryable, failure.code) == (True, "1")


def test_a_server_error_without_a_graph_body_is_retryable(provider, graph):
    graph.respond_next(502, "<html>Bad Gateway</html>")
    failure = failure_of(provider)
    assert (failure.retryable, failure.code) == (True, "http_502")


def test_a_client_error_without_a_graph_body_is_permanent():
    assert classify_error(400, {}).retryable is False
    assert classify_error(400, {}).code == "http_400"


def test_an_accepted_send_without_a_message_id_is_not_retried(provider, graph):
    graph.respond_next(200, {"messaging_product": "whatsapp", "messages": []})
    failure = failure_of(provider)
    assert failure.code == "bad_response"
    # Meta may have sent it: a retry could deliver it twice.
    assert failure.retryable is False


def test_retry_after_in_seconds_is_honoured(provider, graph):
    graph.fail_next(130429, http_status=429, retry_after=7)
    assert failure_of(provider).retry_after == 7.0


def test_retry_after_as_an_http_date_is_honoured(provider, graph):
    graph.fail_next(
        131056, retry_after=format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    )
    retry_after = failure_of(provider).retry_after
    assert retry_after is not None and 20 <= retry_after <= 31


def test_no_retry_after_header_means_none(provider, graph):
    graph.fail_next(130429)
    assert failure_of(provider).retry_after is None


def test_a_wrong_token_is_a_permanent_auth_failure(graph):
    meta = MetaWhatsAppProvider("whatsapp", graph_api_url=graph.url, api_token="expired-token", timeout=2.0)
    try:
        failure = failure_of(meta)
    finally:
        meta.close()
    assert (failure.code, failure.retryable) == ("190", False)
    assert graph.requests[0].status == 401


def test_an_answer_that_comes_too_late_is_not_retried_because_meta_may_have_sent_it(graph):
    meta = MetaWhatsAppProvider("whatsapp", graph_api_url=graph.url, api_token=GRAPH_TOKEN, timeout=0.2)
    graph.delay_next(1.0)
    try:
        failure = failure_of(meta)
    finally:
        meta.close()
    assert (failure.code, failure.retryable) == ("timeout", False)
    # Meta, like the stand-in, may still have sent it: retrying would send it twice (invariant 6).
    assert len(graph.sent_texts()) == 1


def test_an_unreachable_api_is_retryable():
    with GraphAPIStandIn() as gone:
        url = gone.url
    meta = MetaWhatsAppProvider("whatsapp", graph_api_url=url, api_token=GRAPH_TOKEN, timeout=2.0)
    try:
        failure = failure_of(meta)
    finally:
        meta.close()
    assert (failure.code, failure.retryable) == ("network", True)


def test_mark_read_posts_a_read_receipt(provider, graph):
    provider.mark_read(account_address=PHONE_NUMBER_ID, provider_message_id="wamid.IN.1")
    (request,) = graph.requests
    assert request.path == f"/v25.0/{PHONE_NUMBER_ID}/messages"
    assert request.json == {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN.1"}
    assert request.headers["authorization"] == f"Bearer {GRAPH_TOKEN}"
    assert graph.read_receipts() == ["wamid.IN.1"]
    assert graph.sent_texts() == []


def test_mark_read_failures_raise_send_failure_the_same_way(provider, graph):
    graph.fail_next(131000, http_status=500, only="read")
    with pytest.raises(SendFailure) as caught:
        provider.mark_read(account_address=PHONE_NUMBER_ID, provider_message_id="wamid.IN.1")
    assert (caught.value.code, caught.value.retryable) == ("131000", True)


def test_one_http_client_per_provider_created_on_first_use(provider, graph):
    assert provider._client is None
    provider.send_text(text("one"))
    client = provider._client
    provider.send_text(text("two"))
    assert provider._client is client
    assert [sent.text for sent in graph.sent_texts()] == ["one", "two"]


def test_without_options_the_settings_are_read_at_call_time(graph, settings):
    meta = MetaWhatsAppProvider("whatsapp")
    settings.WHATSAPP_GRAPH_API_URL = graph.url
    settings.WHATSAPP_API_TOKEN = GRAPH_TOKEN
    try:
        meta.send_text(text("from settings"))
    finally:
        meta.close()
    assert graph.sent_texts()[0].text == "from settings"


def test_the_token_never_reaches_the_logs(graph, caplog):
    meta = MetaWhatsAppProvider("whatsapp", graph_api_url=graph.url, api_token=GRAPH_TOKEN, timeout=1.0)
    graph.fail_next(130429)
    graph.fail_next(131047)
    graph.delay_next(0.0)
    with caplog.at_level(logging.DEBUG):
        for _ in range(2):
            with pytest.raises(SendFailure) as caught:
                meta.send_text(text())
            assert GRAPH_TOKEN not in str(caught.value)
        graph.delay_next(10.0)
        with pytest.raises(SendFailure):
            meta.send_text(text())
        meta.send_text(text())
    meta.close()
    assert caplog.records
    assert GRAPH_TOKEN not in caplog.text

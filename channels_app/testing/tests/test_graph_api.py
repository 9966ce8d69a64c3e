"""GraphAPIStandIn speaks Meta's wire format and its knobs do what other tests rely on."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from channels_app.testing.graph_api import GraphAPIStandIn

TOKEN = "stand-in-token"
PHONE_NUMBER_ID = "106540352242922"


@pytest.fixture
def graph():
    with GraphAPIStandIn(token=TOKEN) as stand_in:
        yield stand_in


def post(
    graph: GraphAPIStandIn, body: object, *, token: str = TOKEN, path: str | None = None
) -> httpx.Response:
    url = graph.url + (path if path is not None else f"/{PHONE_NUMBER_ID}/messages")
    # Plain HTTP on loopback: skip loading a CA bundle on every call.
    return httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=5, verify=False)


def send_body(text: str = "Hello", **extra) -> dict:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+16505551234",
        "type": "text",
        "text": {"preview_url": False, "body": text},
        **extra,
    }


def test_url_is_a_versioned_loopback_base(graph):
    assert graph.url.startswith("http://127.0.0.1:")
    assert graph.url.endswith("/v25.0")


def test_a_send_gets_the_real_success_response(graph):
    response = post(graph, send_body())
    assert response.status_code == 200
    data = response.json()
    assert data["messaging_product"] == "whatsapp"
    assert data["contacts"] == [{"input": "+16505551234", "wa_id": "16505551234"}]
    assert data["messages"][0]["id"].startswith("wamid.")


def test_message_ids_are_unique(graph):
    ids = {post(graph, send_body(f"n{n}")).json()["messages"][0]["id"] for n in range(20)}
    assert len(ids) == 20


def test_a_business_scoped_recipient_is_answered_with_its_user_id(graph):
    body = send_body()
    del body["to"]
    body["recipient"] = "US.13491208655302741918"
    contact = post(graph, body).json()["contacts"][0]
    assert contact == {"input": "US.13491208655302741918", "user_id": "US.13491208655302741918"}


def test_a_read_receipt_succeeds_and_is_not_a_sent_text(graph):
    response = post(graph, {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN"})
    assert response.json() == {"success": True}
    assert graph.sent_texts() == []
    assert graph.read_receipts() == ["wamid.IN"]


def test_sent_texts_describe_what_the_contact_would_see(graph):
    message_id = post(graph, send_body("Hi", context={"message_id": "wamid.PREV"})).json()["messages"][0][
        "id"
    ]
    (sent,) = graph.sent_texts()
    assert (sent.phone_number_id, sent.to, sent.text, sent.reply_to, sent.message_id) == (
        PHONE_NUMBER_ID,
        "+16505551234",
        "Hi",
        "wamid.PREV",
        message_id,
    )


def test_requests_are_recorded_with_path_headers_and_json(graph):
    post(graph, send_body())
    (request,) = graph.requests
    assert request.method == "POST"
    assert request.path == f"/v25.0/{PHONE_NUMBER_ID}/messages"
    assert request.phone_number_id == PHONE_NUMBER_ID
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json == send_body()
    assert request.status == 200


def test_a_wrong_token_gets_401_with_code_190(graph):
    response = post(graph, send_body(), token="wrong")
    assert response.status_code == 401
    error = response.json()["error"]
    assert (error["code"], error["type"]) == (190, "OAuthException")
    assert graph.sent_texts() == []


def test_without_a_configured_token_any_bearer_is_accepted():
    with GraphAPIStandIn() as open_graph:
        assert post(open_graph, send_body(), token="anything").status_code == 200


def test_fail_next_answers_with_the_graph_error_envelope_then_recovers(graph):
    graph.fail_next(131056, details="Too many to this number.", retry_after=12)
    response = post(graph, send_body())
    assert response.status_code == 400
    assert response.headers["Retry-After"] == "12"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "error_data", "fbtrace_id"}
    assert error["code"] == 131056
    assert error["type"] == "OAuthException"
    assert error["message"].startswith("(#131056) ")
    assert error["error_data"] == {"messaging_product": "whatsapp", "details": "Too many to this number."}
    assert post(graph, send_body()).status_code == 200
    assert len(graph.sent_texts()) == 1


def test_fail_next_times_and_http_status(graph):
    graph.fail_next(131000, http_status=500, times=2)
    assert [post(graph, send_body()).status_code for _ in range(3)] == [500, 500, 200]


def test_fail_next_only_for_read_receipts(graph):
    graph.fail_next(131000, http_status=500, only="read")
    assert post(graph, send_body()).status_code == 200
    read = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN"}
    assert post(graph, read).status_code == 500
    assert post(graph, read).status_code == 200


def test_fail_next_leaves_read_receipts_alone_by_default(graph):
    graph.fail_next(131047)
    read = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN"}
    assert post(graph, read).status_code == 200
    assert post(graph, send_body()).json()["error"]["code"] == 131047


def test_fail_next_for_any_request(graph):
    graph.fail_next(131000, http_status=500, times=2, only="any")
    read = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN"}
    assert [post(graph, read).status_code, post(graph, send_body()).status_code] == [500, 500]


def test_respond_next_sends_exactly_what_it_is_given(graph):
    graph.respond_next(502, "<html>Bad Gateway</html>")
    response = post(graph, send_body())
    assert response.status_code == 502
    assert response.text == "<html>Bad Gateway</html>"
    assert graph.sent_texts() == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            {"to": "+16505551234", "type": "text", "text": {"body": "x"}}, id="no-messaging-product"
        ),
        pytest.param(send_body("x" * 4097), id="text-too-long"),
        pytest.param(send_body(""), id="empty-text"),
        pytest.param(
            {"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}}, id="no-recipient"
        ),
        pytest.param(send_body(to="not a number"), id="bad-phone"),
        pytest.param(["not", "an", "object"], id="not-an-object"),
    ],
)
def test_bodies_meta_would_refuse_get_code_100(graph, body):
    response = post(graph, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 100
    assert graph.sent_texts() == []


def test_unknown_paths_are_404(graph):
    assert post(graph, send_body(), path=f"/{PHONE_NUMBER_ID}/media").status_code == 404


def test_delay_next_holds_the_next_answer_back_once(graph):
    graph.delay_next(0.3)
    assert graph.delays_pending == [0.3]
    started = time.monotonic()
    assert post(graph, send_body()).status_code == 200
    assert time.monotonic() - started >= 0.3  # a sleep is never shorter than asked
    assert graph.delays_pending == [], "the next request is answered without a hold"


def test_concurrent_sends_are_all_recorded(graph):
    threads = [threading.Thread(target=post, args=(graph, send_body(f"t{n}"))) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = graph.sent_texts()
    assert sorted(s.text for s in sent) == sorted(f"t{n}" for n in range(16))
    assert len({s.message_id for s in sent}) == 16


def test_wait_for_sent_texts_returns_once_they_arrive(graph):
    timer = threading.Timer(0.1, post, args=(graph, send_body("later")))
    timer.start()
    try:
        sent = graph.wait_for_sent_texts(1, timeout=5)
    finally:
        timer.join()
    assert [s.text for s in sent] == ["later"]


def test_wait_for_sent_texts_times_out(graph):
    with pytest.raises(TimeoutError):
        graph.wait_for_sent_texts(1, timeout=0.1)


def test_reset_forgets_requests_and_knobs(graph):
    post(graph, send_body())
    graph.fail_next(131000)
    graph.reset()
    assert graph.requests == []
    assert post(graph, send_body()).status_code == 200


def test_a_stopped_stand_in_has_no_url():
    stand_in = GraphAPIStandIn().start()
    stand_in.stop()
    with pytest.raises(RuntimeError):
        _ = stand_in.url

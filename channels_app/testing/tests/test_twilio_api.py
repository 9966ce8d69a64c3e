"""TwilioAPIStandIn speaks Twilio's wire format and its knobs do what other tests rely on."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from channels_app.testing.twilio_api import TwilioAPIStandIn

ACCOUNT_SID = "AC" + "1" * 32
TOKEN = "stand-in-token"
PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


@pytest.fixture
def twilio_api():
    with TwilioAPIStandIn(account_sid=ACCOUNT_SID, auth_token=TOKEN) as stand_in:
        yield stand_in


def post(
    stand_in: TwilioAPIStandIn, form: dict, *, auth=(ACCOUNT_SID, TOKEN), path: str = PATH
) -> httpx.Response:
    return httpx.post(stand_in.url + path, data=form, auth=auth, timeout=5, verify=False)


def message(body: str = "Hello", **extra: str) -> dict:
    return {"To": "whatsapp:+15551230001", "From": "whatsapp:+14155238886", "Body": body, **extra}


def test_url_is_a_loopback_base_like_api_twilio_com(twilio_api):
    assert twilio_api.url.startswith("http://127.0.0.1:")
    assert not twilio_api.url.endswith("/")


def test_a_message_is_created_with_the_documented_resource(twilio_api):
    response = post(twilio_api, message())
    assert response.status_code == 201
    data = response.json()
    assert data["sid"].startswith("SM") and len(data["sid"]) == 34
    assert (data["status"], data["direction"], data["body"]) == ("queued", "outbound-api", "Hello")
    assert (data["to"], data["from"], data["account_sid"]) == (
        "whatsapp:+15551230001",
        "whatsapp:+14155238886",
        ACCOUNT_SID,
    )
    assert data["uri"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{data['sid']}.json"


def test_sent_messages_describe_what_twilio_would_deliver(twilio_api):
    sid = post(twilio_api, message(StatusCallback="https://example.com/status")).json()["sid"]
    (sent,) = twilio_api.sent_messages()
    assert (sent.to, sent.from_, sent.body, sent.status_callback, sent.sid) == (
        "whatsapp:+15551230001",
        "whatsapp:+14155238886",
        "Hello",
        "https://example.com/status",
        sid,
    )
    assert twilio_api.requests[0].basic_auth == (ACCOUNT_SID, TOKEN)


def test_a_template_by_content_sid_needs_no_body(twilio_api):
    form = {"To": "whatsapp:+15551230001", "From": "whatsapp:+14155238886", "ContentSid": "HX" + "a" * 32}
    assert post(twilio_api, form).status_code == 201
    assert twilio_api.sent_messages()[0].content_sid == "HX" + "a" * 32


@pytest.mark.parametrize(
    ("auth", "path"),
    [
        pytest.param(("AC" + "2" * 32, TOKEN), PATH, id="other-account"),
        pytest.param((ACCOUNT_SID, "wrong"), PATH, id="wrong-token"),
        pytest.param(None, PATH, id="no-auth"),
        pytest.param(
            ("AC" + "2" * 32, TOKEN), PATH.replace(ACCOUNT_SID, "AC" + "2" * 32), id="path-and-user-other"
        ),
    ],
)
def test_wrong_credentials_get_401_with_code_20003(twilio_api, auth, path):
    response = post(twilio_api, message(), auth=auth, path=path)
    assert response.status_code == 401
    assert response.json()["code"] == 20003
    assert twilio_api.sent_messages() == []


def test_without_configured_credentials_any_are_accepted():
    with TwilioAPIStandIn() as open_api:
        assert (
            post(
                open_api,
                message(),
                auth=("ACanything", "x"),
                path="/2010-04-01/Accounts/ACanything/Messages.json",
            ).status_code
            == 201
        )


@pytest.mark.parametrize(
    ("form", "code"),
    [
        pytest.param({"From": "whatsapp:+14155238886", "Body": "x"}, 21604, id="no-to"),
        pytest.param({"To": "whatsapp:+15551230001", "Body": "x"}, 21603, id="no-from"),
        pytest.param(
            {"To": "whatsapp:+15551230001", "From": "whatsapp:+14155238886"}, 21602, id="nothing-to-send"
        ),
        pytest.param(message("x" * 1601), 21617, id="too-long"),
        pytest.param(message(To="+15551230001"), 21910, id="channel-mismatch"),
        pytest.param(message(ContentSid="hello_world"), 21656, id="bad-content-sid"),
    ],
)
def test_forms_twilio_would_refuse_get_its_error_body(twilio_api, form, code):
    response = post(twilio_api, form)
    assert response.status_code == 400
    assert response.json() == {
        "code": code,
        "message": response.json()["message"],
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": 400,
    }
    assert twilio_api.sent_messages() == []


def test_the_longest_body_is_accepted(twilio_api):
    assert post(twilio_api, message("x" * 1600)).status_code == 201


def test_fail_next_refuses_then_recovers(twilio_api):
    twilio_api.fail_next(63018, http_status=429, times=2)
    assert [post(twilio_api, message()).status_code for _ in range(3)] == [429, 429, 201]
    assert post(twilio_api, message()).status_code == 201
    assert len(twilio_api.sent_messages()) == 2


def test_respond_next_sends_exactly_what_it_is_given(twilio_api):
    twilio_api.respond_next(502, "<html>Bad Gateway</html>")
    response = post(twilio_api, message())
    assert (response.status_code, response.text) == (502, "<html>Bad Gateway</html>")
    assert twilio_api.sent_messages() == []


def test_unknown_paths_are_404(twilio_api):
    assert (
        post(twilio_api, message(), path=f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json").status_code == 404
    )


def test_status_callback_builds_what_twilio_posts_for_an_accepted_message(twilio_api):
    sid = post(twilio_api, message()).json()["sid"]
    params = twilio_api.status_callback(sid, "failed", error_code="63016")
    assert params["MessageSid"] == params["SmsSid"] == sid
    assert (params["MessageStatus"], params["ErrorCode"]) == ("failed", "63016")
    assert (params["From"], params["To"], params["AccountSid"]) == (
        "whatsapp:+14155238886",
        "whatsapp:+15551230001",
        ACCOUNT_SID,
    )
    assert twilio_api.status_callback(sid, "read")["EventType"] == "READ"
    with pytest.raises(KeyError):
        twilio_api.status_callback("SM" + "0" * 32, "sent")


def test_delay_next_holds_the_answer_back(twilio_api):
    twilio_api.delay_next(0.3)
    started = time.monotonic()
    assert post(twilio_api, message()).status_code == 201
    assert time.monotonic() - started >= 0.3


def test_concurrent_sends_are_all_recorded(twilio_api):
    threads = [threading.Thread(target=post, args=(twilio_api, message(f"t{n}"))) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = twilio_api.sent_messages()
    assert sorted(s.body for s in sent) == sorted(f"t{n}" for n in range(12))
    assert len({s.sid for s in sent}) == 12


def test_wait_for_sent_returns_once_they_arrive_or_times_out(twilio_api):
    timer = threading.Timer(0.1, post, args=(twilio_api, message("later")))
    timer.start()
    try:
        assert [s.body for s in twilio_api.wait_for_sent(1, timeout=5)] == ["later"]
    finally:
        timer.join()
    with pytest.raises(TimeoutError):
        twilio_api.wait_for_sent(2, timeout=0.1)


def test_reset_forgets_requests_and_knobs(twilio_api):
    post(twilio_api, message())
    twilio_api.fail_next(20500, http_status=500)
    twilio_api.reset()
    assert twilio_api.requests == []
    assert post(twilio_api, message()).status_code == 201


def test_a_stopped_stand_in_has_no_url():
    stand_in = TwilioAPIStandIn().start()
    stand_in.stop()
    with pytest.raises(RuntimeError):
        _ = stand_in.url

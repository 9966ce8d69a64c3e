"""The generated Lua script, run by a real wrk against a tiny loopback server that records what it got."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench import payloads, wrk, wrk_lua
from bench.stack import free_port
from channels_app.whatsapp.signature import verify_signature

SECRET = "test-app-secret"
PHONE_NUMBER_ID = "106540352242922"


class Recorder(ThreadingHTTPServer):
    """Answers 200 to everything, keep-alive, and keeps (path, signature, body) of each request."""

    daemon_threads = True

    def __init__(self) -> None:
        self.received: list[tuple[str, str | None, bytes]] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", free_port()), _Handler)

    def handle_error(self, request, client_address) -> None:
        """wrk drops its connections mid-request when it stops: not the test's concern."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            self.server.received.append((self.path, self.headers.get("X-Hub-Signature-256"), body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def recorder():
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def signed_bodies(path: Path, count: int, prefix: str = "T") -> Path:
    records = payloads.signed_webhooks(
        count=count, batch=1, prefix=prefix, phone_number_id=PHONE_NUMBER_ID, secret=SECRET
    )
    wrk_lua.write_bodies(path, records)
    return path


def message_ids(received) -> list[str]:
    return [
        json.loads(body)["entry"][0]["changes"][0]["value"]["messages"][0]["id"] for _, _, body in received
    ]


def test_the_body_file_round_trips_any_bytes(tmp_path):
    path = tmp_path / "bodies"
    count = wrk_lua.write_bodies(path, [("sha256=ab", b"line one\nline two"), (None, b"")])

    assert count == 2
    assert path.read_bytes() == b"sha256=ab 17\nline one\nline two\n- 0\n\n"


def test_lua_strings_cannot_break_out_of_their_quotes():
    assert wrk_lua.lua_string('a"b\\c\nd') == '"a\\"b\\\\c\\010d"'


def test_a_rate_adds_pacing_and_no_rate_leaves_a_closed_loop(tmp_path):
    closed = wrk_lua.script(bodies=tmp_path / "b", path="/webhook/whatsapp", threads=2)
    paced = wrk_lua.script(bodies=tmp_path / "b", path="/webhook/whatsapp", threads=2, rate=200)

    assert "function delay()" not in closed  # wrk only paces when the script defines delay()
    assert "function delay()" in paced
    assert "local RATE = 200.0" in paced
    with pytest.raises(ValueError):
        wrk_lua.script(bodies=tmp_path / "b", path="/", threads=0)


def test_wrk_replays_every_signed_body_once_across_threads(tmp_path, recorder):
    bodies = signed_bodies(tmp_path / "bodies", 50_000)
    url = f"http://127.0.0.1:{recorder.server_address[1]}/webhook/whatsapp"

    figures = wrk.run(wrk.Load(url=url, duration=1, connections=4, bodies=bodies), scratch=tmp_path)

    received = list(recorder.received)
    assert figures["script"]["repeats"] == 0
    assert figures["requests"] > 0
    assert len(received) >= figures["requests"]  # a request in flight at the end is sent, not counted
    assert {path for path, _, _ in received} == {"/webhook/whatsapp"}
    assert all(verify_signature(body, signature, SECRET) for _, signature, body in received)
    ids = message_ids(received)
    assert len(set(ids)) == len(ids)  # the two threads took disjoint shares, nothing repeated


def test_a_used_up_pool_is_reported_as_repeats(tmp_path, recorder):
    bodies = signed_bodies(tmp_path / "bodies", 4)
    url = f"http://127.0.0.1:{recorder.server_address[1]}/webhook/whatsapp"

    figures = wrk.run(wrk.Load(url=url, duration=1, connections=2, bodies=bodies), scratch=tmp_path)

    ids = message_ids(recorder.received)
    assert set(ids) <= {f"wamid.T.{n}" for n in range(4)}
    assert figures["script"]["repeats"] == figures["script"]["handed_out"] - 4 > 0


def test_an_open_loop_never_sends_ahead_of_its_schedule(tmp_path, recorder):
    bodies = signed_bodies(tmp_path / "bodies", 2_000)
    url = f"http://127.0.0.1:{recorder.server_address[1]}/webhook/whatsapp"
    rate, connections = 50, 8

    figures = wrk.run(
        wrk.Load(url=url, duration=2, connections=connections, bodies=bodies, rate=rate), scratch=tmp_path
    )

    handed_out = figures["script"]["handed_out"]
    # A closed loop would send thousands here; the schedule allows one request per slot.
    assert 0 < handed_out <= rate * figures["seconds"] + connections
    assert len(recorder.received) <= handed_out
    assert figures["script"]["rate"] == rate
    assert figures["script"]["repeats"] == 0
    assert "late" in figures["script"]

"""What every loopback stand-in shares: an HTTP server on 127.0.0.1, recorded requests, knobs.

A stand-in subclasses `LoopbackStandIn` and keeps only its wire format: `_respond()` reads one
request and returns what was received and answered (a record with ``status`` and ``response``)
plus any extra response headers. The base class serves it from a daemon thread, delays answers
held back by `delay_next()`, hands out canned answers queued with `_script()`, records every
request in order and wakes whoever waits for one. All methods are thread-safe.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Protocol, Self, TypeVar


class Answered(Protocol):
    """What a stand-in records of each request: at least what it answered."""

    @property
    def status(self) -> int: ...

    @property
    def response(self) -> dict[str, Any] | str: ...


Record = TypeVar("Record", bound=Answered)
T = TypeVar("T")


@dataclass
class Scripted:
    """A canned answer for the next requests of one kind (queued by respond_next or fail_next)."""

    status: int
    body: dict[str, Any] | str
    headers: dict[str, str]
    remaining: int
    only: str = "any"


class LoopbackStandIn(Generic[Record]):
    """Serves a stand-in on a free loopback port; subclasses implement `_respond()`."""

    #: The ``Server`` header of every answer.
    server_version = "LoopbackStandIn/1"
    #: The ``Content-Type`` of answers given as a dict (sent as JSON); a str goes as HTML.
    json_content_type = "application/json; charset=UTF-8"
    #: The name of the serving thread.
    thread_name = "loopback-stand-in"

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._requests: list[Record] = []
        self._scripted: list[Scripted] = []
        self._delays: list[float] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen on a free loopback port and serve in a daemon thread."""
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.stand_in = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Where the stand-in listens, e.g. ``http://127.0.0.1:51234``."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- what happened -------------------------------------------------------------------------

    @property
    def requests(self) -> list[Record]:
        """Every request received so far, oldest first (a copy)."""
        with self._condition:
            return list(self._requests)

    def reset(self) -> None:
        """Forget recorded requests and pending knobs."""
        with self._condition:
            self._requests.clear()
            self._scripted.clear()
            self._delays.clear()

    def _wait_for(
        self, select: Callable[[list[Record]], list[T]], count: int, timeout: float, what: str
    ) -> list[T]:
        """Block until `select(requests)` has at least `count` items; TimeoutError names `what`."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                found = select(self._requests)
                remaining = deadline - time.monotonic()
                if len(found) >= count or remaining <= 0:
                    break
                self._condition.wait(remaining)
        if len(found) < count:
            raise TimeoutError(f"expected {count} {what} within {timeout}s, got {len(found)}")
        return found

    # -- knobs ---------------------------------------------------------------------------------

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        """Hold the next `times` answers back for `seconds` (to provoke client timeouts)."""
        with self._condition:
            self._delays.extend([seconds] * times)

    @property
    def delays_pending(self) -> list[float]:
        """The holds `delay_next()` queued that no request has used yet."""
        with self._condition:
            return list(self._delays)

    def _script(
        self,
        status: int,
        body: dict[str, Any] | str,
        headers: dict[str, str] | None,
        times: int,
        only: str = "any",
    ) -> None:
        """Queue a canned answer for the next `times` requests of kind `only` ("any" for all)."""
        with self._condition:
            self._scripted.append(Scripted(status, body, dict(headers or {}), times, only))

    def _take_scripted(self, kind: str = "any") -> Scripted | None:
        """The oldest canned answer meant for a `kind` request (or for any), used up once."""
        with self._condition:
            for scripted in self._scripted:
                if scripted.only in ("any", kind):
                    scripted.remaining -= 1
                    if scripted.remaining <= 0:
                        self._scripted.remove(scripted)
                    return scripted
        return None

    # -- serving (called from the handler threads) ---------------------------------------------

    def _respond(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[Record, dict[str, str]]:
        """Decide the answer to one request: (what to record of it, extra response headers)."""
        raise NotImplementedError

    def _handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
        """Decide and record the answer; returns (status, body, extra headers)."""
        with self._condition:
            delay = self._delays.pop(0) if self._delays else 0.0
        record, extra = self._respond(method, path, headers, body)
        with self._condition:
            self._requests.append(record)
            self._condition.notify_all()
        if delay:
            time.sleep(delay)
        return record.status, record.response, extra


class _Server(ThreadingHTTPServer):
    """The HTTP server; handler threads never keep the process alive."""

    daemon_threads = True
    stand_in: LoopbackStandIn[Any]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-request is not worth a traceback in the test output."""


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, lets the stand-in decide, writes the answer (a dict as JSON, a str as HTML)."""

    server: _Server

    def version_string(self) -> str:
        return f"{self.server.stand_in.server_version} {self.sys_version}"

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        stand_in = self.server.stand_in
        status, response, headers_out = stand_in._handle(self.command, self.path, headers, body)
        extra = dict(headers_out)
        if isinstance(response, str):
            encoded, content_type = response.encode(), "text/html; charset=UTF-8"
        else:
            encoded, content_type = json.dumps(response).encode(), stand_in.json_content_type
        try:
            self.send_response(status)
            self.send_header("Content-Type", extra.pop("Content-Type", content_type))
            self.send_header("Content-Length", str(len(encoded)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(encoded)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a delay_next timeout test)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

"""A loopback SMTP server speaking just enough of RFC 5321 for Django's SMTP backend.

Each message accepted is handed to `on_message(raw)` in the server's thread, while the client
still waits for the answer to DATA: a test can look at the database at the moment the mail
is sent (from a connection of that thread's own).
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Callable
from email import message_from_bytes
from email.message import Message


class _Session(socketserver.StreamRequestHandler):
    server: _Server

    def _say(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())
        self.wfile.flush()

    def handle(self) -> None:
        self._say("220 gatekeeper-test ESMTP")
        while line := self.rfile.readline():
            verb = line.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
            if verb == "EHLO":
                self._say("250 gatekeeper-test")
            elif verb == "DATA":
                self._say("354 end with <CRLF>.<CRLF>")
                self._receive()
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:  # HELO, MAIL, RCPT, RSET, NOOP
                self._say("250 ok")

    def _receive(self) -> None:
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        raw = b"".join(lines)
        self.server.on_message(raw)
        self.server.received.append(message_from_bytes(raw))
        self._say("250 queued")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    on_message: Callable[[bytes], None]
    received: list[Message]


class SMTPStandIn:
    """`with SMTPStandIn() as smtp:` listens on 127.0.0.1:`smtp.port`; `smtp.received` holds the mail."""

    def __init__(self, on_message: Callable[[bytes], None] = lambda raw: None) -> None:
        self._server = _Server(("127.0.0.1", 0), _Session)
        self._server.on_message = on_message
        self._server.received = []
        self.port = self._server.server_address[1]

    @property
    def received(self) -> list[Message]:
        return self._server.received

    def deliver_here(self, settings) -> None:
        """Point Django's real SMTP backend at this server (`settings`: pytest-django's fixture)."""
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", self.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""

    def __enter__(self) -> SMTPStandIn:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

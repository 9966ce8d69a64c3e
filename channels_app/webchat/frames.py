"""What a visitor may send, checked once for the socket and the HTTP twin alike.

A bad frame becomes a `ChatError` with a stable code and a sentence a person can read; the
socket answers it with an `error` frame and stays open.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django.conf import settings

#: Larger raw frames are refused before they are parsed.
MAX_FRAME_BYTES = 64 * 1024
NAME_MAX_LENGTH = 80
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ChatError(Exception):
    """A refused frame or request: `code` for programs, the message for people."""

    def __init__(self, code: str, message: str, *, status: int = 400, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after

    def as_frame(self, **extra: object) -> dict:
        """The `error` frame the socket sends (extra keys, like the client id, help the page)."""
        frame: dict = {"type": "error", "error": self.message, "code": self.code}
        if self.retry_after is not None:
            frame["retry_after"] = self.retry_after
        frame.update({key: value for key, value in extra.items() if value})
        return frame


@dataclass(frozen=True)
class VisitorText:
    """One message a visitor typed, validated."""

    text: str
    client_id: str = ""
    name: str = ""


def decode_frame(raw: str | None) -> dict:
    """A text frame's JSON object."""
    if raw is None:
        raise ChatError("binary_frame", "Send messages as JSON text frames.")
    if len(raw) > MAX_FRAME_BYTES:
        raise ChatError("frame_too_large", "That frame is too large.")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ChatError("malformed_json", "That was not valid JSON.") from None
    if not isinstance(data, dict):
        raise ChatError("malformed_frame", 'Send a JSON object like {"type": "message", "text": "..."}.')
    return data


def visitor_text(data: dict) -> VisitorText:
    """The message inside a `message` frame or a POST body; refuses what the contract does not allow."""
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ChatError("empty_text", "Type a message before sending.")
    text = text.strip()
    limit = settings.WEBCHAT_MAX_TEXT_LENGTH
    if len(text) > limit:
        raise ChatError("text_too_long", f"Messages can be at most {limit} characters long.")
    if "\x00" in text:
        raise ChatError("invalid_text", "Messages cannot contain NUL characters.")
    client_id = data.get("client_id") or ""
    if not isinstance(client_id, str) or (client_id and not _CLIENT_ID.fullmatch(client_id)):
        raise ChatError("invalid_client_id", "client_id must be 1 to 64 letters, digits, '-' or '_'.")
    name = data.get("name") or ""
    if not isinstance(name, str):
        raise ChatError("invalid_name", "name must be text.")
    name = " ".join(name.split())[:NAME_MAX_LENGTH]
    return VisitorText(text=text, client_id=client_id, name=name)


def client_frame(data: dict) -> VisitorText:
    """The visitor's message in a socket frame, which must be of type `message`."""
    if data.get("type") != "message":
        raise ChatError("unknown_type", 'Unknown frame type; send {"type": "message", "text": "..."}.')
    return visitor_text(data)

"""Meta's `X-Hub-Signature-256`: an HMAC-SHA256 of the raw request body keyed with the app secret."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


def sign(body: bytes, app_secret: str) -> str:
    """The header value Meta would send for `body`; used by tests and the inbound simulator."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify_signature(body: bytes, header: str | None, app_secret: str) -> bool:
    """Whether `header` signs exactly these bytes; always False without a secret, so nothing goes unsigned."""
    if not app_secret or not header:
        return False
    header = header.strip()
    if header[: len(_PREFIX)].lower() != _PREFIX:
        return False
    received = header[len(_PREFIX) :].strip().lower()
    # Meta re-serialises with escaped unicode before signing; only the raw bytes hash the same.
    expected = sign(body, app_secret)[len(_PREFIX) :]
    return hmac.compare_digest(expected.encode("ascii"), received.encode("utf-8", "replace"))

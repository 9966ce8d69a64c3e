"""Visitor identity: a signed token that binds one browser to one conversation on one chat page.

The token carries a random visitor id and the account slug, signed with SECRET_KEY under a
salt of its own, so a visitor cannot forge another's id nor reuse a token on another page.

It is a bearer credential, so it travels where access logs do not look: in the `X-Visitor-Token`
header of `GET/POST /webchat`, and for the socket in a WebSocket subprotocol (the client offers
`gatekeeper.webchat` and `gatekeeper.visitor-token.<the token in unpadded base64url>`; the
server accepts `gatekeeper.webchat` and never echoes the token). The older `?visitor_token=`
(and the POST body's `visitor_token`) still work; the access logs redact the query.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

from conversations.models import WEBCHAT_ADDRESS_PREFIX

SALT = "gatekeeper.webchat.visitor"
#: What `Contact.address` looks like for a web-chat visitor; the id is what the token signs.
ADDRESS_PREFIX = WEBCHAT_ADDRESS_PREFIX
_VISITOR_ID = re.compile(r"[0-9a-f]{32}")
#: The header that carries the token to `GET/POST /webchat`.
TOKEN_HEADER = "X-Visitor-Token"
#: The socket's subprotocol, which the server accepts when a client offers it.
SUBPROTOCOL = "gatekeeper.webchat"
#: A client offers its token as this prefix followed by the token in unpadded base64url.
TOKEN_SUBPROTOCOL_PREFIX = "gatekeeper.visitor-token."
#: Tokens are far shorter; anything longer is not read.
MAX_TOKEN_LENGTH = 500


@dataclass(frozen=True)
class Visitor:
    """One browser writing to one web-chat account."""

    id: str
    slug: str

    @property
    def address(self) -> str:
        """The contact address the domain stores for this visitor."""
        return f"{ADDRESS_PREFIX}{self.id}"


def new_visitor(slug: str) -> Visitor:
    """A visitor nobody has seen before."""
    return Visitor(id=uuid.uuid4().hex, slug=slug)


def issue_token(visitor: Visitor) -> str:
    """A fresh token for the visitor; re-issued on every connect, so its age slides."""
    return signing.dumps({"v": visitor.id, "a": visitor.slug}, salt=SALT)


def read_token(token: str, *, slug: str) -> Visitor | None:
    """The visitor a token names on this chat page; None when forged, expired or for another page."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.WEBCHAT_TOKEN_MAX_AGE)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict) or data.get("a") != slug:
        return None
    visitor_id = data.get("v")
    if not isinstance(visitor_id, str) or not _VISITOR_ID.fullmatch(visitor_id):
        return None
    return Visitor(id=visitor_id, slug=slug)


def token_subprotocol(token: str) -> str:
    """The subprotocol that carries `token` to the socket (what the chat page's script offers)."""
    return TOKEN_SUBPROTOCOL_PREFIX + base64.urlsafe_b64encode(token.encode("ascii")).decode().rstrip("=")


def token_from_subprotocols(offered: list[str]) -> str:
    """The token a client offered among its WebSocket subprotocols, or "" when none (or garbled)."""
    for protocol in offered:
        if not protocol.startswith(TOKEN_SUBPROTOCOL_PREFIX):
            continue
        encoded = protocol.removeprefix(TOKEN_SUBPROTOCOL_PREFIX)
        if len(encoded) > MAX_TOKEN_LENGTH * 4 // 3 + 4:
            return ""
        try:
            return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("ascii")
        except (binascii.Error, ValueError):
            return ""
    return ""


def visitor_id_of(address: str) -> str | None:
    """The visitor id inside a contact address, or None when it is not a web-chat visitor's."""
    visitor_id = address.removeprefix(ADDRESS_PREFIX)
    if visitor_id == address or not _VISITOR_ID.fullmatch(visitor_id):
        return None
    return visitor_id

"""Visitor identity: a signed token that binds one browser to one conversation on one chat page.

The token carries a random visitor id and the account slug, signed with SECRET_KEY under a
salt of its own, so a visitor cannot forge another's id nor reuse a token on another page.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

SALT = "gatekeeper.webchat.visitor"
#: What `Contact.address` looks like for a web-chat visitor; the id is what the token signs.
ADDRESS_PREFIX = "webchat:"
_VISITOR_ID = re.compile(r"[0-9a-f]{32}")


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
    if not token or len(token) > 500:
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


def visitor_id_of(address: str) -> str | None:
    """The visitor id inside a contact address, or None when it is not a web-chat visitor's."""
    visitor_id = address.removeprefix(ADDRESS_PREFIX)
    if visitor_id == address or not _VISITOR_ID.fullmatch(visitor_id):
        return None
    return visitor_id

"""Which sites may use a chat page: the server's own hosts, plus each account's `allowed_origins`.

Browsers name the embedding site in the `Origin` header (sockets, cross-origin requests) and
obey `Content-Security-Policy: frame-ancestors` (the widget's iframe); both are checked
against the same per-account list.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse, urlsplit

from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator, WebsocketDenier
from django.conf import settings
from django.http.request import validate_host

from channels_app.webchat import chat
from conversations.models import ChannelAccount
from conversations.origins import normalize_origin  # the admin stores origins in the form compared here

_SOCKET_PATH = re.compile(r"^/ws/chat/(?P<slug>[^/]+)/$")


def account_allows(account: chat.ChatAccount, origin: str) -> bool:
    """Whether the account's owner allowed this site to embed their chat."""
    wanted = normalize_origin(origin)
    return wanted is not None and any(
        normalize_origin(allowed) == wanted for allowed in account.allowed_origins
    )


def from_this_site(origin: str) -> bool:
    """Whether the origin is one of this server's own hosts (ALLOWED_HOSTS), as for the socket."""
    try:
        host = urlsplit(origin.strip()).hostname
    except ValueError:
        return False
    return bool(host) and validate_host(host, settings.ALLOWED_HOSTS)


def any_account_allows(origin: str) -> bool:
    """Whether some web-chat account allowed this site (a CORS preflight does not say which account)."""
    lists = ChannelAccount.objects.filter(provider=chat.PROVIDER).values_list("allowed_origins", flat=True)
    sites = [allowed for listed in lists if isinstance(listed, list) for allowed in listed]
    wanted = normalize_origin(origin)
    return wanted is not None and any(normalize_origin(str(site)) == wanted for site in sites)


def frame_ancestors(account: chat.ChatAccount) -> str:
    """The CSP `frame-ancestors` source list: this server and the account's allowed sites."""
    sources = ["'self'"]
    for allowed in account.allowed_origins:
        origin = normalize_origin(allowed)
        if origin and origin not in sources:
            sources.append(origin)
    return " ".join(sources)


def _header(scope: dict, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


def _origin_allowed_for_slug(slug: str, origin: str) -> bool:
    account = chat.find_account(slug)
    return account is not None and account_allows(account, origin)


class AccountOriginValidator:
    """`AllowedHostsOriginValidator`, widened for a chat socket by its own account's allowed origins."""

    def __init__(self, application) -> None:
        self.application = application
        self.hosts = AllowedHostsOriginValidator(application)

    async def __call__(self, scope, receive, send):
        origin = _header(scope, b"origin")
        if self.hosts.valid_origin(urlparse(origin) if origin else None) or (
            origin and await self._account_allows(scope.get("path", ""), origin)
        ):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)

    @staticmethod
    async def _account_allows(path: str, origin: str) -> bool:
        match = _SOCKET_PATH.match(path)
        return bool(match) and await database_sync_to_async(_origin_allowed_for_slug)(match["slug"], origin)

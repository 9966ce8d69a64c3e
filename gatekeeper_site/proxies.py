"""Headers that only the reverse proxies in `TRUSTED_PROXIES` may set.

A TLS proxy in front says with `X-Forwarded-Proto: https` that the visitor used https, and
Django believes it (`SECURE_PROXY_SSL_HEADER`): secure cookies, the https redirect and CSRF's
referer check all follow it. Anyone who reaches gunicorn or daphne directly could send the same
header, so `ForwardedHeadersMiddleware`, first in `MIDDLEWARE`, drops it (and `X-Forwarded-Host`)
from every peer that is not a trusted proxy. `X-Forwarded-For` is read, never believed blindly,
by `channels_app.webchat.addresses.client_address`, which this module shares for login limits.
"""

from __future__ import annotations

from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest

from channels_app.webchat.addresses import client_address, parse_address, trusted_networks

#: `request.META` keys a client could use to pass for the proxy.
PROXY_ONLY_HEADERS = ("HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")


def is_trusted_proxy(peer: str) -> bool:
    """Whether `peer` (the socket's address, as the server reports it) is one of `TRUSTED_PROXIES`."""
    ip = parse_address(peer or "")
    if ip is None:
        return False
    networks = trusted_networks(tuple(settings.TRUSTED_PROXIES))
    return any(ip.version == network.version and ip in network for network in networks)


def forget_untrusted_headers(request: HttpRequest) -> None:
    """Drop the proxy-only headers of a request that did not come from a trusted proxy."""
    if not is_trusted_proxy(request.META.get("REMOTE_ADDR", "")):
        for key in PROXY_ONLY_HEADERS:
            request.META.pop(key, None)


class ForwardedHeadersMiddleware:
    """`forget_untrusted_headers` before anything reads them; sync under gunicorn, async under daphne."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.async_mode:
            return self._acall(request)
        forget_untrusted_headers(request)
        return self.get_response(request)

    async def _acall(self, request: HttpRequest):
        forget_untrusted_headers(request)
        return await self.get_response(request)


def request_client_address(request: HttpRequest) -> str:
    """The client's address for login limits: the peer, or what a trusted proxy says it is."""
    return client_address(request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR"))

"""The address a web-chat visitor really writes from, when Gatekeeper runs behind reverse proxies.

Each proxy appends the address it was reached from to `X-Forwarded-For`, so the list reads left
to right from the visitor towards us, and anyone may write whatever they like at its left end.
Only entries appended by proxies we trust (`TRUSTED_PROXIES`, addresses or CIDR networks) can
be believed: walking from the right, the first address that is not a trusted proxy is the client.
A peer that is not a trusted proxy is the client itself, whatever header it sends.

This is our own reading of the header; the servers must not rewrite the peer first (daphne's
`--proxy-headers` would put the header's spoofable left-most entry in its place: see the Procfile).
"""

from __future__ import annotations

import ipaddress
import logging
from functools import lru_cache

from django.conf import settings

logger = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(peer: str, forwarded_for: str | None) -> str:
    """The visitor's address: `peer` unless it is a trusted proxy, else read from `forwarded_for`.

    Behind trusted proxies: the right-most `X-Forwarded-For` entry that is not itself a trusted
    proxy; garbage entries ("unknown", obfuscated names) are skipped. When every entry is a
    trusted proxy, the left-most of them (the visitor is on the proxies' own network); with no
    usable entry at all, the peer.
    """
    peer_ip = parse_address(peer)
    if peer_ip is None:
        return peer
    networks = trusted_networks(tuple(settings.TRUSTED_PROXIES))
    if not _trusted(peer_ip, networks):
        return str(peer_ip)
    hops = [ip for ip in map(parse_address, (forwarded_for or "").split(",")) if ip is not None]
    for ip in reversed(hops):
        if not _trusted(ip, networks):
            return str(ip)
    return str(hops[0] if hops else peer_ip)


def parse_address(text: str) -> Address | None:
    """One IP address as a proxy or server writes it (`1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]:80`).

    An IPv4 address mapped into IPv6 (a dual-stack socket's `::ffff:1.2.3.4`) is read as IPv4.
    Anything else, a name, "unknown" or a malformed address, is None.
    """
    text = text.strip()
    if text.startswith("["):  # [v6] or [v6]:port
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """`TRUSTED_PROXIES` as networks; an entry that is not an address or network trusts nothing."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip()))
        except ValueError:
            logger.error("TRUSTED_PROXIES entry %.60r is not an address or a network: ignored", entry)
    return tuple(networks)


def _trusted(ip: Address, networks: tuple[Network, ...]) -> bool:
    return any(ip.version == network.version and ip in network for network in networks)

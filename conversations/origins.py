"""Web origins as the chat's matcher compares them (`scheme://host[:port]`), and the owner's list checked.

The matcher (channels_app/webchat/origins.py) compares the browser's `Origin` header with each
account's `allowed_origins` after `normalize_origin`. What the owner types is checked strictly
(`clean_origins`): an entry the matcher would cut down or never match (a path, a wildcard, a
typo in the scheme) is refused with the reason, and what is kept is stored normalized.
"""

from __future__ import annotations

import ipaddress
import json
import re
from urllib.parse import urlsplit

#: Schemes a browser names in an `Origin` header for a site, with their default ports.
DEFAULT_PORTS = {"http": 80, "https": 443}

#: Most sites one chat account may allow.
MAX_ORIGINS = 100

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


class OriginError(ValueError):
    """Why a line is not an origin, in words for the owner."""


def normalize_origin(value: str) -> str | None:
    """`scheme://host[:port]` in lower case without a default port, or None when it is not an origin."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port and port != DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}:{port}"
    return f"{parts.scheme}://{host}"


def clean_origin(value: str) -> str:
    """The origin `value` names, normalized; OriginError saying why when it is not exactly an origin."""
    text = value.strip()
    if "*" in text:
        raise OriginError("wildcards are not supported; list each site")
    scheme, separator, _ = text.partition("://")
    if not separator or scheme.lower() not in DEFAULT_PORTS:
        raise OriginError("an origin starts with http:// or https://")
    if any(char.isspace() for char in text):
        raise OriginError("an origin has no spaces")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise OriginError("the port must be a number from 1 to 65535 (or a bracketed IPv6 address)") from None
    if "@" in parts.netloc:
        raise OriginError("an origin has no user name or password")
    if "?" in text:
        raise OriginError("an origin has no query")
    if "#" in text:
        raise OriginError("an origin has no fragment")
    if parts.path not in ("", "/"):
        raise OriginError("an origin has no path")
    if port == 0 or parts.netloc.endswith(":"):
        raise OriginError("the port must be a number from 1 to 65535")
    host = _host(parts.hostname or "")
    port_part = f":{port}" if port else ""
    normalized = normalize_origin(f"{parts.scheme}://{host}{port_part}")
    if normalized is None:  # pragma: no cover - every case above is refused first
        raise OriginError("not an origin")
    return normalized


def clean_origins(lines: list[str]) -> list[str]:
    """Every line cleaned, in the owner's order without repeats; ValueError listing each bad line."""
    kept: dict[str, None] = {}
    errors = []
    for line in (line.strip() for line in lines):
        if not line:
            continue
        try:
            kept[clean_origin(line)] = None
        except OriginError as error:
            errors.append(f"{line} — {error}")
    if errors:
        raise ValueError(errors)
    if len(kept) > MAX_ORIGINS:
        raise ValueError([f"At most {MAX_ORIGINS} sites."])
    return list(kept)


def origin_lines(value: object) -> list[str]:
    """The owner's entries: a list as stored, text one per line, or text holding a JSON list (the old box)."""
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    text = str(value or "")
    if text.strip().startswith("["):
        try:
            listed = json.loads(text)
        except ValueError:
            listed = None
        if isinstance(listed, list):
            return [str(item) for item in listed]
    return text.splitlines()


def _host(hostname: str) -> str:
    """The host as a browser writes it in `Origin`: lower case, an IDN in punycode, IPv6 bracketed."""
    if not hostname:
        raise OriginError("an origin names a host, e.g. https://shop.example")
    if ":" in hostname:
        try:
            return f"[{ipaddress.IPv6Address(hostname)}]"
        except ValueError:
            raise OriginError("not a valid IPv6 address") from None
    try:
        ascii_host = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise OriginError("not a valid host name") from None
    if len(ascii_host) > 253 or not all(_LABEL.fullmatch(label) for label in ascii_host.split(".")):
        raise OriginError("not a valid host name")
    return ascii_host

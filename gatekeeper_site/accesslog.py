"""Access logs without credentials: secret query parameters are written as `***`.

Some credentials arrive in URLs we do not control: Meta's webhook verification sends our
`hub.verify_token` in the query, and older web-chat clients send `?visitor_token=` (a bearer
credential valid for months). Both servers log each request's URL, so both go through here:
gunicorn with `--logger-class gatekeeper_site.accesslog.GunicornLogger` (see the Procfile) and
daphne started as `python -m gatekeeper_site.daphne_server`. A parameter is secret when its name,
percent-decoded and case-folded, contains one of `SECRET_NAME_PARTS`.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from gunicorn.glogging import Logger

REDACTED = "***"
#: A query parameter whose name contains one of these is never logged with its value.
SECRET_NAME_PARTS = ("token", "secret", "password", "passwd", "key", "signature")
#: Request headers gunicorn could log (`%({name}i)s` in a custom format) that carry credentials.
SECRET_HEADERS = frozenset(
    {"authorization", "cookie", "x-visitor-token", "sec-websocket-protocol", "x-hub-signature-256"}
)


def is_secret_parameter(name: str) -> bool:
    """Whether a query parameter of this (raw, possibly percent-encoded) name holds a credential."""
    decoded = unquote_plus(name).casefold()
    return any(part in decoded for part in SECRET_NAME_PARTS)


def redact_query(query: str) -> str:
    """The query string with the value of every secret parameter replaced by `***`."""
    if not query:
        return query
    pieces = []
    for pair in query.split("&"):
        # Django splits on `&` only; a `;` inside a value still shows in the log, so check it too.
        parts = []
        for piece in pair.split(";"):
            name, equals, _value = piece.partition("=")
            parts.append(f"{name}={REDACTED}" if equals and is_secret_parameter(name) else piece)
        pieces.append(";".join(parts))
    return "&".join(pieces)


def redact_url(url: str) -> str:
    """A path, URI or full URL with its secret query parameters redacted (the fragment too)."""
    if not url:
        return url
    head, question, rest = url.partition("?")
    if not question:
        return url
    query, hash_, fragment = rest.partition("#")
    return f"{head}?{redact_query(query)}{hash_}{redact_query(fragment) if hash_ else ''}"


def redact_request_line(line: str) -> str:
    """`GET /path?query HTTP/1.1` with its secret query parameters redacted."""
    method, space, rest = line.partition(" ")
    if not space:
        return redact_url(line)
    uri, space, protocol = rest.rpartition(" ")
    if not space:
        return f"{method} {redact_url(rest)}"
    return f"{method} {redact_url(uri)} {protocol}"


class GunicornLogger(Logger):
    """gunicorn's logger, with every URL it can put in the access log redacted."""

    #: Atoms of gunicorn's access log format besides `%(r)s` and `%(q)s` that may hold a URL.
    URL_ATOMS = ("f", "{raw_uri}e", "{http_referer}e", "{referer}i")

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["r"] = redact_request_line(str(atoms.get("r") or ""))
        atoms["q"] = redact_query(str(atoms.get("q") or ""))
        if isinstance(atoms.get("{query_string}e"), str):
            atoms["{query_string}e"] = redact_query(atoms["{query_string}e"])
        for key in self.URL_ATOMS:
            if isinstance(atoms.get(key), str):
                atoms[key] = redact_url(atoms[key])
        for key in list(atoms):
            if key.endswith("}i") and key[1:-2] in SECRET_HEADERS:
                atoms[key] = REDACTED
            elif key.endswith("}e") and key[1:-2].startswith("http_"):
                header = key[len("{http_") : -2].replace("_", "-")
                if header in SECRET_HEADERS:
                    atoms[key] = REDACTED
        return atoms

"""Making provider input storable: PostgreSQL refuses NUL characters in text and jsonb.

A signed delivery carrying "\\u0000" (valid JSON) would otherwise fail its transaction on every
retry, answered 503 for days, and hold back the other messages of its batch with it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from conversations.inbound import InboundBatch

#: What a NUL becomes: the Unicode replacement character, so the text still shows something was there.
REPLACEMENT = "\ufffd"

T = TypeVar("T")


def without_nul(value: T) -> T:
    """The value with NUL replaced in every string, inside dicts and lists too."""
    if isinstance(value, str):
        return value.replace("\x00", REPLACEMENT) if "\x00" in value else value  # type: ignore[return-value]
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}  # type: ignore[return-value]
    if isinstance(value, list | tuple):
        return type(value)(without_nul(item) for item in value)  # type: ignore[return-value]
    return value


def _scrubbed(item: Any) -> Any:
    """A frozen dataclass copy whose string and JSON fields hold no NUL."""
    changes = {
        f.name: without_nul(getattr(item, f.name))
        for f in dataclasses.fields(item)
        if isinstance(getattr(item, f.name), str | dict | list)
    }
    return dataclasses.replace(item, **changes)


def storable_batch(batch: InboundBatch) -> InboundBatch:
    """The batch with every message, status and error made storable."""
    return InboundBatch(
        messages=tuple(_scrubbed(m) for m in batch.messages),
        statuses=tuple(_scrubbed(s) for s in batch.statuses),
        errors=tuple(_scrubbed(e) for e in batch.errors),
    )

"""Making provider input storable: PostgreSQL refuses NUL in text and jsonb, and no database
can encode a lone UTF-16 surrogate.

A signed delivery carrying "\\u0000" or "\\ud800" (both valid JSON) would otherwise fail on
every retry, answered 5xx for days, and hold back the other messages of its batch with it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, TypeVar

from conversations.inbound import InboundBatch

#: What an unstorable character becomes: the replacement character, so the text shows something was there.
REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

T = TypeVar("T")


def storable_value(value: T) -> T:
    """The value with NUL and lone surrogates replaced in every string, inside dicts and lists too."""
    if isinstance(value, str):
        return _UNSTORABLE.sub(REPLACEMENT, value)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {storable_value(key): storable_value(item) for key, item in value.items()}  # type: ignore[return-value]
    if isinstance(value, list | tuple):
        return type(value)(storable_value(item) for item in value)  # type: ignore[return-value]
    return value


def _scrubbed(item: Any) -> Any:
    """A frozen dataclass copy whose string and JSON fields hold nothing unstorable."""
    changes = {
        f.name: storable_value(getattr(item, f.name))
        for f in dataclasses.fields(item)
        if isinstance(getattr(item, f.name), str | dict | list)
    }
    return dataclasses.replace(item, **changes)


def storable_batch(batch: InboundBatch) -> InboundBatch:
    """The batch with every item of every member (messages, statuses, errors, echoes...) made storable."""
    return dataclasses.replace(
        batch,
        **{
            f.name: tuple(_scrubbed(item) for item in getattr(batch, f.name))
            for f in dataclasses.fields(batch)
        },
    )

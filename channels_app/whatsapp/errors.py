"""Meta's error codes that the parser (status webhooks) and the sender (Graph responses) both read.

Named once here so a webhook's failed status and a refused send agree on what a code means;
the domain only ever sees the normalized flag (`window_closed`), never the number.
"""

from __future__ import annotations

#: More than 24 hours since the contact last wrote: only a template may go out now.
WINDOW_CLOSED_CODE = 131047


def closes_window(code: str | int | None) -> bool:
    """Whether an error code, as a webhook's string or the API's number, is the closed 24-hour window."""
    return code is not None and str(code).strip() == str(WINDOW_CLOSED_CODE)

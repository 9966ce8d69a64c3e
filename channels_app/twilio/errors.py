"""Twilio's error codes that the parser (status callbacks) and the sender (REST errors) both read.

Named once here so a status callback's ErrorCode and a refused send agree on what a code means;
the domain only ever sees the normalized flag (`window_closed`), never the number.
"""

from __future__ import annotations

#: Outside the 24-hour window: only a template may go out now.
WINDOW_CLOSED_CODE = 63016


def closes_window(code: str | int | None) -> bool:
    """Whether an error code, as a callback's string or the API's number, is the closed 24-hour window."""
    return code is not None and str(code).strip() == str(WINDOW_CLOSED_CODE)

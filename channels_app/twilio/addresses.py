"""Twilio's WhatsApp channel addresses (`whatsapp:+14155238886`) and the forms Gatekeeper stores them in.

A channel account keeps its number as `+E.164`; a contact keeps the bare digits, as Meta's
`wa_id` does, so one owner reaching the same company through Meta and Twilio has one contact.
"""

from __future__ import annotations

import re

WHATSAPP_PREFIX = "whatsapp:"
_NON_DIGITS = re.compile(r"\D")


def is_whatsapp(address: str) -> bool:
    """Whether a Twilio `From`/`To` names a WhatsApp user rather than an SMS number."""
    return address.strip().lower().startswith(WHATSAPP_PREFIX)


def digits(address: str) -> str:
    """The phone number's digits, without `whatsapp:`, `+` or separators: a contact's address."""
    number = address.strip()
    if number.lower().startswith(WHATSAPP_PREFIX):
        number = number[len(WHATSAPP_PREFIX) :]
    return _NON_DIGITS.sub("", number)


def e164(address: str) -> str:
    """`+` and the digits: how a Twilio channel account stores its number; "" when there are none."""
    number = digits(address)
    return f"+{number}" if number else ""


def whatsapp_address(number: str) -> str:
    """The channel address Twilio expects in `To` and `From`; "" when there is no number."""
    number = e164(number)
    return f"{WHATSAPP_PREFIX}{number}" if number else ""

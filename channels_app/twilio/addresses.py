"""Twilio's WhatsApp channel addresses (`whatsapp:+14155238886`) and the forms Gatekeeper stores them in.

A channel account keeps its number as `+E.164`; a contact keeps the bare digits, as Meta's
`wa_id` does, so one owner reaching the same company through Meta and Twilio has one contact
(`conversations.phones` reads both forms).
"""

from __future__ import annotations

from conversations.phones import e164

WHATSAPP_PREFIX = "whatsapp:"


def is_whatsapp(address: str) -> bool:
    """Whether a Twilio `From`/`To` names a WhatsApp user rather than an SMS number."""
    return address.strip().lower().startswith(WHATSAPP_PREFIX)


def whatsapp_address(number: str) -> str:
    """The channel address Twilio expects in `To` and `From`; "" when there is no number."""
    number = e164(number)
    return f"{WHATSAPP_PREFIX}{number}" if number else ""

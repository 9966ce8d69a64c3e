"""Guards: checks that run on every reply whatever the engine said.

Each returns findings naming the guard, its effect and the offending words, so the owner
sees exactly why a reply was held. They are plain functions of text, easy to test from tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

HOLD = "hold"  # never sent automatically; waits for the owner
ESCALATE = "escalate"  # the owner is told at once


@dataclass(frozen=True)
class Finding:
    guard: str
    effect: str
    words: tuple[str, ...]
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


_CODE_WORDS = r"(?:code|otp|pin|passcode|verification|one[- ]time|security number|token)"
_ONE_TIME_CODE = re.compile(
    rf"\b{_CODE_WORDS}\b[^\n\d]{{0,40}}?\b(\d[\d -]{{2,9}}\d)\b|\b(\d{{4,8}})\b[^\n\d]{{0,20}}?\b{_CODE_WORDS}\b",
    re.IGNORECASE,
)
_SIX_DIGITS = re.compile(r"(?<![\d.,])\d{6}(?![\d.,])")
_DIGIT_RUN = re.compile(r"(?<!\d)(?:\d[ -]?){12,30}\d(?!\d)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_ACCOUNT_NUMBER = re.compile(
    r"\b(?:account|acct|routing|sort code|iban|card)(?: number| no\.?| #)?\s*(?:is|:)?\s*([\d][\d -]{5,}\d)",
    re.IGNORECASE,
)
_PASSWORD = re.compile(
    r"\b(?:password|passphrase|passcode|pin)\b\s*(?:is|:|=)\s*(\S+)|\bmy (?:password|pin|passcode)\b",
    re.IGNORECASE,
)
_COMMITMENT = re.compile(
    r"\b(?:i|we)(?:'ll| will| would like to| want to| agree to| accept| confirm| authori[sz]e|'d like to)\b"
    r"[^.!?\n]{0,40}?\b(pay|purchase|buy|order|upgrade|downgrade|sign(?: up)?|subscribe|renew|cancel|terminate|"
    r"switch|change (?:my |the )?(?:plan|tariff|contract)|extend|enrol+|opt in|accept the offer)\b"
    r"|\b(?:yes|ok|okay|sure)[,!]?\s+(?:please\s+)?(?:go ahead|proceed|do it|sign me up|cancel|upgrade|confirm)\b"
    r"|\bi (?:agree|accept|consent)\b",
    re.IGNORECASE,
)
_CODE_REQUEST = re.compile(
    r"\b(?:send|give|tell|share|provide|confirm|read|forward|reply with)\b[^.?!\n]{0,40}?"
    r"\b(?:code|otp|pin|passcode|verification|one[- ]time password)\b"
    r"|\b(?:verification|security|confirmation|one[- ]time|otp|sms) (?:code|pin|password)\b[^.!\n]{0,40}\?"
    r"|\bwhat(?:'s| is) the (?:code|otp|pin)\b",
    re.IGNORECASE,
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def private_facts(reply: str, private_values: Iterable[str]) -> list[Finding]:
    """A private fact's value (or its digits, for numbers) appearing anywhere in the reply."""
    found = []
    text = _normalise(reply)
    reply_digits = re.sub(r"\D", "", reply)
    for value in private_values:
        needle = _normalise(value)
        if len(needle) < 3:
            continue
        digits = re.sub(r"\D", "", value)
        if needle in text or (
            len(digits) >= 4 and len(digits) >= len(needle) // 2 and digits in reply_digits
        ):
            found.append(
                Finding("private_fact", HOLD, (value,), "The reply contains something you marked private.")
            )
    return found


def secrets(reply: str) -> list[Finding]:
    """One-time codes, card or account numbers and passwords: never sent without the owner."""
    found = []
    codes = {next(g for g in match.groups() if g) for match in _ONE_TIME_CODE.finditer(reply)}
    codes |= {m.group(0) for m in _SIX_DIGITS.finditer(reply)}
    if codes:
        found.append(
            Finding("one_time_code", HOLD, tuple(sorted(codes)), "The reply contains what looks like a code.")
        )
    numbers = set()
    for match in _DIGIT_RUN.finditer(reply):
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and _luhn_ok(digits):
            numbers.add(match.group(0).strip())
    numbers |= {m.group(0) for m in _IBAN.finditer(reply)}
    numbers |= {m.group(1) for m in _ACCOUNT_NUMBER.finditer(reply)}
    if numbers:
        found.append(
            Finding(
                "card_or_account_number",
                HOLD,
                tuple(sorted(numbers)),
                "The reply contains a card or account number.",
            )
        )
    passwords = [m.group(0) for m in _PASSWORD.finditer(reply)]
    if passwords:
        found.append(Finding("password", HOLD, tuple(passwords), "The reply mentions a password or PIN."))
    return found


def commitments(reply: str) -> list[Finding]:
    """Agreeing to pay, buy, sign, cancel or change a plan commits the owner: needs approval."""
    words = tuple(m.group(0) for m in _COMMITMENT.finditer(reply))
    if not words:
        return []
    return [Finding("commitment", HOLD, words, "The reply would commit you to something.")]


def code_requests(inbound_texts: Iterable[str]) -> list[Finding]:
    """A provider asking for a verification code is how account takeovers start: escalate."""
    words = tuple(m.group(0) for text in inbound_texts for m in _CODE_REQUEST.finditer(text))
    if not words:
        return []
    return [Finding("code_request", ESCALATE, words, "The provider asks for a verification code.")]


def check_reply(reply: str, *, inbound_texts: Iterable[str], private_values: Iterable[str]) -> list[Finding]:
    """Every guard, on one reply and the inbound messages it answers."""
    return [
        *private_facts(reply, private_values),
        *secrets(reply),
        *commitments(reply),
        *code_requests(inbound_texts),
    ]

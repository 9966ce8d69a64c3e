"""Phone numbers: how Gatekeeper recognises, compares and stores them, and checks the owner's own.

A phone number is written with digits and the usual separators ("+44 7700 900123",
"(415) 523-8886", "whatsapp:+14155238886", "tel:+1..."). Anything else is not one and its digits
are never read as a number: a WhatsApp user id such as `US.1234` (conversations/identity.py:
`US.1234` and `IN.1234` are two people), a group or web-chat address, a name. Contacts keep the
bare digits (as Meta's `wa_id`), channel accounts and `<Dial>` the E.164 form `+<digits>`.

Recognising and comparing run on every message and stay plain string work. The `phonenumbers`
library (libphonenumber's metadata) is used where a person types their own number, to say what
is wrong with it: it knows each country's code and number lengths.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

#: Prefixes that name the channel, not the number.
_SCHEMES = ("whatsapp:", "tel:")
#: Digits and separators, optionally after "+": the shape of a written phone number.
_SHAPE = re.compile(r"\+?[\d\s().\-/]+")
#: Fewer digits than this is a short code or a withheld caller; more is not a phone number.
MIN_DIGITS = 5
MAX_DIGITS = 20

#: What an owner is asked to type.
EXAMPLE = "+44 7700 900123"


def _bare(value: str) -> str:
    number = (value or "").strip()
    for scheme in _SCHEMES:
        if number.lower().startswith(scheme):
            return number[len(scheme) :].strip()
    return number


def digits(value: str) -> str:
    """The digits of a phone number however it is written; "" for anything that is not one."""
    number = _bare(value)
    if not _SHAPE.fullmatch(number):
        return ""
    found = re.sub(r"\D", "", number)
    return found if MIN_DIGITS <= len(found) <= MAX_DIGITS else ""


def e164(value: str) -> str:
    """`+` and the digits (`+14155238886`), how channel accounts and `<Dial>` take a number; "" if none."""
    number = digits(value)
    return f"+{number}" if number else ""


def same_number(one: str, other: str) -> bool:
    """Whether two written numbers are the same phone number: digit by digit, where WhatsApp's
    short forms of a mobile count as the number itself (`_whatsapp_long_form`)."""
    number = digits(one)
    return bool(number) and _whatsapp_long_form(number) == _whatsapp_long_form(digits(other))


def _whatsapp_long_form(number: str) -> str:
    """A mobile as dialled today, where WhatsApp may still give its older, shorter form.

    WhatsApp ids of mobiles registered before a national change keep the old digits: Brazil's
    without the ninth digit (55 11 8888-7777 for 55 11 98888-7777, only the mobile ranges 6-9
    got it), Mexico's without the 1 after 52 (dropped in 2019), Argentina's without the 9 that
    marks a mobile after 54. Each pair is one line, so an owner who typed one form is recognised
    writing from the other, and a rule's sender matches both; no other person can hold the other form.
    """
    if len(number) == 12:
        if number.startswith("55") and number[4] in "6789":
            return f"{number[:4]}9{number[4:]}"
        if number.startswith("52"):
            return f"521{number[2:]}"
        if number.startswith("54"):
            return f"549{number[2:]}"
    return number


def owner_number(value: str) -> str:
    """A number the owner typed for themselves, as E.164 ("" when left empty).

    Refused with the reason when it cannot be dialled: no country code, a country code that does
    not exist, too few or too many digits for that country, an extension. Whether a number is
    assigned is not asked (`is_valid_number`): that metadata lags new ranges and refuses the
    numbers set aside for fiction and tests (+44 7700 900xxx), so only the length is checked.
    """
    import phonenumbers  # about 0.2 s and 1.4 MB to import: only where an owner types a number

    number = _bare(value)
    if not number:
        return ""
    if number.startswith("00"):
        number = "+" + number[2:]
    if not number.startswith("+"):
        raise ValidationError(f"Start with + and the country code, e.g. {EXAMPLE}.", code="no_country_code")
    if not _SHAPE.fullmatch(number):
        raise ValidationError(f"Write only digits after the +, e.g. {EXAMPLE}.", code="not_a_number")
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise ValidationError("That is not a country code.", code="country_code") from None
        raise ValidationError(f"That is not a phone number, e.g. {EXAMPLE}.", code="not_a_number") from None
    country = f"+{parsed.country_code}"
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason == phonenumbers.ValidationResult.INVALID_COUNTRY_CODE:
        raise ValidationError(f"{country} is not a country code.", code="country_code")
    if reason in (
        phonenumbers.ValidationResult.TOO_SHORT,
        phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ):
        raise ValidationError(f"Too few digits for a {country} number.", code="too_short")
    if reason == phonenumbers.ValidationResult.TOO_LONG:
        raise ValidationError(f"Too many digits for a {country} number.", code="too_long")
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise ValidationError(f"No {country} number has that many digits.", code="length")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

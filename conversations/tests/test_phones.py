"""Phone numbers: recognised however they are written, never read out of a user id; the owner's checked."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from conversations.owner_phone import is_owner_number
from conversations.phones import digits, e164, owner_number, same_number
from conversations.trust.senders import sender_matches


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("+44 7700 900123", "447700900123"),
        ("whatsapp:+1 (415) 523-8886", "14155238886"),
        ("tel:+55.11.98888.7777", "5511988887777"),
        ("447700900123", "447700900123"),
        ("US.1234", ""),
        ("whatsapp:US.13491208655302741918", ""),
        ("group:120363025000000000", ""),
        ("webchat:3f2a", ""),
        ("Acme Mobile", ""),
        ("1234", ""),  # a short code, not anyone's number
        ("", ""),
    ],
)
def test_a_number_is_read_however_it_is_written_and_nothing_else_is(written, expected):
    assert digits(written) == expected
    assert e164(written) == (f"+{expected}" if expected else "")


def test_a_user_id_is_never_the_number_its_digits_spell():
    assert not same_number("US.447700900123", "+44 7700 900123")
    assert not is_owner_number("+44 7700 900123", "US.447700900123")
    assert not sender_matches("+44 7700 900123", ["US.447700900123"])
    assert is_owner_number("+44 7700 900123", "whatsapp:+447700900123")


@pytest.mark.parametrize(
    ("typed", "whatsapp_id"),
    [
        ("+55 11 98888-7777", "551188887777"),  # Brazil: the ninth digit WhatsApp ids may lack
        ("+52 55 1234 5678", "5215512345678"),  # Mexico: the 1 WhatsApp ids may keep
        ("+54 9 11 2345-6789", "541123456789"),  # Argentina: the mobile's 9
        ("+54 11 2345-6789", "5491123456789"),
    ],
)
def test_the_owner_is_recognised_in_either_form_whatsapp_gives_their_mobile(typed, whatsapp_id):
    assert is_owner_number(typed, whatsapp_id)
    assert is_owner_number(f"+{whatsapp_id}", digits(typed))
    assert sender_matches(typed, [whatsapp_id])


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("+55 11 3333-4444", "5511933334444"),  # a Brazilian landline is not the mobile with a 9 before it
        ("+55 11 98888-7777", "5511988887778"),
        ("+44 7700 900123", "4497700900123"),  # only the countries that changed
        ("+1 415 523 8886", "114155238886"),
        ("+52 55 1234 5678", "5225512345678"),
    ],
)
def test_other_numbers_stay_other_numbers(one, other):
    assert not same_number(one, other)
    assert not is_owner_number(one, other)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("+44 7700 900123", "+447700900123"),
        ("0044 7700 900123", "+447700900123"),
        ("whatsapp:+55 11 98888-7777", "+5511988887777"),
        ("+1 (415) 523-8886", "+14155238886"),
        ("", ""),
    ],
)
def test_the_owners_number_is_stored_in_e164(typed, stored):
    assert owner_number(typed) == stored


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("07700 900123", "Start with + and the country code"),
        ("+999 1234567", "not a country code"),
        ("+1 415 523 888", "Too few digits for a +1 number"),
        ("+1 415 523 8886 1234", "Too many digits for a +1 number"),
        ("+44 7700 900123 ext 5", "Write only digits"),
        ("US.1234", "Start with + and the country code"),
        ("+ ()", "not a phone number"),
    ],
)
def test_a_number_that_cannot_be_dialled_is_refused_with_the_reason(typed, reason):
    with pytest.raises(ValidationError) as refused:
        owner_number(typed)
    assert reason in refused.value.messages[0]

"""Every disguise the checks must see through, read back to what a person would read."""

from __future__ import annotations

import pytest

from conversations.trust.normalize import decoded_tokens, fold, join_digits, normalize


@pytest.mark.parametrize(
    ("written", "digits"),
    [
        ("4 8 2 9 1 3", "482913"),
        ("482\n913", "482913"),
        ("48-29-13", "482913"),
        ("48.29.13", "482913"),
        ("48/29/13", "482913"),
        ("48–29–13", "482913"),  # en dashes
        ("4\u200b8\u200b2\u200b9\u200b1\u200b3", "482913"),  # zero-width spaces
        ("4\u00ad8\u20602\ufeff9", "4829"),  # soft hyphen, word joiner, BOM
        ("４８２９１３", "482913"),  # full-width
        ("٤٨٢٩١٣", "482913"),  # Arabic-Indic
        ("४८२९१३", "482913"),  # Devanagari
        ("four eight two nine one three", "482913"),
        ("forty-eight twenty-nine thirteen", "482913"),
        ("four hundred eighty-two thousand nine hundred thirteen", "482913"),
        ("cuatro ocho dos nueve uno tres", "482913"),
        ("quatre huit deux neuf un trois", "482913"),
        ("vier acht zwei neun eins drei", "482913"),
        ("quatro oito dois nove um três", "482913"),
        ("quattro otto due nove uno tre", "482913"),
        ("4 eight 2 nine 1 three", "482913"),
        ("NDgyOTEz", "482913"),  # base64
        ("343832393133", "482913"),  # hex of the ASCII digits
    ],
)
def test_a_code_is_read_as_its_digits_however_it_is_written(written, digits):
    assert digits in normalize(f"The code is {written} ok").digit_runs()


@pytest.mark.parametrize(
    "text",
    [
        "Please call after 5 pm",
        "two or three days",
        "Between 9 and 5, Monday to Friday",
        "I have one question about the bill",
        "Thanks, noted",
        "Grazie mille per l'aggiornamento!",
        "Volto em meia hora",
    ],
)
def test_ordinary_text_has_no_identifier(text):
    assert normalize(text).digit_runs() == []


@pytest.mark.parametrize(
    ("written", "plain"),
    [
        ("12 Εlm St", "12 elm st"),  # Greek capital epsilon
        ("Сode", "code"),  # Cyrillic capital es
        ("ｃｏｄｅ", "code"),  # full-width letters
        ("Sí, acepto", "si, acepto"),
        ("Straße", "strasse"),
        ("c\u200bo\u200bd\u200be", "code"),
    ],
)
def test_lookalikes_accents_and_invisible_characters_fold_to_plain_latin(written, plain):
    assert fold(written) == plain


@pytest.mark.parametrize(
    ("written", "word"), [("c o d e", "code"), ("c-o-d-e", "code"), ("c0de", "code"), ("p1n", "pin")]
)
def test_spelled_and_leetspeak_words_are_read_as_words(written, word):
    assert any(word in reading for reading in normalize(f"send the {written} now").words)


def test_split_digits_join_but_words_between_numbers_keep_them_apart():
    assert join_digits("48 29 13") == "482913"
    assert join_digits("9 to 5") == "9 to 5"


def test_only_readable_payloads_are_decoded():
    assert decoded_tokens("aGVsbG8gd29ybGQ=") == ["hello world"]
    assert decoded_tokens("tomorrow whatsapp provider") == []

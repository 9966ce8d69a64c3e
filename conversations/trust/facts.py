"""Finding a private fact in a reply however it is written: loosely, after normalization.

"12 Elm St., Springfield" is found as "twelve Elm Street", "(12 Elm St)" or "12 Elm" written with a Greek E;
"1984-03-17" as "17 March", "le 17 mars 1984" or "March '84 ... the 17th". Three ways to match,
each a class rule rather than a case: the value's letters and digits in a row, two neighbouring
words of the value (a word may stand abbreviated: St/Street, Blvd/Boulevard, Str./Straße), and,
for a date, two of its day, month and year written together in any format or language.
Month names come from CLDR through Babel, in the six languages the checks read.
"""

from __future__ import annotations

import datetime
import itertools
import re
from collections.abc import Iterable
from functools import cache

from babel.dates import get_month_names

from conversations.trust.lexicon import EMAIL_SPELLING
from conversations.trust.normalize import LANGUAGES, Normalized, fold, normalize

_TOKEN = re.compile(r"[a-z]+|[0-9]+")
#: Shorter than this, a run of letters and digits is too common to call a match.
_MIN_RUN = 5
#: Words shorter than this match only beside another word of the value.
_MIN_DISTINCT_WORD = 4
#: How far apart a month and its day or year may stand: "17 de marzo de 1984", "March the 17th, 1984".
_DATE_WINDOW = 4


@cache
def _months() -> dict[str, int]:
    """Every month name and abbreviation of the six languages, folded, to its number."""
    names: dict[str, int] = {}
    for language in LANGUAGES:
        for width in ("wide", "abbreviated"):
            for context in ("format", "stand-alone"):
                for number, name in get_month_names(width, context, locale=language).items():
                    folded = fold(name).rstrip(".")
                    if len(folded) >= 3:
                        names[folded] = number
    return names


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _abbreviates(short: str, long: str) -> bool:
    """St/street, blvd/boulevard, str/strasse, av/avenida: same first letter, letters in order."""
    if short == long:
        return True
    if len(short) >= 4 and long.startswith(short):  # Hauptstr. for Hauptstrasse
        return True
    if len(short) >= len(long) or len(short) > 4 or short[0] != long[0] or not short.isalpha():
        return False
    position = 0
    for char in short:
        position = long.find(char, position) + 1
        if position == 0:
            return False
    return True


def _same_word(a: str, b: str) -> bool:
    if a.isdigit() or b.isdigit():
        return a.lstrip("0") == b.lstrip("0") and a.isdigit() and b.isdigit()
    return a == b or _abbreviates(a, b) or _abbreviates(b, a)


def _distinctive(*words: str) -> bool:
    return any(len(word) >= _MIN_DISTINCT_WORD or any(char.isdigit() for char in word) for word in words)


def _skeleton(text: str) -> str:
    """Letters and digits only, with the spoken "at" and "dot" of an email address left out."""
    return "".join(word for word in _tokens(text) if not EMAIL_SPELLING.regex.fullmatch(word))


def _word_match(value_words: list[str], reply_words: list[str]) -> bool:
    if len(value_words) == 1:
        word = value_words[0]
        return _distinctive(word) and len(word) >= 3 and any(_same_word(word, w) for w in reply_words)
    for first, second in itertools.pairwise(value_words):
        for a, b in itertools.pairwise(reply_words):
            if _same_word(first, a) and _same_word(second, b) and _distinctive(first, second, a, b):
                return True
    return False


def _dates_in(words: list[str]) -> set[tuple[int | None, int, int | None]]:
    """(year, month, day) read around each month name; year or day None when not written nearby."""
    months = _months()
    found = set()
    for index, word in enumerate(words):
        month = months.get(word)
        if month is None:
            continue
        near = words[max(0, index - _DATE_WINDOW) : index + _DATE_WINDOW + 1]
        numbers = [int(w) for w in near if w.isdigit() and len(w) <= 4]
        days = [n for n in numbers if 1 <= n <= 31] or [None]
        years = [n for n in numbers if n > 31 or len(str(n)) == 4] or [None]
        found.update((year, month, day) for year in years for day in days)
    return found


_NUMERIC_DATE = re.compile(r"(?<!\d)(\d{1,4})\s*[./\-\s]\s*(\d{1,2})(?:\s*[./\-\s]\s*(\d{2,4}))?(?!\d)")


def _numeric_dates(text: str) -> set[tuple[int | None, int, int | None]]:
    """Dates written in digits, read in every order a reader might: d/m/y, m/d/y and y-m-d."""
    found = set()
    for match in _NUMERIC_DATE.finditer(text):
        a, b, c = (int(g) if g else None for g in match.groups())
        if a is not None and a > 31:
            found.add((a, b, c))  # year first
            continue
        for day, month in ((a, b), (b, a)):
            if 1 <= month <= 12 and day and 1 <= day <= 31:
                found.add((c, month, day))
    return found


def _value_dates(value: Normalized) -> set[datetime.date]:
    """The dates a fact's value spells out completely (day, month and year)."""
    dates = set()
    for reading in value.numbers:
        candidates = _numeric_dates(reading) | _dates_in(_tokens(reading))
        for year, month, day in candidates:
            if year is None or day is None:
                continue
            year = year + 1900 if year < 100 and year > 30 else year + 2000 if year < 100 else year
            try:
                dates.add(datetime.date(year, month, day))
            except ValueError:
                continue
    return dates


def _date_match(dates: set[datetime.date], reply: Normalized) -> bool:
    for reading in reply.numbers:
        written = _numeric_dates(reading) | _dates_in(_tokens(reading))
        for year, month, day in written:
            for date in dates:
                if month != date.month:
                    continue
                same_year = year is not None and year in (date.year, date.year % 100)
                if (day is not None and day == date.day) or same_year:
                    return True
    return False


def leaked(reply: Normalized, values: Iterable[str]) -> list[str]:
    """The values found in the reply, each as the owner stored it."""
    found = []
    reply_skeletons = {_skeleton(reading) for reading in (*reply.words, *reply.joined)}
    reply_words = [_tokens(reading) for reading in (*reply.words, *reply.numbers)]
    for value in values:
        if any(_found(reply_skeletons, reply_words, reply, spelling) for spelling in _spellings(value)):
            found.append(value)
    return found


_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def _spellings(value: str) -> list[str]:
    """The value as stored, and with German umlauts written out (Jürgen is also Juergen)."""
    return list(dict.fromkeys([value, value.translate(_UMLAUTS)]))


def _found(reply_skeletons: set[str], reply_words: list[list[str]], reply: Normalized, value: str) -> bool:
    normalized = normalize(value, decode=False)
    if len(normalized.plain) < 3:
        return False
    skeletons = {_skeleton(reading) for reading in (*normalized.words, *normalized.joined)}
    if any(len(s) >= _MIN_RUN and any(s in r for r in reply_skeletons) for s in skeletons):
        return True
    value_words = [_tokens(reading) for reading in normalized.numbers]
    if any(_word_match(v, r) for v in value_words if v for r in reply_words):
        return True
    dates = _value_dates(normalized)
    return bool(dates) and _date_match(dates, reply)

"""One reading of a text for every trust check, so that no disguise changes what the checks see.

A reply can hide a code or a private fact from a naive check in many ways: lookalike letters
from other scripts, zero-width characters between digits, digits of other scripts, number
words, digits split by spaces or line breaks, letters spelled one by one, leetspeak, base64 or
hex. `normalize` undoes each and returns every reading the checks must look at.

Libraries: `confusable-homoglyphs` carries Unicode's confusables table (UTS #39), and
`text2num` reads number words in English, Spanish, French, German, Portuguese and Italian.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import cache, cached_property

from confusable_homoglyphs.confusables import confusables_data
from text_to_num import alpha2digit

logger = logging.getLogger(__name__)

#: The languages whose number words are read as digits (text2num's codes).
LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de", "pt", "it")

#: What may sit between the pieces of one number written apart ("48 29 13", "482\n913", "48-29-13").
_DIGIT_GAP = re.compile(r"(?<=\d)[\s.\-/,_()\[\]·•|:+*#~]{1,3}(?=\d)")
#: Letters spelled out one at a time: "c o d e", "c-o-d-e", "c.o.d.e".
_SPELLED = re.compile(r"(?<!\w)\w([ .\-_*·])(?:\w\1)+\w(?!\w)")
#: "double five", "triple two": English for a digit said twice or three times.
_REPEATED = re.compile(r"\b(double|triple)[ -](\w+)")
#: Letters that stand for digits inside a run of digits: "7l9O38" is 719038.
_DIGIT_LOOKALIKES = str.maketrans({"o": "0", "l": "1", "i": "1", "s": "5", "b": "8", "z": "2", "g": "9"})
_MOSTLY_DIGITS = re.compile(r"\b(?=(?:\w*\d){3})\w{4,}\b")
_BASE64_TOKEN = re.compile(r"(?<![\w+/=])[A-Za-z0-9+/_-]{8,}={0,2}(?![\w+/=])")
_HEX_TOKEN = re.compile(r"(?<![0-9A-Za-z])(?:0x)?((?:[0-9A-Fa-f]{2}){4,})(?![0-9A-Za-z])")
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s"}
)
_LEET_TOKEN = re.compile(r"\b(?=\w*[a-z])(?=\w*[0-9])\w+\b|\S*[@$]\S*")
_SPACES = re.compile(r"[^\S\n]+")
_LINES = re.compile(r"\s*\n\s*")


@cache
def _fold_table() -> dict[int, str]:
    """Every character Unicode lists as confusable with one ASCII letter or digit, mapped to it."""
    table: dict[int, str] = {}
    for char, glyphs in confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        wanted = str.isdigit if unicodedata.category(char) == "Nd" else str.isalpha
        ascii_glyphs = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalnum()]
        preferred = [c for c in ascii_glyphs if wanted(c)] or ascii_glyphs
        if preferred:
            table[ord(char)] = preferred[0]
    return table


def _map_characters(text: str) -> str:
    """Digits of any script to ASCII, lookalike letters to Latin, format characters dropped."""
    out = []
    table = _fold_table()
    for char in text:
        category = unicodedata.category(char)
        if category == "Cf":  # zero-width and other invisible format characters
            continue
        if category == "Pd":  # en and em dashes, minus signs: one dash
            out.append("-")
        elif category == "Nd":
            out.append(str(unicodedata.decimal(char)))
        elif ord(char) in table:
            out.append(table[ord(char)])
        else:
            out.append(char)
    return "".join(out)


def _strip_marks(text: str) -> str:
    """Accents and any combining marks (which can also hide between digits) removed."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _tidy(text: str) -> str:
    return _LINES.sub("\n", _SPACES.sub(" ", text)).strip()


def fold(text: str) -> str:
    """The plain reading: NFKC, no format characters, Latin lookalikes, ASCII digits, no accents, casefolded."""
    return _tidy(_strip_marks(_map_characters(unicodedata.normalize("NFKC", text)).casefold()))


def join_digits(text: str) -> str:
    """Digits split by spaces, dots, dashes, slashes or line breaks written as one number."""
    return _DIGIT_GAP.sub("", text)


#: Said before any number words are read: idioms that are not numbers ("grazie mille"), and the
#: Brazilian "meia" (half a dozen) for six in a phone number.
_IDIOMS = re.compile(r"\b(?:grazie mille|mille grazie|merci mille fois|mil gracias|mil veces|tausend dank)\b")
_PT_DIGIT_WORDS = frozenset(["zero", "um", "uma", "dois", "duas", "tres", "três", "quatro", "cinco", "seis"])
_PT_DIGIT_WORDS |= {"sete", "oito", "nove", "meia"}


def _portuguese_meia(text: str) -> str:
    """ "três meia meia" is 3 6 6: meia for six only beside other digit words."""
    words = text.split(" ")
    for index, word in enumerate(words):
        neighbours = words[max(0, index - 1) : index] + words[index + 1 : index + 2]
        if word == "meia" and any(n.strip(".,") in _PT_DIGIT_WORDS for n in neighbours):
            words[index] = "seis"
    return " ".join(words)


_BEFORE_READING = {"pt": _portuguese_meia}


def _number_words(casefolded: str) -> list[str]:
    """The text once per language with that language's number words read as digits."""
    readings = []
    casefolded = _IDIOMS.sub(" ", casefolded)
    for language in LANGUAGES:
        text = casefolded
        if language in _BEFORE_READING:
            text = _BEFORE_READING[language](text)
        try:
            converted = alpha2digit(text, language, threshold=0)
        except Exception as exc:  # the other readings still stand
            logger.warning("text2num could not read %s number words: %s", language, exc)
            continue
        if converted != casefolded:
            readings.append(converted)
    return readings


def _printable(data: bytes) -> str | None:
    """The bytes as text when they are mostly readable UTF-8, else None."""
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not decoded or sum(char.isprintable() or char.isspace() for char in decoded) < 0.9 * len(decoded):
        return None
    return decoded


def decoded_tokens(text: str) -> list[str]:
    """Whatever base64- or hex-looking tokens of the text decode to, when it is readable."""
    found = []
    for match in _HEX_TOKEN.finditer(text):
        token = match.group(1)
        if token.isdigit() and len(token) < 8:
            continue
        decoded = _printable(binascii.unhexlify(token))
        if decoded:
            found.append(decoded)
    for match in _BASE64_TOKEN.finditer(text):
        token = match.group(0)
        padded = token + "=" * (-len(token.rstrip("=")) % 4)
        for decoder in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                decoded = _printable(decoder(padded))
            except (binascii.Error, ValueError):
                continue
            if decoded:
                found.append(decoded)
                break
    return found


def _spelled_joined(text: str) -> str:
    return _SPELLED.sub(lambda m: m.group(0).replace(m.group(1), ""), text)


def _said_repeated(text: str) -> str:
    return _REPEATED.sub(lambda m: " ".join([m.group(2)] * (2 if m.group(1) == "double" else 3)), text)


def _digits_from_lookalikes(text: str) -> str:
    return _MOSTLY_DIGITS.sub(lambda m: m.group(0).translate(_DIGIT_LOOKALIKES), text)


def _unleet(text: str) -> str:
    return _LEET_TOKEN.sub(lambda m: m.group(0).translate(_LEET), text)


@dataclass(frozen=True)
class Normalized:
    """Every reading of one text: `plain` for showing, `words` for word checks, `numbers` for digit checks."""

    original: str
    plain: str
    words: tuple[str, ...]
    numbers: tuple[str, ...]

    @cached_property
    def joined(self) -> tuple[str, ...]:
        """The number readings with split digits joined."""
        return tuple(dict.fromkeys(join_digits(reading) for reading in self.numbers))

    def digit_runs(self, minimum: int = 4) -> list[str]:
        """Every run of at least `minimum` digits in any reading, longest first."""
        runs = {run for reading in self.joined for run in re.findall(rf"\d{{{minimum},}}", reading)}
        return sorted(runs, key=lambda run: (-len(run), run))


def normalize(text: str, *, decode: bool = True) -> Normalized:
    """All readings of `text`; base64/hex tokens are decoded once (not recursively)."""
    text = text or ""
    nfkc = unicodedata.normalize("NFKC", text)
    casefolded = _map_characters(nfkc).casefold()
    plain = _tidy(_strip_marks(casefolded))
    spoken = _said_repeated(casefolded)
    # Number words joined by hyphens ("four-eight-two") are read one by one as well.
    said = [spoken, re.sub(r"(?<=\w)-(?=\w)", " ", spoken)]
    numbers = [
        plain,
        _digits_from_lookalikes(plain),
        *(_tidy(_strip_marks(reading)) for text in dict.fromkeys(said) for reading in _number_words(text)),
    ]
    spelled = _spelled_joined(plain)
    words = [plain, spelled, _unleet(spelled)]
    if decode:
        for decoded in decoded_tokens(_map_characters(nfkc)):
            inner = normalize(decoded, decode=False)
            words.extend(inner.words)
            numbers.extend(inner.numbers)
    return Normalized(
        original=text,
        plain=plain,
        words=tuple(dict.fromkeys(words)),
        numbers=tuple(dict.fromkeys(numbers)),
    )

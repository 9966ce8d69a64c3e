"""The held classes: what an automatic reply may never carry, and the requests that need the owner.

Each check reads every normalized reading of the text (see `normalize`) and returns findings
naming the class, its effect and the words that fired, so the owner sees exactly why a reply
waits. The checks are default-deny: when a reading could be one of these, the reply is held.
Text the owner wrote or approved never passes through here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from conversations.trust import facts, lexicon
from conversations.trust.normalize import Normalized, normalize

HOLD = "hold"  # never sent automatically; waits for the owner
ESCALATE = "escalate"  # the owner is told at once

IDENTIFIER = "identifier"
PRIVATE_FACT = "private_fact"
CREDENTIAL = "credential"
MONEY = "money"
COMMITMENT = "commitment"
CODE_REQUEST = "code_request"

#: The shortest run of digits that is an identifier: PINs have four.
IDENTIFIER_DIGITS = 4
#: How many words before an act a "not" still governs it: "do not want to cancel".
NEGATION_REACH = 3
#: How many words before an act a topic word makes it a topic: "about the upgrade offer".
TOPIC_REACH = 3
#: How many words apart a secret and the request for it may stand in one sentence.
REQUEST_REACH = 8


@dataclass(frozen=True)
class Finding:
    guard: str
    effect: str
    words: tuple[str, ...]
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


def identifiers(reply: Normalized) -> list[Finding]:
    """Any run of four or more digits, in any reading: codes, PINs, card, account and phone numbers."""
    runs = reply.digit_runs(IDENTIFIER_DIGITS)
    if not runs:
        return []
    return [
        Finding(
            IDENTIFIER,
            HOLD,
            tuple(runs),
            "The reply contains a number of four or more digits (a code, PIN, card, account or phone number).",
        )
    ]


def private_facts(reply: Normalized, private_values: Iterable[str]) -> list[Finding]:
    """A private fact's value, matched loosely (abbreviations, any date format, numbers in words)."""
    values = facts.leaked(reply, private_values)
    if not values:
        return []
    return [Finding(PRIVATE_FACT, HOLD, tuple(values), "The reply contains something you marked private.")]


_WORD = re.compile(r"\S+")
_VALUE_NOT_GIVEN = lexicon.Terms(
    "not|never|private|secret|confidential|something|anything|nothing|only|personal|sensitive|no|none",
    "no|nunca|privad*|secret*|confidencial|algo|nada|nao|non|pas|jamais|nicht|nie|kein*|mai|niente|prive*",
)


def credentials(reply: Normalized) -> list[Finding]:
    """A password, passcode, PIN or security answer given as a value: "pw: hunter2", "my PIN is 0000"."""
    found = []
    for reading in reply.words:
        for match in lexicon.CREDENTIAL.find(reading):
            rest = reading[match.end() :]
            introducer = lexicon.VALUE_INTRODUCER.match(rest)
            following = _WORD.findall(rest[introducer.end() :] if introducer else rest)
            value = following[0].strip(".,;!?\"'()") if following else ""
            if not value or _VALUE_NOT_GIVEN.regex.fullmatch(value):
                continue
            if introducer or any(char.isdigit() for char in value):
                found.append(f"{match.group(0)} {value}")
    if not found:
        return []
    return [
        Finding(
            CREDENTIAL,
            HOLD,
            tuple(dict.fromkeys(found)),
            "The reply gives a password, PIN or security answer.",
        )
    ]


def _is_currency_symbol(char: str) -> bool:
    return unicodedata.category(char) == "Sc"


_AMOUNT = re.compile(r"\d+(?:[.,]\d+)*")
_DECIMAL_AMOUNT = re.compile(r"(?<![\d.,])\d{1,3}(?:[.,]\d{3})*[.,]\d{2}(?![\d.,])")


def money(reply: Normalized) -> list[Finding]:
    """An amount (a number beside a currency) or a percentage, however the number is written."""
    found = []
    for reading in reply.numbers:
        for match in _AMOUNT.finditer(reading):
            before = reading[max(0, match.start() - 6) : match.start()]
            after = reading[match.end() : match.end() + 14]
            near_words = f"{before} {after}"
            if (
                any(_is_currency_symbol(char) for char in before[-3:] + after[:3])
                or after.lstrip().startswith("%")
                or lexicon.CURRENCY.search(" ".join(near_words.split()[-2:] + after.split()[:1]))
                or lexicon.PERCENT.regex.match(after.lstrip())
            ):
                found.append(match.group(0))
        found += _DECIMAL_AMOUNT.findall(reading)
    if not found:
        return []
    return [
        Finding(
            MONEY, HOLD, tuple(dict.fromkeys(found)), "The reply states an amount of money or a percentage."
        )
    ]


# ---- commitments --------------------------------------------------------------------------------

_CLAUSE_END = re.compile(r"[.!?;:\n,()\"“”«»]+|\s-\s")


@dataclass(frozen=True)
class _Clause:
    text: str
    question: bool
    first: bool  # the first clause of its sentence


def _clauses(text: str) -> list[_Clause]:
    """Clauses split at punctuation and at conjunctions: "no, but go ahead" is two decisions."""
    clauses = []
    position, first = 0, True
    for match in [*_CLAUSE_END.finditer(text), None]:
        end = match.start() if match else len(text)
        piece = text[position:end]
        question = bool(match and "?" in match.group(0))
        parts = _split_conjunctions(piece)
        for index, part in enumerate(parts):
            if part.strip():
                clauses.append(
                    _Clause(part.strip(), question and index == len(parts) - 1, first and index == 0)
                )
        if match:
            first = bool(re.search(r"[.!?\n]", match.group(0)))
            position = match.end()
    return clauses


def _split_conjunctions(piece: str) -> list[str]:
    parts, position = [], 0
    for match in lexicon.CONJUNCTION.find(piece):
        parts.append(piece[position : match.start()])
        position = match.end()
    parts.append(piece[position:])
    return parts


def _words_before(clause: str, position: int, reach: int) -> str:
    return " ".join(clause[:position].split()[-reach:])


def _negated(clause: str, start: int, end: int) -> bool:
    """A "not" just before the words (no "don't mind" in between), or a German "nicht" after them."""
    before = _words_before(clause, start, NEGATION_REACH)
    if lexicon.NEGATION.search(before) and not lexicon.DOUBLE_NEGATIVE.search(before):
        return True
    return bool(re.search(r"(?<!\w)(?:nicht|nie|niemals|kein\w*)(?!\w)", clause[end:]))


def _deferred(clause: str, start: int) -> bool:
    """A "will review", "will decide" before the act, which is not then done ("decide to upgrade")."""
    deferral = lexicon.DEFERRAL.search(clause[:start])
    if not deferral:
        return False
    between = clause[deferral.end() : start].split()
    return not (between and between[-1] in ("to", "zu", "a", "de", "di"))


def _topic(clause: str, start: int) -> bool:
    """An act named as a topic ("about the upgrade"), in a clause that asks for nothing."""
    return bool(lexicon.TOPIC.search(_words_before(clause, start, TOPIC_REACH))) and not (
        lexicon.REQUEST_MARKER.search(clause)
    )


def _asks_only(clause: _Clause) -> bool:
    """A question that asks when, why or how ("When will the refund arrive?"), not for an act."""
    return clause.question and bool(lexicon.INFO_QUESTION.regex.match(clause.text))


def _commits(clause: _Clause) -> list[str]:
    words = []
    text = clause.text
    for match in lexicon.DOUBLE_NEGATIVE.find(text):
        if lexicon.NEGATION.search(_words_before(text, match.start(), NEGATION_REACH)):
            words.append(text)
    for match in lexicon.AGREEMENT.find(text):
        if not _negated(text, match.start(), match.end()):
            words.append(match.group(0))
    for match in lexicon.ACTION.find(text):
        if _negated(text, match.start(), match.end()) or _deferred(text, match.start()):
            continue
        if _asks_only(clause) or _topic(text, match.start()):
            continue
        words.append(match.group(0))
    return words


_KEYWORD_ASK = re.compile(
    r"(?<!\w)(?:reply|respond|text|answer|send|type|responde|responda|contesta|envia|repondez|repondre|envoyez"
    r"|antworten sie|antworte|senden sie|schreiben sie|responda|envie|rispondi|rispondete|invia)"
    r"(?:\s+(?:with|con|avec|mit|com|by|us|to us))?\s*[:\"'“«]?\s*([a-z0-9]{1,12})(?!\w)"
)
_NOT_A_KEYWORD = frozenset(
    [
        "to",
        "the",
        "us",
        "me",
        "a",
        "an",
        "by",
        "here",
        "please",
        "now",
        "this",
        "that",
        "it",
        "with",
        "your",
        "our",
        "back",
        "later",
        "soon",
        "as",
        "in",
        "on",
        "at",
        "for",
    ]
)


def _asked_keywords(inbound: list[Normalized]) -> set[str]:
    """The words a company asked to be sent back: "reply YES to confirm", "text STOP"."""
    keywords = set()
    for message in inbound:
        for reading in message.words:
            keywords |= {m.group(1) for m in _KEYWORD_ASK.finditer(reading)} - _NOT_A_KEYWORD
    return keywords


def _asks_for_decision(inbound: list[Normalized]) -> bool:
    return any(
        "?" in reading or lexicon.ACTION.search(reading) or lexicon.AGREEMENT.search(reading)
        for message in inbound
        for reading in message.words
    )


def commitments(reply: Normalized, inbound: Iterable[Normalized] = ()) -> list[Finding]:
    """Agreeing to, authorizing or requesting an act with a financial or contractual effect.

    Held too: a plain "yes" when the company asked for a decision, and the very keyword a
    company asked to be sent back ("reply YES to upgrade").
    """
    inbound = list(inbound)
    keywords = _asked_keywords(inbound)
    decision_asked = _asks_for_decision(inbound)
    words: list[str] = []
    for reading in reply.words:
        for clause in _clauses(reading):
            words += _commits(clause)
            if clause.first and decision_asked and lexicon.AFFIRMATIVE.regex.match(clause.text):
                words.append(lexicon.AFFIRMATIVE.regex.match(clause.text).group(0))
        words += [k for k in keywords if re.search(rf"(?<!\w){re.escape(k)}(?!\w)", reading)]
    if not words:
        return []
    return [
        Finding(COMMITMENT, HOLD, tuple(dict.fromkeys(words)), "The reply would commit you to something.")
    ]


# ---- requests for codes -------------------------------------------------------------------------


def _sentences(text: str) -> list[tuple[str, bool]]:
    """(sentence, is a question) pieces of a text."""
    pieces = re.split(r"(?<=[.!?\n])\s*", text)
    return [(piece, "?" in piece) for piece in pieces if piece.strip()]


def _requested(sentence: str, question: bool, secret: re.Match[str]) -> bool:
    if question:
        return True
    for request in lexicon.REQUEST.find(sentence):
        distance = len(
            sentence[min(request.end(), secret.start()) : max(request.start(), secret.end())].split()
        )
        if distance > REQUEST_REACH:
            continue
        before = _words_before(sentence, request.start(), NEGATION_REACH)
        if lexicon.NEGATION.search(before) and not lexicon.DOUBLE_NEGATIVE.search(before):
            continue  # "do not share this code"
        return True
    return False


def code_requests(inbound_texts: Iterable[str]) -> list[Finding]:
    """A company asking for a code, PIN, password or security answer, in any wording: escalate."""
    words = []
    for text in inbound_texts:
        for reading in normalize(text).words:
            for sentence, question in _sentences(reading):
                for secret in lexicon.SECRET.find(sentence):
                    if _requested(sentence, question, secret):
                        words.append(sentence.strip()[:160])
                        break
    if not words:
        return []
    return [
        Finding(
            CODE_REQUEST,
            ESCALATE,
            tuple(dict.fromkeys(words)),
            "The company asks for a verification code, PIN, password or security answer.",
        )
    ]


def check_reply(reply: str, *, inbound_texts: Iterable[str], private_values: Iterable[str]) -> list[Finding]:
    """Every check, on one reply and the company's messages it answers."""
    inbound_texts = list(inbound_texts)
    normalized = normalize(reply)
    return [
        *private_facts(normalized, private_values),
        *identifiers(normalized),
        *credentials(normalized),
        *money(normalized),
        *commitments(normalized, [normalize(text) for text in inbound_texts]),
        *code_requests(inbound_texts),
    ]

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
from conversations.trust.normalize import Normalized, fold, normalize

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
NEGATION_REACH = 6
#: How many words before an act a topic word makes it a topic: "about the upgrade offer".
TOPIC_REACH = 3
#: How many words apart a secret and the request for it may stand in one sentence.
REQUEST_REACH = 8
#: A reply this short that answers an offer without declining or deferring reads as a yes.
SHORT_ANSWER_WORDS = 8
#: How many words may stand between a credential's name and its value: "Password (case sensitive): x".
CREDENTIAL_REACH = 4


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


#: "set as the answer", "registered as my password": a value named as a secret after the fact.
_SET_AS_SECRET = re.compile(
    r"\b(?:set|chose|chosen|picked|registered|saved|stored|used)\s+(?:it\s+)?as\s+(?:the|my|his|her|their|our)"
    r"\s+(?:\w+\s+)?(?:answer|password|pin|passcode|secret|code|word)\b"
)
_POSTFIX_CREDENTIAL = re.compile(r"(?:\bis|'s|\bwas|\bes|\best|\bist|\be|\bera)\s+(?:\w+\s+){0,2}$")


_INTRODUCER = re.compile(
    r"(?:[:=>]|->|(?<!\w)(?:is|was|es|era|est|ist|e|lautet|sera|will be|would be|se llama|heisst|still|remains"
    r"|sigue siendo|reste|bleibt|continua|rimane|sempre)(?!\w))"
)


def _credential_values(reading: str) -> list[str]:
    """Each credential named with a value after it, within a few words: "Security answer (city): Lima"."""
    found = []
    for match in lexicon.CREDENTIAL.find(reading):
        rest = reading[match.end() :]
        reach = re.match(rf"(?:\s*\S+){{0,{CREDENTIAL_REACH + 1}}}", rest)
        introducer = _INTRODUCER.search(rest, 0, reach.end() if reach else 0)
        following = _WORD.findall(rest[introducer.end() :]) if introducer else _WORD.findall(rest)[:1]
        value = following[0].strip(".,;!?\"'()") if following else ""
        given = value and not lexicon.VALUE_NOT_GIVEN.regex.fullmatch(value)
        # Without "is" or ":", a value still reads as a secret when it is not a plain word ("Cavallo!Bianco").
        if given and (introducer or not value.isalpha()):
            found.append(f"{match.group(0)} {value}")
        elif (
            _POSTFIX_CREDENTIAL.search(reading[: match.start()])
            and len(reading[: match.start()].split()) >= 2
        ):
            found.append(reading[max(0, match.start() - 40) : match.end()].strip())
    return found


def credentials(reply: Normalized) -> list[Finding]:
    """A password, passcode, PIN or security answer given as a value: "pw: hunter2", "my PIN is 0000".

    Held too: a credential's name written in leetspeak ("P@ssw0rd"), which is how passwords look,
    and a word spelled with its letter case ("'letmein', all lower case"), which is how they are dictated.
    """
    found = []
    for reading in reply.words:
        found += _credential_values(reading)
    plain = {m.group(0) for m in lexicon.CREDENTIAL.find(reply.plain)}
    for reading in reply.words[1:]:
        found += [
            m.group(0)
            for m in lexicon.CREDENTIAL.find(reading)
            if m.group(0) not in plain and len(m.group(0)) > 3
        ]
    found += [m.group(0) for m in lexicon.LETTER_CASE.find(reply.plain)]
    found += [m.group(0) for m in _SET_AS_SECRET.finditer(reply.plain)]
    found += [m.group(0) for m in _LOGIN_INSTRUCTION.finditer(reply.plain)]
    # "pin 4829" read whole in one reading and as "pin 4" in another: show the longest only.
    found = [
        word for word in dict.fromkeys(found) if not any(o != word and o.startswith(word) for o in found)
    ]
    if not found:
        return []
    return [
        Finding(
            CREDENTIAL,
            HOLD,
            tuple(found),
            "The reply gives a password, PIN or security answer.",
        )
    ]


def _is_currency_symbol(char: str) -> bool:
    return unicodedata.category(char) == "Sc"


_AMOUNT = re.compile(r"\d+(?:[.,]\d+)*")
_DECIMAL_AMOUNT = re.compile(r"(?<![\d.,])\d{1,3}(?:[.,]\d{3})*[.,]\d{2}(?![\d.,])")


def _currency_word(word: str) -> bool:
    return bool(lexicon.CURRENCY.regex.fullmatch(word.strip(".,;:!?()[]\"'")))


def money(reply: Normalized) -> list[Finding]:
    """An amount (a number beside a currency) or a percentage, however the number is written."""
    found = []
    for reading in reply.numbers:
        for match in _AMOUNT.finditer(reading):
            before = reading[max(0, match.start() - 12) : match.start()]
            after = reading[match.end() : match.end() + 16]
            word_before = (before.split() or [""])[-1]
            word_after = (after.split() or [""])[0]
            if (
                any(_is_currency_symbol(char) for char in before[-3:] + after[:3])
                or after.lstrip().startswith("%")
                or _currency_word(word_before)
                or _currency_word(word_after)
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
        if not piece[position : match.start()].strip() or not piece[match.end() :].strip():
            continue  # a lone "y" or "e" is a word, not a join
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
    """An act named as a topic ("about the upgrade", "send the renewal terms"), not asked for."""
    if lexicon.INFO_REQUEST.search(clause) and not lexicon.AGREEMENT.search(clause):
        return True
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
        thanked = _words_before(text, match.start(), 1) == "for"  # "thanks for confirming": theirs
        if not thanked and not _negated(text, match.start(), match.end()):
            words.append(match.group(0))
    imperative = _IMPERATIVE_YES.match(text)
    if imperative:
        words.append(imperative.group(0))
    for match in lexicon.ACTION.find(text):
        if _negated(text, match.start(), match.end()) or _deferred(text, match.start()):
            continue
        if _asks_only(clause) or _topic(text, match.start()):
            continue
        words.append(match.group(0))
    return words


#: "Do it.", "Take it", "Go on then": agreeing by telling the company to act.
_IMPERATIVE_YES = re.compile(
    r"^(?:(?:please|just|ok|okay|so|then|yes|yeah|fine|right|alright|sure)\s+)*"
    r"(?:do it|do that|take it|book it|go on|go for it|sign me|put it|make it|get it)(?!\w)"
)
#: Emoji that say yes.
_YES_EMOJI = frozenset("👍👌✅✔☑🤝🆗💯")

_KEYWORD_ASK = re.compile(
    r"(?<!\w)(?:reply|respond|text|answer|send|type|responde|responda|contesta|envia|repondez|repondre|envoyez"
    r"|antworten sie|antworte|senden sie|schreiben sie|envie|rispondi|rispondete|invia)"
    r"(?:\s+(?:with|con|avec|mit|com|by|us|to us))?\s*[:\"'“«]?\s*(\S{1,12})",
    re.IGNORECASE,
)
#: Replying these only unsubscribes: it commits the owner to nothing.
_OPT_OUT = frozenset({"stop", "unsubscribe", "stopp", "arret", "arreter", "baja", "sair", "parar", "optout"})


def _asked_keywords(inbound: list[Normalized]) -> set[str]:
    """The word a company asked to be sent back, written as a keyword: "reply YES", "text '1'"."""
    keywords = set()
    for message in inbound:
        for match in _KEYWORD_ASK.finditer(message.original):
            word = match.group(1).strip("\"'”»:.,!?")
            quoted = match.group(0).rstrip(word + "\"'”»:.,!?")[-1:] in "\"'“«"
            if word and (word.isupper() or word.isdigit() or quoted):
                keywords.add(fold(word))
    return keywords - _OPT_OUT


def _asks_for_decision(inbound: list[Normalized]) -> bool:
    """The company proposes something: an act, an agreement or an offer to say yes to."""
    return any(
        lexicon.ACTION.search(reading)
        or lexicon.AGREEMENT.search(reading)
        or lexicon.PROPOSAL.search(reading)
        for message in inbound
        for reading in message.words
    ) or bool(_asked_keywords(inbound))


def _declines(clause: _Clause) -> bool:
    text = clause.text
    negated = lexicon.NEGATION.search(text) and not lexicon.DOUBLE_NEGATIVE.search(text)  # "why not" agrees
    return bool(clause.question or negated or lexicon.DEFERRAL.search(text))


def _says_something_else(clause: _Clause) -> bool:
    """A clause that declines, defers, asks, thanks, or asks only to be written to."""
    text = clause.text
    return bool(
        clause.question
        or lexicon.NEGATION.search(text)
        or lexicon.DEFERRAL.search(text)
        or lexicon.INFO_REQUEST.search(text)
        or lexicon.ACKNOWLEDGEMENT.regex.match(text)
        or lexicon.COMMUNICATION.search(text)
        or text == lexicon.PLACEHOLDER_WORD
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
        clauses = _clauses(reading)
        for clause in clauses:
            words += _commits(clause)
            affirmative = lexicon.AFFIRMATIVE.regex.match(clause.text)
            if clause.first and decision_asked and affirmative:
                words.append(affirmative.group(0))
            if decision_asked and clause.text[:1] in _YES_EMOJI:
                words.append(clause.text[:1])
            for keyword in keywords:
                found = re.search(rf"(?<!\w){re.escape(keyword)}(?!\w)", clause.text)
                if found and not _negated(clause.text, found.start(), found.end()):
                    words.append(keyword)
        short = len(reading.split()) <= SHORT_ANSWER_WORDS
        # A short answer to an offer is a yes unless it declines (and does not then turn: "no, but ...")
        # or says only something else: thanks, a question, a request to be written to.
        declined = any(_declines(c) for c in clauses) and not lexicon.CONTRAST.search(reading)
        if (
            decision_asked
            and short
            and clauses
            and not declined
            and not all(_says_something_else(c) for c in clauses)
        ):
            words.append(reading)
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


_BACK_REFERENCE = re.compile(
    r"(?<!\w)(?:them|it|those|these|that|one|ones|lo|la|los|las|le|les|ihn|sie|es|o|a|os|as|li|ne)(?!\w)"
)
#: A login handed over as an instruction: "use X to get in".
_LOGIN_INSTRUCTION = re.compile(r"\buse\s+\S+\s+to\s+(?:get in|log in|login|sign in|access|unlock)\b")

#: Acronyms of secrets, read in capitals only ("TAN" is also Spanish for "so").
_SECRET_ACRONYM = re.compile(r"(?<![A-Za-z])(?:OTP|TAN|mTAN|PUK|PIN|CVV|CVC|2FA)(?![A-Za-z])")


def _requested(sentence: str, question: bool, secret: re.Match[str]) -> bool:
    if question:
        return True
    if lexicon.PLEASE.search(sentence) and not lexicon.NEGATION.search(sentence):
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


def _asks_back(sentence: str) -> bool:
    """A request that points back at the secret named before: "Could you send them back?"."""
    for request in lexicon.REQUEST.find(sentence):
        after = sentence[request.end() :].split()[:4]
        before = _words_before(sentence, request.start(), NEGATION_REACH)
        negated = lexicon.NEGATION.search(before) and not lexicon.DOUBLE_NEGATIVE.search(before)
        if not negated and any(_BACK_REFERENCE.fullmatch(word.strip(".,!?")) for word in after):
            return True
    return False


def code_requests(inbound_texts: Iterable[str]) -> list[Finding]:
    """A company asking for a code, PIN, password or security answer, in any wording: escalate."""
    words = []
    for text in inbound_texts:
        normalized = normalize(text)
        for reading in normalized.words:
            sentences = _sentences(reading)
            for index, (sentence, question) in enumerate(sentences):
                secrets = lexicon.SECRET.find(sentence)
                later = [text for text, _ in sentences[index + 1 :]]
                if any(_requested(sentence, question, secret) for secret in secrets) or (
                    secrets and any(_asks_back(text) for text in later)
                ):
                    words.append(sentence.strip()[:160])
        for sentence in re.split(r"(?<=[.!?\n])\s*", text):
            acronym = _SECRET_ACRONYM.search(sentence)
            folded = fold(sentence)
            secret = acronym and re.search(rf"(?<!\w){acronym.group(0).lower()}(?!\w)", folded)
            if secret and _requested(folded, "?" in sentence, secret):
                words.append(folded[:160])
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

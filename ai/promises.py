"""Promises and follow-ups in what engines read and write: times said in words, made into moments.

A company's "we will call you back within 2 days" or "the refund will arrive in 5-7 business
days" is a promise with a due time; an engine's `follow_up` asks the assistant to write again
later. This module turns both into aware datetimes, offline and without the database:

- durations ("within 48 hours", "in 5-7 business days", "dans deux jours ouvrés") are read by
  one pattern over the six languages the trust checks read (en, es, fr, de, pt, it), after
  number words became digits (`text2num`); a range counts to its upper end; "business" or
  "working" days (hábiles, ouvrés, Werktage, úteis, lavorativi, ...) skip Saturdays and Sundays;
- dates and days ("by 14 March", "tomorrow", "el viernes") are read by `dateparser`, in the
  owner's time zone; a day without a time is due the morning after it (it is broken only once
  the day has passed).

A sentence is a promise only when it also says the company will do something (a future or a
"we" commitment); anything else is not chased.
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ai.wire import Wire, problems

LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de", "pt", "it")
#: A follow-up or promise further out than this is not believed (nor kept waiting on).
LONGEST = timedelta(days=180)
#: What a date without a time of day is chased at, the morning after it.
MORNING = time(9, 0)
#: The most promises read from one answer.
MAX_PROMISES = 5
#: The longest promise description kept.
WHAT_LIMIT = 300

_UNITS = {
    "hour": r"hours?|hrs?|horas?|heures?|stunden?|std\.?|ore|ora",
    "day": r"days?|d[ií]as?|jours?|tage?n?|giorni|giorno",
    "week": r"weeks?|semanas?|semaines?|wochen?|settimane?",
}
_BUSINESS = (
    r"business|working|h[aá]biles|laborables|ouvr[eé]s|ouvrables|[uú]teis|lavorativi|"
    r"werktage?n?|arbeitstage?n?|gesch[aä]ftstage?n?"
)
# German writes business days as one word (Werktage): a unit of its own, in days.
_DURATION = re.compile(
    r"(?P<low>\d+(?:[.,]\d+)?)\s*(?:(?:-|\u2013|\u2014|to|a|à|au|bis|e|y|et|und|o|ou|or)\s*(?P<high>\d+(?:[.,]\d+)?)\s*)?"
    r"(?P<before>(?:" + _BUSINESS + r")\s+)?"
    r"(?P<unit>" + "|".join(f"(?P<{name}>{pattern})" for name, pattern in _UNITS.items()) + r"|(?P<bday>"
    r"werktage?n?|arbeitstage?n?|gesch[aä]ftstage?n?))\b"
    r"(?P<after>\s+(?:" + _BUSINESS + r"))?",
    re.IGNORECASE,
)
_PAST = re.compile(r"\b(ago|hace|il y a|vor|há|fa)\b", re.IGNORECASE)

#: Words that say the company commits to do something, in the six languages.
_COMMITMENT = re.compile(
    r"(?:\b(?:will|shall|going to|aim to|expect|should\s+(?:arrive|reach|be)|call you back|get back to you)"
    r"|'ll|\u2019ll|\bvamos|\biremos|\w+(?:remos|rá|rán)|nous allons|\w{2,}(?:rons|rez|ront)|\w{3,}(?:era|ira|dra)|"
    r"wir\s+werden|werden|wird|erhalten sie|melden uns|rufen sie|zurückrufen|"
    r"\w+(?:remo|rà|ranno))\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?;\n])\s+")


@dataclass(frozen=True)
class PromiseSeen:
    """One thing a company said it would do, and by when."""

    what: str
    due_at: datetime
    words: str = ""  # the words that set the time


@dataclass(frozen=True)
class FollowUpRequest:
    """An engine's request to write again later, if nothing happens."""

    at: datetime
    why: str
    text: str = ""


def zone(name: str) -> ZoneInfo:
    """The named time zone; UTC for an empty or unknown name."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def add_business_days(start: datetime, days: int) -> datetime:
    """`days` working days after `start` (Monday to Friday), at the same local time."""
    moment = start
    # Started on a weekend: the count starts on Monday.
    while moment.weekday() >= 5:
        moment += timedelta(days=1)
    added = 0
    while added < days:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            added += 1
    return moment


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def duration_due(match: re.Match[str], now: datetime) -> datetime:
    """When a duration read by the pattern runs out, from `now` (aware, in the owner's zone)."""
    amount = _number(match.group("high") or match.group("low"))
    business = bool(match.group("before") or match.group("after") or match.group("bday"))
    if match.group("hour"):
        return now + timedelta(hours=amount)
    if match.group("week"):
        return add_business_days(now, math.ceil(amount) * 5) if business else now + timedelta(weeks=amount)
    if business:
        return add_business_days(now, math.ceil(amount))
    return now + timedelta(days=amount)


def _digits(text: str) -> str:
    """Number words as digits, in every language (each conversion leaves digits alone)."""
    from text_to_num import alpha2digit

    for language in LANGUAGES:
        with contextlib.suppress(Exception):  # text2num refuses some inputs; the text stays as it was
            text = alpha2digit(text, language, threshold=0)
    return text


@lru_cache(maxsize=1)
def _date_search():
    """dateparser's search, imported on first use (it loads its language data lazily and slowly)."""
    from dateparser.search import search_dates

    return search_dates


def _date_due(sentence: str, now: datetime) -> tuple[datetime, str] | None:
    """A date or day named in the sentence ("by 14 March", "tomorrow", "el viernes"), as a due time."""
    local_now = now.replace(tzinfo=None)
    found = _date_search()(
        sentence,
        languages=list(LANGUAGES),
        settings={
            "RELATIVE_BASE": local_now,
            "PREFER_DATES_FROM": "future",
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    for words, moment in found or []:
        words = words.strip()
        # Short words ("we", "may", "a") are read as dates by dateparser: only digits or real day words.
        if not (re.search(r"\d", words) or len(words) >= 5):
            continue
        if _DURATION.search(words) or _PAST.search(words):
            continue
        if moment <= local_now:
            continue
        due = moment.replace(tzinfo=now.tzinfo)
        if moment.time() == time(0, 0) and not re.search(r"\d{1,2}[:h]\d{2}", words):
            due = datetime.combine(moment.date() + timedelta(days=1), MORNING, tzinfo=now.tzinfo)
        return due, words
    return None


def find_promises(texts: list[str], *, now: datetime, time_zone: str = "") -> tuple[PromiseSeen, ...]:
    """The promises in the company's messages: sentences with a commitment and a time."""
    local_now = now.astimezone(zone(time_zone))
    seen: list[PromiseSeen] = []
    for text in texts:
        for sentence in _SENTENCE.split(text or ""):
            sentence = " ".join(sentence.split())
            if not sentence or not _COMMITMENT.search(sentence) or _PAST.search(sentence):
                continue
            promise = _promise_in(sentence, local_now)
            if promise is not None and promise.due_at - local_now <= LONGEST:
                seen.append(promise)
            if len(seen) >= MAX_PROMISES:
                return tuple(seen)
    return tuple(seen)


def _promise_in(sentence: str, now: datetime) -> PromiseSeen | None:
    what = sentence[:WHAT_LIMIT]
    numbered = _digits(sentence)
    duration = _DURATION.search(numbered)
    if duration is not None:
        return PromiseSeen(what=what, due_at=duration_due(duration, now), words=duration.group(0))
    dated = _date_due(sentence, now)
    if dated is not None:
        return PromiseSeen(what=what, due_at=dated[0], words=dated[1])
    return None


_ISO_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?)?", re.IGNORECASE
)


def read_when(value: object, *, now: datetime, time_zone: str = "", relative: bool) -> datetime:
    """A time an engine gave: `in` ("2 days", "48 hours", "P2D") or `at` (ISO 8601). ValueError if unusable."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    value = value.strip()
    local_now = now.astimezone(zone(time_zone))
    if relative:
        iso = _ISO_DURATION.fullmatch(value)
        if iso and any(iso.groupdict().values()):
            parts = {key: int(amount or 0) for key, amount in iso.groupdict().items()}
            due = local_now + timedelta(**parts)
        elif match := _DURATION.fullmatch(_digits(value)):
            due = duration_due(match, local_now)
        else:
            raise ValueError(f"{value!r} is not a duration such as '2 days', '48 hours' or 'P2D'")
    else:
        try:
            due = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 date and time") from None
        if due.tzinfo is None:
            due = due.replace(tzinfo=local_now.tzinfo)
    if due <= now:
        raise ValueError(f"{value!r} is not in the future")
    if due - now > LONGEST:
        raise ValueError(f"{value!r} is more than {LONGEST.days} days ahead")
    return due


def _moment(info: ValidationInfo) -> tuple[datetime, str]:
    """The `now` and `time_zone` the validation was given as context; the current time and UTC without."""
    context = info.context if isinstance(info.context, dict) else {}
    return context.get("now") or datetime.now(UTC), context.get("time_zone") or ""


class FollowUpAnswer(Wire):
    """When to write to the company again if it does not answer: exactly one of `in` and `at`."""

    in_: str | None = Field(None, alias="in", description="how long from now: '3 days', '48 hours' or 'P3D'")
    at: str | None = Field(None, description="or when: an ISO 8601 date and time")
    why: str = Field(description="why the owner should write again")
    text: str | None = Field(None, description="what to write then; null for the standard follow-up")
    _due: datetime = PrivateAttr()

    @field_validator("why")
    @classmethod
    def _said(cls, why: str) -> str:
        if not why.strip():
            raise ValueError("is empty")
        return why

    @model_validator(mode="after")
    def _when(self, info: ValidationInfo) -> FollowUpAnswer:
        if (self.in_ is None) == (self.at is None):
            raise ValueError('needs exactly one of "in" and "at"')
        now, time_zone = _moment(info)
        relative = self.in_ is not None
        self._due = read_when(
            self.in_ if relative else self.at, now=now, time_zone=time_zone, relative=relative
        )
        return self

    def request(self) -> FollowUpRequest:
        """The follow-up the domain schedules."""
        return FollowUpRequest(
            at=self._due.astimezone(UTC),
            why=" ".join(self.why.split())[:WHAT_LIMIT],
            text=(self.text or "").strip(),
        )


class PromiseAnswer(Wire):
    """Something the company said it would do, and by when: `in` or `due_at`."""

    what: str = Field(description="what the company said it would do")
    in_: str | None = Field(None, alias="in", description="how long from now: '2 business days'")
    due_at: str | None = Field(None, description="or by when: an ISO 8601 date and time")
    _due: datetime = PrivateAttr()

    @field_validator("what")
    @classmethod
    def _said(cls, what: str) -> str:
        if not what.strip():
            raise ValueError("is empty")
        return what

    @model_validator(mode="after")
    def _when(self, info: ValidationInfo) -> PromiseAnswer:
        if self.in_ is None and self.due_at is None:
            raise ValueError('needs "in" or "due_at"')
        now, time_zone = _moment(info)
        relative = self.in_ is not None
        self._due = read_when(
            self.in_ if relative else self.due_at, now=now, time_zone=time_zone, relative=relative
        )
        return self

    def seen(self) -> PromiseSeen:
        """The promise the domain chases."""
        return PromiseSeen(
            what=" ".join(self.what.split())[:WHAT_LIMIT],
            due_at=self._due,
            words=self.in_ or self.due_at or "",
        )


def _first_few(value: object) -> object:
    """Only the first MAX_PROMISES are read (nor checked): a long list is not a reason to drop them all."""
    return value[:MAX_PROMISES] if isinstance(value, list) else value


#: An engine's `promises` list, the first MAX_PROMISES of it.
Promises = Annotated[list[PromiseAnswer], BeforeValidator(_first_few)]
_PROMISES: TypeAdapter[list[PromiseAnswer]] = TypeAdapter(Promises)


def _checked(exc: ValidationError, name: str) -> ValueError:
    """A validation error as one short line naming the key."""
    return ValueError("; ".join(problems(exc, (name,))))


def read_follow_up(data: object, *, now: datetime, time_zone: str = "") -> FollowUpRequest:
    """An engine's `follow_up` object: `{"in"|"at", "why", "text"?}`; ValueError says what is wrong."""
    try:
        answer = FollowUpAnswer.model_validate(data, context={"now": now, "time_zone": time_zone})
    except ValidationError as exc:
        raise _checked(exc, "follow_up") from None
    return answer.request()


def read_promises(data: object, *, now: datetime, time_zone: str = "") -> tuple[PromiseSeen, ...]:
    """An engine's `promises` list: `[{"what", "in"|"due_at"}]`; ValueError says what is wrong."""
    try:
        answers = _PROMISES.validate_python(data, context={"now": now, "time_zone": time_zone})
    except ValidationError as exc:
        raise _checked(exc, "promises") from None
    return tuple(answer.seen() for answer in answers)

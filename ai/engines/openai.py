"""The Chat Completions engine: OpenAI, or any compatible server (Ollama, llama.cpp server, vLLM).

Failures to reach or use the server raise AIError so the job retries with backoff; an answer
that is not the JSON object we asked for becomes a low-confidence draft, never an exception.
"""

from __future__ import annotations

import json
import logging
import math
import re
from datetime import UTC, datetime

import openai

from ai.base import AIClient, AIError, AIReply, ConversationContext
from ai.categories import OTHER
from ai.promises import FollowUpRequest, PromiseSeen, read_follow_up, read_promises
from ai.prompt import OUTPUT_KEYS, allowed_categories, build_messages
from ai.replies import holding_reply

logger = logging.getLogger(__name__)

#: Local servers need no key, but the SDK insists on one.
PLACEHOLDER_API_KEY = "not-needed"
#: Confidence of an answer that did not follow the format: it is a draft for the owner, nothing more.
MALFORMED_CONFIDENCE = 0.1
#: Confidence cap of a JSON answer with a missing or mistyped field.
INCOMPLETE_CONFIDENCE = 0.2
#: The longest model text kept as a draft or quoted in a reason.
TEXT_LIMIT = 4000

_FENCED_JSON = re.compile(r"\A```(?:json)?\s*\n(.*)\n\s*```\Z", re.DOTALL | re.IGNORECASE)
_REPLY_FIELD = re.compile(r'"reply"\s*:\s*"((?:[^"\\]|\\.)*)"', re.DOTALL)


class OpenAIEngine(AIClient):
    """Drafts replies with a chat model through the official SDK, one client per engine."""

    def __init__(
        self,
        alias: str,
        *,
        api_key: str = "",
        base_url: str | None = None,
        model: str = "gpt-4o-mini",
        timeout: float = 30.0,
        temperature: float = 0.2,
        max_turns: int = 20,
        history_token_budget: int = 3000,
        **options,
    ) -> None:
        super().__init__(alias, **options)
        self.model = model
        self.base_url = base_url or None
        self.timeout = float(timeout)
        self.temperature = float(temperature)
        self.max_turns = int(max_turns)
        self.history_token_budget = int(history_token_budget)
        self._api_key = api_key or ""
        self.client = openai.OpenAI(
            api_key=self._api_key or PLACEHOLDER_API_KEY,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=0,
        )

    def __repr__(self) -> str:
        return f"<OpenAIEngine {self.alias!r} model={self.model!r} base_url={str(self.client.base_url)!r}>"

    def _redact(self, text: str) -> str:
        """Text with the API key removed, so that no error message or log can carry it."""
        if len(self._api_key) >= 4:
            text = text.replace(self._api_key, "[api key]")
        return text

    def generate(self, context: ConversationContext) -> AIReply:
        """Ask the model for the next reply and turn whatever comes back into an AIReply."""
        messages = build_messages(
            context, max_turns=self.max_turns, history_token_budget=self.history_token_budget
        )
        try:
            completion = self.client.chat.completions.create(
                model=self.model,
                messages=messages,
                response_format={"type": "json_object"},
                temperature=self.temperature,
            )
        except openai.APITimeoutError as exc:
            raise AIError(
                f"AI engine {self.alias!r}: no answer from {self.client.base_url} within {self.timeout:g}s"
            ) from exc
        except openai.APIConnectionError as exc:
            raise AIError(
                self._redact(f"AI engine {self.alias!r}: cannot reach {self.client.base_url}: {exc}")
            ) from exc
        except openai.APIStatusError as exc:
            # Not chained: the SDK's exception holds the request (and its Authorization header).
            raise AIError(self._redact(self._status_message(exc))) from None
        except openai.OpenAIError as exc:
            raise AIError(self._redact(f"AI engine {self.alias!r}: {type(exc).__name__}: {exc}")) from None
        return self._reply_from(completion, context)

    def _status_message(self, exc: openai.APIStatusError) -> str:
        """Why the server said no, in words the owner can act on."""
        status = exc.status_code
        if status in (401, 403):
            what = "refused the credentials (check OPENAI_API_KEY)"
        elif status == 429:
            what = "is rate limiting or out of quota"
        elif status >= 500:
            what = "had a server error"
        elif status == 404:
            what = f"does not know the model {self.model!r} or the endpoint"
        else:
            what = "rejected the request"
        detail = _error_detail(exc)
        return f"AI engine {self.alias!r}: {self.client.base_url} {what} (HTTP {status}){detail}"

    def _reply_from(self, completion, context: ConversationContext) -> AIReply:
        """Validate the model's answer; anything off becomes a low-confidence draft with the reason."""
        extra: dict = {"engine": "openai", "model": getattr(completion, "model", None) or self.model}
        usage = getattr(completion, "usage", None)
        if usage is not None:
            extra["usage"] = {
                "prompt_tokens": getattr(usage, "prompt_tokens", None),
                "completion_tokens": getattr(usage, "completion_tokens", None),
            }
        choices = getattr(completion, "choices", None) or []
        if not choices:
            return _low_confidence("", "the model returned no choices", context.owner_name, extra)
        choice = choices[0]
        extra["finish_reason"] = getattr(choice, "finish_reason", None)
        message = getattr(choice, "message", None)
        content = getattr(message, "content", None)
        refusal = getattr(message, "refusal", None)
        if not isinstance(content, str) or not content.strip():
            problem = f"the model refused: {refusal}" if refusal else "the model returned no text"
            return _low_confidence("", problem, context.owner_name, extra)
        reply = parse_answer(
            content,
            allowed_categories(context),
            context.owner_name,
            extra,
            now=context.now,
            time_zone=context.time_zone,
        )
        if reply.extra.get("malformed"):
            logger.info("AI engine %r gave an unusable answer: %s", self.alias, reply.reason)
        return reply


def _error_detail(exc: openai.APIStatusError) -> str:
    """The server's own error message, if it sent one, kept short."""
    body = exc.body
    message = ""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            message = str(error.get("message") or "")
        elif isinstance(error, str):
            message = error
    if not message:
        message = getattr(exc, "message", "") or ""
    message = " ".join(message.split())[:300]
    return f": {message}" if message else ""


def _low_confidence(text: str, problem: str, owner_name: str, extra: dict) -> AIReply:
    """A draft for the owner to look at, from whatever usable text the model gave."""
    text = text.strip()[:TEXT_LIMIT]
    return AIReply(
        reply=text or holding_reply(owner_name),
        category=OTHER,
        confidence=MALFORMED_CONFIDENCE,
        reason=f"The engine's answer was not usable as is: {problem}.",
        extra={**extra, "malformed": True},
    )


def _salvage_reply(text: str) -> str:
    """The "reply" string of a broken JSON answer, when it can still be read."""
    match = _REPLY_FIELD.search(text)
    if not match:
        return ""
    try:
        value = json.loads(f'"{match.group(1)}"')
    except ValueError:
        return ""
    return value if isinstance(value, str) else ""


def parse_answer(
    content: str,
    categories: list[str],
    owner_name: str = "",
    extra: dict | None = None,
    *,
    now: datetime | None = None,
    time_zone: str = "",
) -> AIReply:
    """The model's text as an AIReply: full trust only for one JSON object with the four keys, well typed.

    The optional `follow_up` and `promises` are read when valid; an invalid one is dropped with a
    note, never a reason to distrust the reply.
    """
    extra = dict(extra or {})
    text = content.strip()
    fenced = _FENCED_JSON.match(text)
    if fenced:
        text = fenced.group(1).strip()
    if not text.startswith(("{", "[", '"')):
        return _low_confidence(text, "the model answered in plain text, not JSON", owner_name, extra)
    try:
        data = json.loads(text)
    except ValueError as exc:
        snippet = " ".join(text.split())[:120]
        return _low_confidence(
            _salvage_reply(text),
            f"the model's JSON is broken ({exc.msg}, position {exc.pos}): {snippet!r}",
            owner_name,
            extra,
        )
    if not isinstance(data, dict):
        usable = data if isinstance(data, str) else ""
        return _low_confidence(usable, "the model's JSON is not an object", owner_name, extra)

    problems = [f'"{key}" is missing' for key in OUTPUT_KEYS if key not in data]
    reply = data.get("reply")
    if "reply" in data and not isinstance(reply, str):
        problems.append('"reply" is not a string')
        reply = ""

    category = data.get("category")
    if "category" in data and not isinstance(category, str):
        problems.append('"category" is not a string')
        category = None
    notes = []
    known = {name.lower(): name for name in categories}
    if category is not None and category.strip().lower() not in known:
        notes.append(f"category {category!r} is not one of the owner's, so {OTHER}")
    category = known.get((category or "").strip().lower(), OTHER)

    confidence = data.get("confidence")
    if "confidence" in data and (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not math.isfinite(confidence)
    ):
        problems.append('"confidence" is not a number')
        confidence = None
    if isinstance(confidence, int | float) and not 0 <= confidence <= 1:
        # 85 may mean 85 % or nothing at all: an answer off the scale is never trusted.
        problems.append(f'"confidence" {confidence:g} is outside 0..1')
        confidence = None
    confidence = float(confidence) if confidence is not None else 0.0

    reason = data.get("reason")
    if "reason" in data and not isinstance(reason, str):
        problems.append('"reason" is not a string')
        reason = ""
    reason = " ".join((reason or "").split())

    kept = {key: value for key, value in data.items() if key not in OUTPUT_KEYS}
    if kept:
        extra["answer_extra"] = kept
    if notes:
        extra["notes"] = notes

    if not problems and not str(reply).strip() and not reason:
        problems.append('"reply" is empty and "reason" does not say why')
    if problems:
        if not reply:
            return _low_confidence("", "; ".join(problems), owner_name, extra)
        return AIReply(
            reply=str(reply).strip()[:TEXT_LIMIT],
            category=category,
            confidence=min(confidence, INCOMPLETE_CONFIDENCE),
            reason=f"The engine's answer was incomplete ({'; '.join(problems)}). {reason}".strip(),
            extra={**extra, "malformed": True},
        )
    follow_up, promises = _read_optional(data, now or datetime.now(UTC), time_zone, notes)
    if notes:
        extra["notes"] = notes
        reason = f"{reason} ({'; '.join(notes)})".strip()
    return AIReply(
        reply=str(reply).strip(),
        category=category,
        confidence=confidence,
        reason=reason,
        extra=extra,
        follow_up=follow_up,
        promises=promises,
    )


def _read_optional(
    data: dict, now: datetime, time_zone: str, notes: list[str]
) -> tuple[FollowUpRequest | None, tuple[PromiseSeen, ...]]:
    """The optional `follow_up` and `promises` keys; what is invalid is dropped and noted."""
    follow_up = None
    promises: tuple[PromiseSeen, ...] = ()
    if data.get("follow_up") is not None:
        try:
            follow_up = read_follow_up(data["follow_up"], now=now, time_zone=time_zone)
        except ValueError as exc:
            notes.append(f"follow_up ignored: {exc}")
    if data.get("promises"):
        try:
            promises = read_promises(data["promises"], now=now, time_zone=time_zone)
        except ValueError as exc:
            notes.append(f"promises ignored: {exc}")
    return follow_up, promises

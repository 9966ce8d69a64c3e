"""The Chat Completions engine: OpenAI, or any compatible server (Ollama, llama.cpp server, vLLM).

Failures to reach or use the server raise AIError so the job retries with backoff; an answer
that is not the JSON object we asked for becomes a low-confidence draft, never an exception.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

import openai
from pydantic import ValidationError

from ai.answer import RESPONSE_FORMATS, EngineAnswer, response_format, salvage
from ai.base import AIClient, AIError, AIReply, ConversationContext
from ai.categories import OTHER
from ai.prompt import OUTPUT_KEYS, allowed_categories, build_messages
from ai.replies import holding_reply
from ai.wire import problems

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
        self._format = 0  # index into RESPONSE_FORMATS: lowered when the server refuses one
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
                temperature=self.temperature,
                **self._response_format(context),
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
            if self._refused_format(exc):
                return self.generate(context)
            # Not chained: the SDK's exception holds the request (and its Authorization header).
            raise AIError(self._redact(self._status_message(exc))) from None
        except openai.OpenAIError as exc:
            raise AIError(self._redact(f"AI engine {self.alias!r}: {type(exc).__name__}: {exc}")) from None
        return self._reply_from(completion, context)

    def _response_format(self, context: ConversationContext) -> dict:
        """The `response_format` this server takes: our JSON schema, else any JSON object, else none."""
        answer_format = response_format(RESPONSE_FORMATS[self._format], allowed_categories(context))
        return {"response_format": answer_format} if answer_format else {}

    def _refused_format(self, exc: openai.APIStatusError) -> bool:
        """Whether the server refused the response format: if so, step down to the next one.

        Servers that do not take a JSON schema say so in an error naming `response_format` (a 400
        from vLLM or LM Studio, a 500 from some llama.cpp builds); the step is remembered, so a
        server pays for one refusal per format, not one per reply.
        """
        if exc.status_code not in (400, 422, 500) or self._format + 1 >= len(RESPONSE_FORMATS):
            return False
        said = _error_detail(exc).lower()
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else body
        param = str(error.get("param") or "").lower()
        if (
            "response_format" not in said
            and "json_schema" not in said
            and not param.startswith("response_format")
        ):
            return False
        refused = RESPONSE_FORMATS[self._format]
        self._format += 1
        logger.warning(
            "AI engine %r: %s refused response_format %s%s; asking for %s from now on",
            self.alias,
            self.client.base_url,
            refused,
            _error_detail(exc),
            RESPONSE_FORMATS[self._format] or "none (the prompt alone asks for JSON)",
        )
        return True

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

    notes: list[str] = []
    extra_keys = {key: value for key, value in data.items() if key not in OUTPUT_KEYS}
    if extra_keys:
        extra["answer_extra"] = extra_keys
    moment = {"now": now or datetime.now(UTC), "time_zone": time_zone, "notes": notes}
    try:
        answer = EngineAnswer.model_validate(data, context=moment)
    except ValidationError as exc:
        return _incomplete(salvage(data, exc), problems(exc), categories, owner_name, extra)
    category = _known_category(answer.category, categories, notes)
    reason = " ".join(answer.reason.split())
    if notes:
        extra["notes"] = notes
        reason = f"{reason} ({'; '.join(notes)})".strip()
    return AIReply(
        reply=answer.reply.strip(),
        category=category,
        confidence=answer.confidence,
        reason=reason,
        extra=extra,
        follow_up=answer.follow_up.request() if answer.follow_up else None,
        promises=tuple(promise.seen() for promise in answer.promises or ()),
    )


def _known_category(category: str, categories: list[str], notes: list[str]) -> str:
    """The owner's category the engine named (in any letter case), else "other" with a note."""
    known = {name.lower(): name for name in categories}
    if category.strip().lower() not in known:
        notes.append(f"category {category!r} is not one of the owner's, so {OTHER}")
    return known.get(category.strip().lower(), OTHER)


def _incomplete(kept: dict, wrong: list[str], categories: list[str], owner_name: str, extra: dict) -> AIReply:
    """An answer with a missing or mistyped key: its usable reply, if any, as a low-confidence draft."""
    notes: list[str] = []
    category = _known_category(kept["category"], categories, notes) if "category" in kept else OTHER
    if notes:
        extra["notes"] = notes
    reply = kept.get("reply", "").strip()
    if not reply:
        return _low_confidence("", "; ".join(wrong), owner_name, extra)
    reason = " ".join(kept.get("reason", "").split())
    return AIReply(
        reply=reply[:TEXT_LIMIT],
        category=category,
        confidence=min(float(kept.get("confidence", 0.0)), INCOMPLETE_CONFIDENCE),
        reason=f"The engine's answer was incomplete ({'; '.join(wrong)}). {reason}".strip(),
        extra={**extra, "malformed": True},
    )

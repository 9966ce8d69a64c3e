"""The engine's answer as a pydantic model, and the `response_format` generated from it.

The model states the contract of docs/architecture.md ("The flow and its invariants", 5): the
four keys `reply`, `category`, `confidence` (0..1) and `reason`, strictly typed; the optional
`follow_up` and `promises` (`ai/promises.py`) are dropped with a note when invalid, never a
reason to distrust the reply. Validation context: `now`, `time_zone` (what times in words count
from) and `notes` (a list the dropped keys are noted in).
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from ai.promises import FollowUpAnswer, Promises
from ai.wire import Wire, problems, strict_schema

#: The response formats tried in turn: servers that refuse one (HTTP 400 naming it) get the next.
RESPONSE_FORMATS: tuple[str | None, ...] = ("json_schema", "json_object", None)
#: The name the schema is sent under (letters, digits, "_" and "-", at most 64).
SCHEMA_NAME = "gatekeeper_reply"


class EngineAnswer(Wire):
    """The reply to the company, with its category, how sure it is and why."""

    model_config = ConfigDict(extra="allow")  # other keys are kept aside (answer_extra), not refused

    reply: str = Field(description='the message to send to the company, or "" when none should be sent')
    category: str = Field(description="one of the owner's categories")
    confidence: float = Field(
        allow_inf_nan=False,
        description="0 to 1: how sure you are the reply is right and safe to send unchecked",
        json_schema_extra={"minimum": 0, "maximum": 1},
    )
    reason: str = Field(description="a short explanation of the category and the reply")
    follow_up: FollowUpAnswer | None = Field(
        None, description="write again later if the company does not answer"
    )
    promises: Promises | None = Field(None, description="what the company said it would do, by when")

    @field_validator("confidence")
    @classmethod
    def _on_the_scale(cls, confidence: float) -> float:
        # 85 may mean 85 % or nothing at all: an answer off the scale is never trusted.
        if not 0 <= confidence <= 1:
            raise ValueError(f"{confidence:g} is outside 0..1")
        return confidence

    @field_validator("follow_up", "promises", mode="wrap")
    @classmethod
    def _or_noted(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        """An invalid optional key is dropped, and the context's `notes` say why."""
        try:
            return handler(value)
        except ValidationError as exc:
            notes = info.context.get("notes") if isinstance(info.context, dict) else None
            if notes is not None:
                notes.append(f"{info.field_name} ignored: {'; '.join(problems(exc, (info.field_name,)))}")
            return None

    @model_validator(mode="after")
    def _reply_or_why_not(self) -> EngineAnswer:
        if not self.reply.strip() and not " ".join(self.reason.split()):
            raise ValueError('"reply" is empty and "reason" does not say why')
        return self


#: The keys every answer must carry.
REQUIRED_KEYS: tuple[str, ...] = tuple(
    name for name, field in EngineAnswer.model_fields.items() if field.is_required()
)

_SCHEMA = strict_schema(EngineAnswer)


def salvage(data: dict, exc: ValidationError) -> dict[str, Any]:
    """The well-typed required keys of an answer that failed validation (the others left out)."""
    wrong = {error["loc"][0] for error in exc.errors() if error["loc"]}
    return {key: data[key] for key in REQUIRED_KEYS if key in data and key not in wrong}


def response_format(kind: str | None, categories: list[str]) -> dict | None:
    """The Chat Completions `response_format` of that kind; a schema names the owner's categories."""
    if kind is None:
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    properties = _SCHEMA["properties"]
    category = {**properties["category"], "enum": list(categories)}
    schema = {**_SCHEMA, "properties": {**properties, "category": category}}  # the shared schema unchanged
    return {"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema}}

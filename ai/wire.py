"""The shape of what engines write, checked by pydantic, and its errors said in a short line.

Models of the engine's answer derive from `Wire`: JSON types taken strictly (no "0.9" for 0.9,
no true for 1), unknown keys not an error. The JSON schema sent to the model is generated from
the same models in the form OpenAI's Structured Outputs accept (`strict_schema`): every key
listed as required (an optional one is nullable instead) and no other key allowed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import ErrorDetails, core_schema


class Wire(BaseModel):
    """A JSON object an engine writes: types checked strictly; the schema forbids other keys."""

    model_config = ConfigDict(
        strict=True,
        extra="ignore",
        populate_by_name=False,
        json_schema_extra={"additionalProperties": False},
        json_schema_serialization_defaults_required=True,
    )


class _WithoutDefaults(GenerateJsonSchema):
    """Optional keys are nullable and required in strict schemas; their `"default": null` says nothing."""

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema as Structured Outputs take it (`"strict": true`)."""
    return model.model_json_schema(mode="serialization", schema_generator=_WithoutDefaults)


_NOT_A = {
    "string_type": "a string",
    "float_type": "a number",
    "finite_number": "a number",
    "int_type": "a number",
    "list_type": "a list",
    "model_type": "an object",
    "dict_type": "an object",
    "model_attributes_type": "an object",
}


def _where(loc: tuple[int | str, ...]) -> str:
    """`('promises', 1, 'what')` as `promises[1].what`."""
    where = ""
    for part in loc:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where


def say(error: ErrorDetails, within: tuple[int | str, ...] = ()) -> str:
    """One validation error as the short phrase a draft's reason can carry; `within` names its place."""
    where = _where(within + tuple(error["loc"]))
    kind = error["type"]
    if kind == "missing":
        return f'"{where}" is missing'
    if kind in _NOT_A:
        return f'"{where}" is not {_NOT_A[kind]}' if where else f"not {_NOT_A[kind]}"
    if kind == "value_error":
        message = str(error.get("ctx", {}).get("error", error["msg"]))
        return f'"{where}" {message}' if where else message
    return f'"{where}": {error["msg"]}' if where else error["msg"]


def problems(exc: ValidationError, within: tuple[int | str, ...] = ()) -> list[str]:
    """Every error of a failed validation, each as a short phrase (`within`: where the value sat)."""
    return [say(error, within) for error in exc.errors()]

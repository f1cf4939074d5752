"""JSON schemas of the event models as the decoder reads them, for the AsyncAPI document.

Pydantic's own schemas describe the models as Python sees them; three things differ on the
wire. `type` and `schema_version` have defaults in the models, yet the decoder picks the model
and the upcasters by them, so an event without them is dead-lettered: here they are required.
`key` is filled from the entity field when absent (Event._key_defaults_to_key_field): here it
is optional. Rates are Decimals that travel as strings; pydantic would offer a JSON number too.
Ids get the pattern of their hyphenated form, which draft-07 `format: uuid` does not promise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from shared.contract.envelope import Event

REF_TEMPLATE = "#/components/schemas/{model}"

DECIMAL_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
"""Plain decimal notation, as coinlog writes rates ("0.5", "100", "1.25")."""

DISPATCHED_BY = ("type", "schema_version")
"""Envelope fields the decoder needs before it knows the model (shared/contract/codec.py)."""

FILLED_WHEN_ABSENT = ("key",)
"""Required by the model, but its before-validator fills them in."""


UUID_PATTERN = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
"""The hyphenated form; draft-07 validators need not check `format: uuid`."""

BOUNDS = {"gt": "greater than", "ge": "at least", "lt": "less than", "le": "at most"}


class WireJsonSchema(GenerateJsonSchema):
    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        return {"type": "string", "pattern": DECIMAL_PATTERN, "x-decimal": True}

    def uuid_schema(self, schema: core_schema.UuidSchema) -> JsonSchemaValue:
        return {**super().uuid_schema(schema), "pattern": UUID_PATTERN}


def event_schemas(models: Iterable[type[Event]]) -> dict[str, JsonSchemaValue]:
    """Every model's schema and the schemas they refer to (nested models, enums), by name."""
    models = list(models)
    _, top = models_json_schema([(model, "validation") for model in models],
                                ref_template=REF_TEMPLATE, schema_generator=WireJsonSchema)
    schemas: dict[str, JsonSchemaValue] = top.get("$defs", {})
    nested = {model.__name__: model for model in _nested_models(models)}
    for name, schema in schemas.items():
        model = nested.get(name)
        if model is not None:
            _tidy(schema, model)
    for model in models:
        _wire_envelope(schemas[model.__name__], model)
    return dict(sorted(schemas.items()))


def _nested_models(models: list[type[Event]]) -> Iterable[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    pending: list[type[BaseModel]] = list(models)
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        yield model
        for field in model.model_fields.values():
            pending.extend(_models_in(field.annotation))


def _models_in(annotation: Any) -> Iterable[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in getattr(annotation, "__args__", ()):
        yield from _models_in(argument)


def _tidy(schema: JsonSchemaValue, model: type[BaseModel]) -> None:
    """Property titles only repeat the names; a field without a docstring of its own takes the
    one of the field it overrides (every event redeclares `type`, most `producer`)."""
    for name, prop in schema.get("properties", {}).items():
        prop.pop("title", None)
        description = _inherited_description(model, name)
        if description and "description" not in prop:
            prop["description"] = description
        _move_decimal_note(prop)


def _inherited_description(model: type[BaseModel], name: str) -> str | None:
    for base in model.__mro__:
        fields = getattr(base, "__pydantic_fields__", None)
        field = fields.get(name) if fields else None
        if field is not None and field.description:
            return field.description
    return None


def _move_decimal_note(prop: JsonSchemaValue) -> None:
    # A rate's bounds cannot be JSON Schema keywords on a string (pydantic leaves its own `gt`
    # and `le` there), so they join the text.
    for variant in [prop, *prop.get("anyOf", ())]:
        if variant.pop("x-decimal", None):
            bounds = [f"{text} {prop.pop(name)}" for name, text in BOUNDS.items() if name in prop]
            within = f", {' and '.join(bounds)}" if bounds else ""
            prop["description"] = (f"{prop.get('description', '').rstrip('.')}: a decimal "
                                   f"number written as a string{within}; a JSON number is "
                                   "not part of the contract.")


def _wire_envelope(schema: JsonSchemaValue, model: type[Event]) -> None:
    properties = schema["properties"]
    for name in DISPATCHED_BY:
        properties[name].pop("default", None)
    required = [*DISPATCHED_BY, *(name for name in schema.get("required", ())
                                  if name not in FILLED_WHEN_ABSENT)]
    schema["required"] = sorted(set(required), key=list(properties).index)
    properties["key"]["description"] = (
        f"{properties['key'].get('description', '').rstrip('.')}. Must equal "
        f"`{model.key_field}`, which it defaults to when absent.")

"""The envelope every event carries, and the base class of all event models."""

from __future__ import annotations

import builtins
import uuid
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contract.types import Identifier, Timestamp

E = TypeVar("E", bound="Event")

EVENT_NAMESPACE = uuid.UUID("6f1c2a52-8a53-4f0e-9d0c-2b7c0c9f4a11")
"""Namespace of derived event ids: uuid5(EVENT_NAMESPACE, cause id + step)."""


def derive_event_id(cause: uuid.UUID | str, step: str) -> uuid.UUID:
    """The id of an event caused by another. A re-decision after a crash yields the same id,
    so downstream deduplication recognises the repeat."""
    return uuid.uuid5(EVENT_NAMESPACE, f"{cause}/{step}")


class Event(BaseModel):
    """Envelope fields shared by every event; subclasses add the payload.

    `key` is the Kafka partition key and must equal the payload field named by `key_field`,
    so every event about one entity lands in one partition and is decided in order.
    """

    # Attribute docstrings become the fields' descriptions in the AsyncAPI document.
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    key_field: ClassVar[str]

    event_id: uuid.UUID
    """Unique id of this event; consumers drop a repeat of an id they have applied."""
    type: str
    """What happened: the name that selects the event's model on its topic."""
    schema_version: int
    """The version of the type's schema the event was written in; older ones are upcast."""
    occurred_at: Timestamp
    """When it happened, with a time-zone offset; decisions judge time by it, never by a clock."""
    producer: Identifier
    """The system that wrote the event."""
    key: str = Field(min_length=1, max_length=128)
    """The Kafka partition key of the record."""
    correlation_id: uuid.UUID | None = None
    """The id of the first event of the causal chain this one belongs to."""
    causation_id: uuid.UUID | None = None
    """The id of the event that directly caused this one."""

    @model_validator(mode="before")
    @classmethod
    def _key_defaults_to_key_field(cls, data: Any) -> Any:
        if isinstance(data, dict) and "key" not in data:
            key_value = data.get(cls.key_field, cls.model_fields[cls.key_field].default)
            if key_value is not None:
                return {**data, "key": key_value}
        return data

    @model_validator(mode="after")
    def _key_matches_key_field(self) -> Event:
        expected = getattr(self, self.key_field)
        if self.key != expected:
            raise ValueError(f"key {self.key!r} must equal {self.key_field} {expected!r}")
        return self

    # builtins.type: the field `type` of events shadows it in the class body.
    def caused(self, event_type: builtins.type[E], step: str, occurred_at: datetime | None = None,
               **payload: Any) -> E:
        """Build the event this one causes, with a derived id and the causal chain filled in."""
        return event_type.model_validate(
            {
                "event_id": derive_event_id(self.event_id, step),
                "occurred_at": occurred_at or self.occurred_at,
                "correlation_id": self.correlation_id or self.event_id,
                "causation_id": self.event_id,
                **payload,
            }
        )


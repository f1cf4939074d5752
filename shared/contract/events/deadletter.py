"""Published by every consumer for input it cannot accept, with the reason."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import StrictInt

from shared.contract.envelope import Event
from shared.contract.types import Identifier


class DeadLetterReason(StrEnum):
    """Values are part of the contract; never reuse one."""

    malformed = "malformed"
    """Not JSON, not an object, or no recognisable type."""
    schema_invalid = "schema_invalid"
    """JSON of a known type that fails validation."""
    unknown_type = "unknown_type"
    """A type this topic does not carry."""
    duplicate_conflict = "duplicate_conflict"
    """An event id seen before with different content."""
    handler_error = "handler_error"
    """The event crashed its handler even when applied alone."""
    key_mismatch = "key_mismatch"
    """The record's Kafka key is not the event's entity key (or the record has no key): it may
    sit on another entity's partition, out of order with that entity's events."""
    occurred_in_future = "occurred_in_future"
    """occurred_at is further ahead of the record's log timestamp than MAX_CLOCK_SKEW_S."""
    too_large = "too_large"
    """The record is larger than MAX_RECORD_BYTES."""
    unknown_fields = "unknown_fields"
    """Fields the event's schema does not name: a newer writer, or a typo nobody would see."""
    policy_conflict = "policy_conflict"
    """A policy event that contradicts one in effect: a coin package priced again under the
    same rate_version with other figures. The first price stands."""


class EventDeadLettered(Event):
    key_field = "consumer"
    type: Literal["runtime.event_dead_lettered"] = "runtime.event_dead_lettered"
    schema_version: Literal[1] = 1
    consumer: Identifier
    """The consumer that could not accept the record."""
    source_topic: str
    """The topic the record was read from."""
    source_partition: StrictInt
    """The record's partition."""
    source_offset: StrictInt
    """The record's offset."""
    source_key: str | None
    """The record's Kafka key as UTF-8, or null when it had none."""
    source_event_id: str | None
    """The record's `event_id` when one could be read, else null."""
    payload: str
    """The original bytes as UTF-8 (undecodable bytes replaced), for people to read."""
    payload_sha256: str
    """Hex SHA-256 of the record's content as the inbox compares it (JSON with sorted keys);
    empty when there was none."""
    reason: DeadLetterReason
    """Why the record was not accepted."""
    detail: str
    """What was wrong, for people to read (at most 2000 characters)."""

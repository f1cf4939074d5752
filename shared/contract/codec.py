"""Bytes on the wire <-> event models. JSON via orjson; upcasting on read."""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

import orjson
from pydantic import ValidationError

from shared.contract.envelope import Event
from shared.contract.events.deadletter import DeadLetterReason
from shared.contract.topics import Topic
from shared.contract.upcasting import upcast


def encode(event: Event) -> bytes:
    return orjson.dumps(event.model_dump(mode="json"))


class InvalidEvent(Exception):
    def __init__(self, reason: DeadLetterReason, detail: str, event_id: str | None = None):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.event_id = event_id


class Decoded(NamedTuple):
    # A tuple rather than a frozen dataclass: it is built once per record read.
    event: Event
    content_sha256: bytes
    """Digest of the canonical content, to tell a harmless republish from a conflicting one."""
    upcast: bool = False
    """The record was written at an older schema_version: its bytes are not the event's JSON."""


_CURRENT_VERSIONS: dict[type[Event], int] = {}


def current_version(model: type[Event]) -> int:
    # Class-level model_fields is a computed property in pydantic 2.11; at a million decodes
    # its cost shows.
    version = _CURRENT_VERSIONS.get(model)
    if version is None:
        version = _CURRENT_VERSIONS[model] = model.model_fields["schema_version"].default
    return version


def decode(topic: Topic, raw: bytes | None, *, digest: bool = True) -> Decoded:
    """Raise InvalidEvent with a reason a person can act on; never anything else.

    `digest=False` leaves content_sha256 empty, for readers that never compare contents."""
    if not raw:
        raise InvalidEvent(DeadLetterReason.malformed, "empty message")
    try:
        payload: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise InvalidEvent(DeadLetterReason.malformed, f"not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise InvalidEvent(DeadLetterReason.malformed, "not a JSON object")
    event_id = payload.get("event_id")
    event_id = event_id if isinstance(event_id, str) else None
    event_type = payload.get("type")
    if not isinstance(event_type, str):
        raise InvalidEvent(DeadLetterReason.malformed, "no type field", event_id)
    model = topic.event_types.get(event_type)
    if model is None:
        raise InvalidEvent(
            DeadLetterReason.unknown_type, f"{event_type!r} is not carried by {topic.name}",
            event_id,
        )
    version = current_version(model)
    upcasted = payload.get("schema_version") != version
    if upcasted:
        try:
            payload = upcast(payload, version)
        except ValueError as error:
            raise InvalidEvent(DeadLetterReason.schema_invalid, str(error), event_id) from None
        raw = orjson.dumps(payload)
    try:
        event = model.model_validate_json(raw)
    except ValidationError as error:
        raise InvalidEvent(DeadLetterReason.schema_invalid, _summary(error), event_id) from None
    if not digest:
        return Decoded(event, b"", upcasted)
    canonical = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    return Decoded(event, hashlib.sha256(canonical).digest(), upcasted)


def _summary(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False)[:5]:
        location = ".".join(str(part) for part in item["loc"]) or "(event)"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)

"""Bytes on the wire <-> event models. JSON via orjson; upcasting on read.

The boundary is strict, the same for every consumer and for every replay (both decode here):
a record is at most MAX_RECORD_BYTES; fields the schema does not name are refused
(unknown_fields); times are RFC 3339 text with an offset (shared/contract/types.Timestamp); the
record's key is the event's entity key (a keyless record is refused too: Kafka would have put it
on any partition); and occurred_at is at most MAX_CLOCK_SKEW_S ahead of the record's timestamp,
which the broker stamps on the input topics (message.timestamp.type=LogAppendTime), so a
publisher's clock cannot date an event into the future, and a replay reads the same timestamp.
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

import orjson
from pydantic import ValidationError

from shared.contract.envelope import Event
from shared.contract.events.deadletter import DeadLetterReason
from shared.contract.topics import Topic
from shared.contract.upcasting import upcast

MAX_RECORD_BYTES = 64 * 1024
"""The largest record value any consumer accepts. Producers stay far below it (the largest
events, dead letters, cut the copy of their source to fit)."""

MAX_CLOCK_SKEW_S = 300
"""How far an event's occurred_at may be ahead of its record's log timestamp: the publisher's
clock may run this fast, and no faster, before its events are refused as occurred_in_future."""


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
    """Digest of the validated event's canonical JSON (fields in schema order, times in UTC,
    absent optional fields as null), to tell a harmless republish from a conflicting one: two
    spellings of one event have one digest."""
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
    payload = _json_object(raw)
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
    written_at = payload.get("schema_version")
    if type(written_at) is not int:  # true and 1.0 compare equal to 1
        raise InvalidEvent(DeadLetterReason.schema_invalid,
                           f"schema_version must be a JSON integer, not {written_at!r}", event_id)
    upcasted = written_at != version
    if upcasted:
        try:
            payload = upcast(payload, version)
        except ValueError as error:
            raise InvalidEvent(DeadLetterReason.schema_invalid, str(error), event_id) from None
        raw = orjson.dumps(payload)
    try:
        event = model.model_validate_json(raw)
    except ValidationError as error:
        raise _rejection(error, event_id) from None
    if not digest:
        return Decoded(event, b"", upcasted)
    return Decoded(event, content_sha256(event), upcasted)


def _json_object(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_RECORD_BYTES:
        raise InvalidEvent(DeadLetterReason.too_large,
                           f"{len(raw)} bytes, more than the {MAX_RECORD_BYTES} accepted")
    try:
        payload: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise InvalidEvent(DeadLetterReason.malformed, f"not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise InvalidEvent(DeadLetterReason.malformed, "not a JSON object")
    return payload


def content_sha256(event: Event) -> bytes:
    return hashlib.sha256(event.__pydantic_serializer__.to_json(event)).digest()


def legacy_content_sha256(topic: Topic, raw: bytes) -> bytes | None:
    """The digest as it was computed before content_sha256 (the sorted JSON of the upcast
    payload), which inbox rows written then still hold. None when the bytes do not decode."""
    try:
        payload = orjson.loads(raw)
        model = topic.event_types[payload["type"]]
        payload = upcast(payload, current_version(model))
    except (orjson.JSONDecodeError, TypeError, KeyError, ValueError):
        return None
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).digest()


def decode_record(topic: Topic, key: bytes | None, raw: bytes | None, timestamp_ms: int, *,
                  digest: bool = True) -> Decoded:
    """decode, and the checks that need the record around the bytes: its key and timestamp."""
    decoded = decode(topic, raw, digest=digest)
    check_record(decoded.event, key, timestamp_ms)
    return decoded


def check_record(event: Event, key: bytes | None, timestamp_ms: int) -> None:
    event_id = str(event.event_id)
    if key is None:
        raise InvalidEvent(DeadLetterReason.key_mismatch,
                           f"the record has no key; the event's key is {event.key!r}", event_id)
    if key != event.key.encode():
        raise InvalidEvent(
            DeadLetterReason.key_mismatch,
            f"record key {key.decode('utf-8', 'replace')!r} is not the event's key {event.key!r}",
            event_id,
        )
    ahead_ms = int(event.occurred_at.timestamp() * 1000) - timestamp_ms
    if ahead_ms > MAX_CLOCK_SKEW_S * 1000:
        raise InvalidEvent(
            DeadLetterReason.occurred_in_future,
            f"occurred_at {event.occurred_at.isoformat()} is {ahead_ms / 1000:.3f} s after the "
            f"record's timestamp (at most {MAX_CLOCK_SKEW_S} s accepted)", event_id,
        )


def _rejection(error: ValidationError, event_id: str | None) -> InvalidEvent:
    items = error.errors(include_url=False)
    unknown = [".".join(str(part) for part in item["loc"]) for item in items
               if item["type"] == "extra_forbidden"]
    if unknown:
        return InvalidEvent(DeadLetterReason.unknown_fields,
                            "not in the schema: " + ", ".join(unknown[:10]), event_id)
    return InvalidEvent(DeadLetterReason.schema_invalid, _summary(error), event_id)


def _summary(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False)[:5]:
        location = ".".join(str(part) for part in item["loc"]) or "(event)"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)

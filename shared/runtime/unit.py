"""What a handler sees: the events to apply and one transaction to apply them in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from shared.contract.codec import encode
from shared.contract.envelope import Event
from shared.contract.events.deadletter import DeadLetterReason
from shared.contract.topics import Topic, topic_of
from shared.runtime.origin import origin_header


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka record, independent of the client library that fetched it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int = 0
    log_append_time: bool = False
    """The broker stamped `timestamp_ms` (the topic's LogAppendTime), not the publisher."""


@dataclass(frozen=True, slots=True)
class Inbound:
    event: Event
    record: Record
    trace_headers: tuple[tuple[str, bytes], ...] = ()
    """The context of the span that applies this event: what the events it causes carry."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    event_id: UUID
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    type: str = ""
    """The event's type; empty for a dead letter."""


@dataclass
class Unit:
    """One database transaction and the events it will publish when it commits."""

    conn: asyncpg.Connection
    outgoing: list[Outgoing] = field(default_factory=list)
    events: list[tuple[Event, bytes]] = field(default_factory=list)
    """The service's decisions with their encoding, also kept in its event history."""
    refused: list[tuple[Inbound, DeadLetterReason, str]] = field(default_factory=list)
    """Inputs the handler would not apply, with the reason and what was wrong: dead-lettered
    when the batch commits, like the records that fail to decode. Their inbox rows stay, so a
    redelivery is a duplicate, not a second try."""

    def emit(self, event: Event, *, topic: Topic | None = None,
             cause: Inbound | None = None) -> None:
        target = topic or topic_of(event)
        headers = _headers_caused_by(cause) if cause else ()
        value = encode(event)
        self.outgoing.append(Outgoing(event.event_id, target.name, event.key.encode(), value,
                                      headers, event.type))
        self.events.append((event, value))

    def refuse(self, inbound: Inbound, reason: DeadLetterReason, detail: str) -> None:
        """Dead-letter an input the handler will not apply (it changed nothing for it)."""
        self.refused.append((inbound, reason, detail))


BatchHandler = Callable[[Unit, Sequence[Inbound]], Awaitable[None]]
"""Applies events in order inside `unit.conn`'s transaction. Business outcomes, rejections
included, are emitted events; an exception means a bug or an outage, never a decision."""

EntitiesOf = Callable[[Event], Iterable[str]]
"""The entities (a wallet, a creator, ...) whose state deciding an input event reads or
writes: the runtime locks them before the handler sees the batch."""


def no_entities(event: Event) -> Iterable[str]:
    return ()

_PROPAGATED = frozenset({"traceparent", "tracestate", "baggage"})


def _headers_caused_by(cause: Inbound) -> tuple[tuple[str, bytes], ...]:
    """The cause's trace context (its span's, or what it arrived with) and its origin."""
    record = cause.record
    return (*(cause.trace_headers or _trace_headers(record.headers)),
            origin_header(record.headers, record.timestamp_ms, record.log_append_time))


def _trace_headers(headers: tuple[tuple[str, bytes], ...]) -> tuple[tuple[str, bytes], ...]:
    return tuple((name, value) for name, value in headers if name in _PROPAGATED)

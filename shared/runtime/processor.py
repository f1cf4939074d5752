"""Applies one batch of records in one PostgreSQL transaction, exactly once.

The transaction locks the consumer's tracking rows for the batch's partitions, drops records
below the recorded offsets (redeliveries), drops producer duplicates by event id (a changed
payload under a known id is dead-lettered), runs the handler, writes the handler's events and
the dead letters to the outbox, and moves the tracking offsets, all or nothing. Two locks fence
instances from each other. The row lock on tracking fences a partition: a stale instance that
still holds a batch after a rebalance waits for the new owner's commit, then finds the offsets
already applied. The entity locks (shared/runtime/locks.py), taken before the handler runs, fence
an entity whose inputs come from partitions other instances own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from shared.contract.codec import (
    MAX_RECORD_BYTES,
    InvalidEvent,
    decode_record,
    encode,
    legacy_content_sha256,
)
from shared.contract.envelope import derive_event_id
from shared.contract.events.deadletter import DeadLetterReason, EventDeadLettered
from shared.contract.topics import Topic
from shared.runtime import logs, metrics
from shared.runtime.backoff import Backoff
from shared.runtime.batch_end import finish_batch
from shared.runtime.locks import in_lock_order, lock_rows
from shared.runtime.tracing import BatchSpans
from shared.runtime.unit import (
    BatchHandler,
    EntitiesOf,
    Inbound,
    Outgoing,
    Record,
    Unit,
    no_entities,
)

log = logging.getLogger(__name__)

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
)
"""The connection is gone or in a state nobody knows (asyncpg's client errors after the server
ended the session mid-transaction): it is closed, never handed to the next batch."""

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    *CONNECTION_ERRORS,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)
"""Outages and lost races: the batch is retried whole; nothing is dead-lettered for them."""


def is_transient(error: BaseException) -> bool:
    # asyncpg's DataError (an argument PostgreSQL cannot take) is an InterfaceError too, but
    # the same event fails the same way every time: it is the handler's, not the outage's.
    return isinstance(error, TRANSIENT_ERRORS) and not isinstance(error, asyncpg.DataError)


@dataclass
class BatchResult:
    applied: int = 0
    redelivered: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    gaps: dict[tuple[str, int], int] = field(default_factory=dict)
    """Partitions whose records started beyond the tracked offset, with the offset to seek
    back to. Their records were not applied: applying them would skip the ones in between."""
    published: list[Outgoing] = field(default_factory=list, repr=False)


@dataclass(frozen=True, slots=True)
class _Rejected:
    record: Record
    reason: DeadLetterReason
    detail: str
    event_id: str | None
    content_sha256: bytes | None = None


class BatchProcessor:
    def __init__(self, *, consumer: str, topics: Sequence[Topic], handler: BatchHandler,
                 pool: asyncpg.Pool, dead_letter_topic: Topic, notify_channel: str = "outbox",
                 topic_prefix: str = "", entities: EntitiesOf = no_entities):
        self.consumer = consumer
        self.group = topic_prefix + consumer
        self.topics = {topic_prefix + topic.name: topic for topic in topics}
        self.handler = handler
        self.entities = entities
        self.pool = pool
        self.dead_letter_topic = dead_letter_topic
        self.notify_channel = notify_channel
        for reason in DeadLetterReason:
            # Present at 0 from the start, so an alert on their increase sees the first one.
            metrics.DEAD_LETTERS.labels(consumer, reason.value)
        self.last_attempt = 0.0
        """When a batch attempt last ended, applied or failed (time.monotonic()): a batch
        retried through an outage is making progress, for the liveness check."""

    async def process(self, records: Sequence[Record]) -> BatchResult:
        """Retry until the batch is applied: an outage must delay events, never drop them."""
        backoff = Backoff()
        isolate = False
        attempts = 0
        first_failure = 0.0
        while True:
            started = time.perf_counter()
            try:
                result = await self._process_once(records, isolate=isolate)
            except Exception as error:
                self.last_attempt = time.monotonic()
                if is_transient(error):
                    metrics.BATCH_RETRIES.labels(self.consumer, "transient").inc()
                    attempts += 1
                    first_failure = first_failure or started
                    log.warning("%s: batch retried after %r", self.consumer, error)
                    await backoff.wait()
                    continue
                metrics.BATCH_RETRIES.labels(self.consumer, "handler_error").inc()
                if isolate:
                    log.exception("%s: batch failed outside the handler; retrying", self.consumer)
                else:
                    log.exception("%s: handler failed; applying the batch event by event",
                                  self.consumer)
                    isolate = True
                    continue
                await backoff.wait()
            else:
                self.last_attempt = time.monotonic()
                finished = time.perf_counter()
                metrics.BATCH_SECONDS.labels(self.consumer).observe(finished - started)
                if attempts:
                    log.warning("%s: batch applied after %d failed attempts over %.1f s",
                                self.consumer, attempts, finished - first_failure)
                return result

    async def _process_once(self, records: Sequence[Record], *, isolate: bool) -> BatchResult:
        async with self.pool.acquire() as conn:
            try:
                return await self._in_transaction(conn, records, isolate=isolate)
            except CONNECTION_ERRORS as error:
                if is_transient(error):
                    # Already detached when asyncpg noticed the loss itself.
                    with contextlib.suppress(asyncpg.InterfaceError):
                        conn.terminate()
                raise

    async def _in_transaction(self, conn: asyncpg.Connection, records: Sequence[Record], *,
                              isolate: bool) -> BatchResult:
        result = BatchResult()
        async with conn.transaction():
            positions = await self._lock_positions(conn, records)
            fresh = [r for r in records if r.offset >= positions[(r.topic, r.partition)]]
            result.redelivered = len(records) - len(fresh)
            fresh, result.gaps = _without_gaps(fresh, positions)
            if not fresh:
                self._count(result, [])
                return result
            decoded, rejected = self._decode(fresh)
            accepted, result.duplicates = await self._deduplicate(conn, decoded, rejected)
            with BatchSpans(self.group, accepted) as spans:
                accepted = spans.inbounds
                unit = Unit(conn)
                if isolate:
                    await self._apply_one_by_one(unit, accepted, rejected)
                elif accepted:
                    with _handling(accepted):
                        await self.handler(unit, accepted)
                rejected.extend(_Rejected(inbound.record, reason, detail,
                                          str(inbound.event.event_id))
                                for inbound, reason, detail in unit.refused)
                unit.outgoing.extend(self._dead_letter(rejected))
                await finish_batch(conn, consumer=self.consumer, applied=fresh,
                                   outgoing=unit.outgoing, decided=unit.events,
                                   notify_channel=self.notify_channel)
        result.applied = len(accepted) - sum(1 for r in rejected if r.reason is
                                             DeadLetterReason.handler_error)
        result.dead_lettered = len(rejected)
        result.published = unit.outgoing
        self._count(result, rejected)
        return result

    async def _lock_positions(self, conn: asyncpg.Connection,
                              records: Sequence[Record]) -> dict[tuple[str, int], int]:
        partitions = sorted({(r.topic, r.partition) for r in records})
        positions = await self._select_for_update(conn, partitions)
        missing = [position for position in partitions if position not in positions]
        if missing:
            # Only a partition's first batch ever gets here.
            await conn.execute(
                """INSERT INTO tracking (consumer, topic, partition, next_offset)
                   SELECT $1, t, p, 0 FROM unnest($2::text[], $3::int[]) AS x(t, p)
                   ON CONFLICT DO NOTHING""",
                self.consumer, [topic for topic, _ in missing], [number for _, number in missing],
            )
            positions.update(await self._select_for_update(conn, missing))
        return positions

    async def _select_for_update(self, conn: asyncpg.Connection,
                                 partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        rows = await conn.fetch(
            """SELECT topic, partition, next_offset FROM tracking
               WHERE consumer = $1
                 AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[]))
               ORDER BY topic, partition
               FOR UPDATE""",
            self.consumer, [topic for topic, _ in partitions],
            [number for _, number in partitions],
        )
        return {(row["topic"], row["partition"]): row["next_offset"] for row in rows}

    def _decode(self, records: list[Record]) -> tuple[list[tuple[Inbound, bytes]], list[_Rejected]]:
        accepted: list[tuple[Inbound, bytes]] = []
        rejected: list[_Rejected] = []
        for record in records:
            topic = self.topics.get(record.topic)
            if topic is None:
                rejected.append(_Rejected(record, DeadLetterReason.unknown_type,
                                          f"{self.consumer} does not read {record.topic}", None))
                continue
            try:
                decoded = decode_record(topic, record.key, record.value, record.timestamp_ms)
            except InvalidEvent as error:
                rejected.append(_Rejected(record, error.reason, error.detail, error.event_id))
                continue
            accepted.append((Inbound(decoded.event, record), decoded.content_sha256))
        return accepted, rejected

    async def _deduplicate(self, conn: asyncpg.Connection,
                           candidates: list[tuple[Inbound, bytes]],
                           rejected: list[_Rejected]) -> tuple[list[Inbound], int]:
        if not candidates:
            return [], 0
        first_seen: dict[UUID, tuple[Inbound, bytes]] = {}
        repeats: list[tuple[Inbound, bytes]] = []
        for inbound, digest in candidates:
            event_id = inbound.event.event_id
            if event_id in first_seen:
                repeats.append((inbound, digest))
            else:
                first_seen[event_id] = (inbound, digest)
        rows = await conn.fetch(
            _INBOX_THEN_ENTITY_LOCKS, self.consumer, *_inbox_columns(first_seen),
            in_lock_order(entity for inbound, _ in first_seen.values()
                          for entity in self.entities(inbound.event)),
        )
        inserted = {row["event_id"] for row in rows}
        known = {event_id: digest for event_id, (_, digest) in first_seen.items()
                 if event_id in inserted}
        seen_before = [pair for event_id, pair in first_seen.items() if event_id not in inserted]
        if seen_before:
            stored = await conn.fetch(
                "SELECT event_id, content_sha256 FROM inbox WHERE consumer = $1"
                " AND event_id = ANY($2::uuid[])",
                self.consumer, [inbound.event.event_id for inbound, _ in seen_before],
            )
            known.update({row["event_id"]: bytes(row["content_sha256"]) for row in stored})
        duplicates = 0
        for inbound, digest in seen_before + repeats:
            if known[inbound.event.event_id] in (digest, self._legacy_digest(inbound)):
                duplicates += 1
            else:
                rejected.append(_Rejected(
                    inbound.record, DeadLetterReason.duplicate_conflict,
                    f"event {inbound.event.event_id} was seen before with different content",
                    str(inbound.event.event_id), digest,
                ))
        fresh = [inbound for event_id, (inbound, _) in first_seen.items() if event_id in inserted]
        return fresh, duplicates

    def _legacy_digest(self, inbound: Inbound) -> bytes | None:
        """Inbox rows written before content digests were canonical hold the digest of the
        sorted raw JSON: a republish of such an event is still a duplicate, not a conflict.
        Computed only for the rare repeat whose canonical digest differs."""
        record = inbound.record
        return legacy_content_sha256(self.topics[record.topic], record.value or b"")

    async def _apply_one_by_one(self, unit: Unit, accepted: list[Inbound],
                                rejected: list[_Rejected]) -> None:
        """The slow path after a handler crash: each event in its own savepoint, so one poison
        event is dead-lettered and the rest are applied."""
        for inbound in accepted:
            alone = Unit(unit.conn)
            try:
                async with unit.conn.transaction():
                    with _handling([inbound]):
                        await self.handler(alone, [inbound])
            except Exception as error:
                if is_transient(error):
                    raise
                detail = "".join(traceback.format_exception_only(error)).strip()[:2000]
                rejected.append(_Rejected(inbound.record, DeadLetterReason.handler_error, detail,
                                          str(inbound.event.event_id)))
                await unit.conn.execute(
                    "DELETE FROM inbox WHERE consumer = $1 AND event_id = $2",
                    self.consumer, inbound.event.event_id,
                )
            else:
                unit.outgoing.extend(alone.outgoing)
                unit.events.extend(alone.events)
                unit.refused.extend(alone.refused)

    def _dead_letter(self, rejected: list[_Rejected]) -> list[Outgoing]:
        letters = []
        for item in rejected:
            record = item.record
            source = f"{record.topic}/{record.partition}/{record.offset}"
            letter = _letter(self.consumer, item, source)
            letters.append(Outgoing(letter.event_id, self.dead_letter_topic.name,
                                    letter.key.encode(), encode(letter), record.headers))
            log.warning("%s: dead-lettered %s: %s %s", self.consumer, source, item.reason,
                        item.detail)
        return letters

    def _count(self, result: BatchResult, rejected: list[_Rejected]) -> None:
        if result.gaps:
            metrics.EVENTS_SKIPPED.labels(self.consumer, "gap").inc(len(result.gaps))
            log.warning("%s: records beyond the tracked offsets of %s; seeking back",
                        self.consumer, result.gaps)
        metrics.EVENTS_APPLIED.labels(self.consumer).inc(result.applied)
        if result.redelivered:
            metrics.EVENTS_SKIPPED.labels(self.consumer, "redelivered").inc(result.redelivered)
        if result.duplicates:
            metrics.EVENTS_SKIPPED.labels(self.consumer, "duplicate").inc(result.duplicates)
        for item in rejected:
            metrics.DEAD_LETTERS.labels(self.consumer, item.reason.value).inc()


# The inbox rows in one order (by id) in every batch: two batches inserting the same ids (a
# duplicate published to two partitions) then wait for each other instead of deadlocking. The
# same statement then locks the entities the batch's events decide for (shared/runtime/locks.py),
# before the handler runs; the lock reads the inbox insert's count, so it comes second, as a
# statement of its own would. A repeated event's entities are locked too, at no other cost than
# holding them until the commit.
_INBOX_THEN_ENTITY_LOCKS = f"""
    WITH inserted AS (
        INSERT INTO inbox (consumer, event_id, content_sha256, topic, partition, "offset")
        SELECT $1, * FROM unnest($2::uuid[], $3::bytea[], $4::text[], $5::int[], $6::bigint[])
        ON CONFLICT DO NOTHING
        RETURNING event_id
    ), locked AS (
        {lock_rows("$7", after="(SELECT count(*) FROM inserted) >= 0")}
    )
    SELECT event_id FROM inserted
"""


def _inbox_columns(first_seen: dict[UUID, tuple[Inbound, bytes]]) -> tuple[list, ...]:
    by_id = sorted(first_seen.items())
    return ([event_id for event_id, _ in by_id],
            [digest for _, (_, digest) in by_id],
            [inbound.record.topic for _, (inbound, _) in by_id],
            [inbound.record.partition for _, (inbound, _) in by_id],
            [inbound.record.offset for _, (inbound, _) in by_id])


def _handling(inbounds: Sequence[Inbound]) -> contextlib.AbstractContextManager[None]:
    """Log lines name the event handled; a batch of several names none of them."""
    if len(inbounds) != 1:
        return contextlib.nullcontext()
    event = inbounds[0].event
    return logs.handling(event.event_id, event.correlation_id, inbounds[0].trace_headers)


def _without_gaps(fresh: list[Record], positions: dict[tuple[str, int], int]
                  ) -> tuple[list[Record], dict[tuple[str, int], int]]:
    """Drop the partitions whose first new record is past the tracked offset.

    A fresh tracking row (offset 0) accepts any start: the log may begin later than 0. Any
    other jump means records were skipped on the way here, so none of them is applied.
    """
    first: dict[tuple[str, int], int] = {}
    for record in fresh:
        first.setdefault((record.topic, record.partition), record.offset)
    gaps = {position: positions[position] for position, offset in first.items()
            if 0 < positions[position] < offset}
    if not gaps:
        return fresh, {}
    return [r for r in fresh if (r.topic, r.partition) not in gaps], gaps



LETTER_PAYLOAD_BYTES = MAX_RECORD_BYTES // 8
"""How much of the source a dead letter copies: even escaped to six bytes per byte in JSON,
the letter stays below the record size limit its readers apply."""


def _letter(consumer: str, item: _Rejected, source: str) -> EventDeadLettered:
    record = item.record
    value = record.value or b""
    return EventDeadLettered(
        event_id=derive_event_id(source, "dead-letter"),
        occurred_at=datetime.fromtimestamp(max(record.timestamp_ms, 0) / 1000, UTC),
        producer=consumer,
        key=consumer,
        consumer=consumer,
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
        source_key=record.key.decode("utf-8", "replace") if record.key else None,
        source_event_id=item.event_id,
        payload=value[:LETTER_PAYLOAD_BYTES].decode("utf-8", "replace"),
        payload_sha256=(item.content_sha256 or b"").hex(),
        reason=item.reason,
        detail=item.detail[:2000],
    )

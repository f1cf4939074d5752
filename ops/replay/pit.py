"""Point-in-time balances: a wallet or a creator as it was at an offset or a time, from periodic
snapshots plus a replay of one partition from the nearest one.

Snapshots live in the schema `audit` (shared by every environment; rows name the full Kafka
topic, prefix included):

    audit.pit_marks(topic, partition, offset)            a snapshot was taken there
    audit.pit_snapshots(topic, partition, offset, entity, state jsonb, recent uuid[])

A snapshot at offset O of a partition is every entity's state after the records BEFORE O (the
same exclusive convention as a Cut). `snapshot()` walks each partition of wallet.ledger (or
payout.ledger) from its latest mark and writes a mark at every multiple of `every`. An entity
without a row at a mark had no events before it. `recent` keeps the entity's last event ids so
that a republished event (the relay repeats after a crash) is still applied once across a mark.

Answering: the entity's partition is murmur2(key) as Kafka's default partitioner chooses it;
the requested point is `partition:offset`, a plain offset (on that partition) or a timestamp
(the first offset at or after it, via offsets_for_times: records stamped before it count).
The timestamp is the Kafka record timestamp (when the service published the decision), not
the events' occurred_at (log time chosen by the producers of facts). The
latest mark at or before the point gives the starting state; that partition's records of the
entity are folded from there up to the point.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.partitioner import murmur2

from ops.progress import Ticker
from services.registry import ENTITY_KINDS
from shared import kafka_client
from shared.contract.codec import InvalidEvent, decode_record
from shared.projection import EntityKind
from shared.settings import Settings

SCHEMA = "audit"
RECENT = 64

DDL = """
CREATE SCHEMA IF NOT EXISTS audit;
CREATE TABLE IF NOT EXISTS audit.pit_marks (
    topic      text    NOT NULL,
    partition  integer NOT NULL,
    "offset"   bigint  NOT NULL,
    entities   integer NOT NULL,
    taken_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset")
);
CREATE TABLE IF NOT EXISTS audit.pit_snapshots (
    topic      text    NOT NULL,
    partition  integer NOT NULL,
    "offset"   bigint  NOT NULL,
    entity     text    NOT NULL,
    state      jsonb   NOT NULL,
    recent     uuid[]  NOT NULL,
    problem    text,
    PRIMARY KEY (topic, partition, entity, "offset")
);
"""


# ---- pure pieces ----------------------------------------------------------------------------

def partition_for(key: str | bytes, partitions: int) -> int:
    """Kafka's default partitioner for a keyed record (murmur2, positive, modulo)."""
    raw = key.encode() if isinstance(key, str) else key
    return (murmur2(raw) & 0x7FFFFFFF) % partitions


def choose_mark(marks: Iterable[int], offset: int) -> int | None:
    """The latest snapshot offset at or before `offset`, None when there is none."""
    return max((mark for mark in marks if mark <= offset), default=None)


def marks_between(after: int, upto: int, every: int) -> list[int]:
    """Multiples of `every` in (after, upto]: where a walk from `after` to `upto` snapshots."""
    first = (after // every + 1) * every
    return list(range(first, upto + 1, every))


@dataclass(frozen=True)
class Point:
    partition: int
    offset: int | None
    at: datetime | None


_PARTITION_OFFSET = re.compile(r"^(\d+):(\d+)$")


def parse_as_of(text: str, partition: int) -> Point:
    """`partition:offset` (must be the entity's partition), `offset`, or an ISO 8601 time
    (naive means UTC)."""
    text = text.strip()
    match = _PARTITION_OFFSET.match(text)
    if match:
        asked = int(match.group(1))
        if asked != partition:
            raise ValueError(f"the entity lives on partition {partition}, not {asked}")
        return Point(partition, int(match.group(2)), None)
    if text.isdigit():
        return Point(partition, int(text), None)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--as-of {text!r}: not partition:offset, an offset or an ISO time"
                         ) from None
    return Point(partition, None, moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _kind(name: str) -> EntityKind:
    try:
        return ENTITY_KINDS[name]
    except KeyError:
        raise ValueError(f"unknown kind {name!r}; one of {', '.join(ENTITY_KINDS)}") from None


class EntityFold:
    """One entity's accumulated state and its recent event ids (dedup across marks)."""

    def __init__(self, kind: EntityKind, entity: str, state: Any = None,
                 recent: Iterable[Any] = (), problem: str | None = None):
        self.problem = problem
        """Set when an event did not fold (a log our decisions could not have written): the
        state stays as it was before that event and later events are not applied."""
        self.kind = kind
        self.entity = entity
        self.acc = kind.start(entity) if state is None else kind.thaw(state)
        self.recent: deque = deque(recent, maxlen=RECENT)
        self.applied = 0

    def apply(self, event: Any) -> None:
        if self.problem is not None or event.event_id in self.recent:
            return
        try:
            self.acc = self.kind.step(self.acc, event)
        except ValueError as error:  # InconsistentHistory among others
            self.problem = f"{event.type} {event.event_id} does not fold: {error}"[:500]
            return
        self.recent.append(event.event_id)
        self.applied += 1

    @property
    def state(self) -> Any:
        return self.kind.freeze(self.acc)


# ---- the log and the database -----------------------------------------------------------------

async def read_partition(consumer: AIOKafkaConsumer, topic: str, partition: int, start: int,
                         end: int) -> AsyncIterator[list]:
    """Records [start, end) of one partition, in order, in batches."""
    if end <= start:
        return
    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    consumer.seek(tp, start)
    while True:
        fetched = await consumer.getmany(tp, timeout_ms=1000, max_records=5000)
        records = [r for r in fetched.get(tp, []) if r.offset < end]
        if records:
            yield records
        position = await consumer.position(tp)
        if position >= end:
            return


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    """The topic's partition numbers from fresh cluster metadata (empty if no such topic)."""
    metadata = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - no public call for it
    return sorted(metadata.partitions_for_topic(topic) or ())


def _consumer(bootstrap_servers: str) -> AIOKafkaConsumer:
    return kafka_client.consumer(bootstrap_servers=bootstrap_servers, group_id=None,
                                 enable_auto_commit=False, auto_offset_reset="earliest",
                                 max_partition_fetch_bytes=8 * 1024 * 1024)


async def ensure_tables(conn: asyncpg.Connection) -> None:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('coinlog:pit-ddl'))")
        await conn.execute(DDL)


def _decoded(kind: EntityKind, record: ConsumerRecord) -> Any | None:
    try:
        return decode_record(kind.topic, record.key, record.value, record.timestamp).event
    except InvalidEvent:
        return None


@dataclass
class SnapshotRun:
    topic: str
    marks: dict[int, list[int]]
    records: int


async def snapshot(kind_name: str, prefix: str = "", *, every: int = 10_000,
                   database_url: str | None = None, bootstrap_servers: str | None = None,
                   ticker: Ticker | None = None) -> SnapshotRun:
    """Extend the snapshots of every partition up to its end offset now (`ticker`: told
    the records to read and each batch read)."""
    kind = _kind(kind_name)
    settings = Settings()
    topic = prefix + kind.topic.name
    conn = await asyncpg.connect(database_url or settings.database_url)
    consumer = _consumer(bootstrap_servers or settings.kafka_bootstrap_servers)
    await consumer.start()
    written: dict[int, list[int]] = {}
    records = 0
    try:
        await ensure_tables(conn)
        partitions = await partitions_of(consumer, topic)
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        for partition in partitions:
            written[partition], read = await _snapshot_partition(
                conn, consumer, kind, topic, partition, ends[TopicPartition(topic, partition)],
                every, ticker)
            records += read
    finally:
        await consumer.stop()
        await conn.close()
    return SnapshotRun(topic, written, records)


async def _snapshot_partition(conn: asyncpg.Connection, consumer: AIOKafkaConsumer,
                              kind: EntityKind, topic: str, partition: int, end: int,
                              every: int, ticker: Ticker | None = None) -> tuple[list[int], int]:
    """Fold one partition from its latest mark to `end`, writing a mark at every multiple of
    `every` on the way. Returns the marks written and the records read."""
    start = await conn.fetchval(
        'SELECT max("offset") FROM audit.pit_marks WHERE topic = $1 AND partition = $2',
        topic, partition) or 0
    folds: dict[str, EntityFold] = {}
    for row in await conn.fetch(
            'SELECT entity, state::text AS state, recent, problem FROM audit.pit_snapshots'
            ' WHERE topic = $1 AND partition = $2 AND "offset" = $3',
            topic, partition, start):
        folds[row["entity"]] = EntityFold(kind, row["entity"], kind.load(row["state"]),
                                          row["recent"], row["problem"])
    pending = marks_between(start, end, every)
    written: list[int] = []
    records = 0

    async def mark_until(offset: int) -> None:
        while pending and pending[0] <= offset:
            mark = pending.pop(0)
            await _write_mark(conn, topic, partition, mark, folds)
            written.append(mark)

    if ticker is not None:
        ticker.expect(max(end - start, 0))
    async for batch in read_partition(consumer, topic, partition, start, end):
        if ticker is not None:
            ticker.advance(len(batch))
        for record in batch:
            await mark_until(record.offset)
            records += 1
            event = _decoded(kind, record)
            if event is None or not record.key:
                continue
            entity = record.key.decode()
            fold = folds.get(entity) or folds.setdefault(entity, EntityFold(kind, entity))
            fold.apply(event)
    await mark_until(end)
    return written, records


async def _write_mark(conn: asyncpg.Connection, topic: str, partition: int, offset: int,
                      folds: dict[str, EntityFold]) -> None:
    entities = list(folds)
    async with conn.transaction():
        inserted = await conn.fetchval(
            'INSERT INTO audit.pit_marks (topic, partition, "offset", entities)'
            ' VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1',
            topic, partition, offset, len(entities))
        if not inserted:
            return
        await conn.copy_records_to_table(
            "pit_snapshots", schema_name=SCHEMA,
            columns=["topic", "partition", "offset", "entity", "state", "recent", "problem"],
            records=[(topic, partition, offset, e, folds[e].kind.dump(folds[e].state).decode(),
                      list(folds[e].recent), folds[e].problem) for e in entities])


@dataclass
class PointInTime:
    kind: str
    entity: str
    topic: str
    partition: int
    offset: int
    """Exclusive: the state after the partition's records before this offset."""
    snapshot_offset: int | None
    events_folded: int
    state: Any
    at: datetime | None
    problem: str | None = None

    def body(self) -> dict:
        return {**ENTITY_KINDS[self.kind].describe(self.state, self.at),
                "problem": self.problem, "topic": self.topic, "partition": self.partition,
                "offset": self.offset, "snapshot_offset": self.snapshot_offset,
                "events_folded": self.events_folded}


async def as_of(kind_name: str, entity: str, point: str, prefix: str = "", *,
                use_snapshots: bool = True, database_url: str | None = None,
                bootstrap_servers: str | None = None) -> PointInTime:
    """The entity at `point` (see parse_as_of). use_snapshots=False folds from offset 0."""
    kind = _kind(kind_name)
    settings = Settings()
    topic = prefix + kind.topic.name
    consumer = _consumer(bootstrap_servers or settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        partitions = await partitions_of(consumer, topic)
        if not partitions:
            raise LookupError(f"no topic {topic}")
        partition = partition_for(entity, len(partitions))
        wanted = parse_as_of(point, partition)
        tp = TopicPartition(topic, partition)
        end = (await consumer.end_offsets([tp]))[tp]
        if wanted.at is not None:
            found = (await consumer.offsets_for_times(
                {tp: int(wanted.at.timestamp() * 1000)}))[tp]
            offset = found.offset if found else end
        else:
            offset = min(wanted.offset, end)
        mark, state, recent, problem = None, None, (), None
        if use_snapshots:
            mark, state, recent, problem = await _nearest_snapshot(
                kind, topic, partition, offset, entity, database_url or settings.database_url)
        fold = EntityFold(kind, entity, state, recent, problem)
        key = entity.encode()
        async for batch in read_partition(consumer, topic, partition, mark or 0, offset):
            for record in batch:
                if record.key == key:
                    event = _decoded(kind, record)
                    if event is not None:
                        fold.apply(event)
        return PointInTime(kind_name, entity, topic, partition, offset, mark, fold.applied,
                           fold.state, wanted.at, fold.problem)
    finally:
        await consumer.stop()


async def _nearest_snapshot(kind: EntityKind, topic: str, partition: int, offset: int,
                            entity: str, database_url: str
                            ) -> tuple[int | None, Any, tuple, str | None]:
    conn = await asyncpg.connect(database_url)
    try:
        if not await conn.fetchval("SELECT to_regclass('audit.pit_marks') IS NOT NULL"):
            return None, None, (), None
        mark = await conn.fetchval(
            'SELECT max("offset") FROM audit.pit_marks WHERE topic = $1 AND partition = $2'
            ' AND "offset" <= $3', topic, partition, offset)
        if mark is None:
            return None, None, (), None
        row = await conn.fetchrow(
            'SELECT state::text AS state, recent, problem FROM audit.pit_snapshots WHERE topic = $1'
            ' AND partition = $2 AND "offset" = $3 AND entity = $4',
            topic, partition, mark, entity)
        if row is None:
            return mark, None, (), None
        return mark, kind.load(row["state"]), tuple(row["recent"]), row["problem"]
    finally:
        await conn.close()

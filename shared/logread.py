"""Reading the log from the start: every record of some topics, decoded, up to a cut.

The cut is taken when reading starts (the end offsets then), or given as a timestamp, so a
read over a live system is a consistent prefix of each partition. Within a partition records
come in offset order; partitions are read concurrently (no order across them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from shared import kafka_client
from shared.contract.codec import Decoded, InvalidEvent, decode_record
from shared.contract.topics import Topic


class LogRecord(NamedTuple):
    # A tuple, not a frozen dataclass: a million of these are built per replay and a tuple
    # is built several times faster.
    topic: str
    """The registry name (without any environment prefix)."""
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    decoded: Decoded | None
    error: InvalidEvent | None


class Missing(NamedTuple):
    """Offsets [first, end) of a partition that hold no record: deleted from a log that keeps
    every record forever (or never written, which Kafka does not do for these topics)."""

    topic: str
    """The registry name (without any environment prefix)."""
    partition: int
    first: int
    end: int


@dataclass(frozen=True)
class Cut:
    """Where reading stops: exclusive end offsets per (topic, partition)."""

    ends: dict[tuple[str, int], int]

    @property
    def total(self) -> int:
        return sum(self.ends.values())


BATCH_RECORDS = 100
"""Records per batch read. Small batches keep the decoded events of a batch in the CPU's
caches until they are folded and freed: at 5,000 per batch the same read ran ~25 % slower."""


class LogReader:
    def __init__(self, bootstrap_servers: str, topics: Iterable[Topic], *, prefix: str = "",
                 fetch_max_bytes: int = 64 * 1024 * 1024, digests: bool = True):
        self.bootstrap_servers = bootstrap_servers
        self.topics = {prefix + topic.name: topic for topic in topics}
        self.prefix = prefix
        self.fetch_max_bytes = fetch_max_bytes
        self.digests = digests
        """False: decoded records carry no content digest (readers that dedupe by id only)."""
        self.missing: list[Missing] = []
        """The offsets the last `read` found without a record, per partition, in order."""

    def _consumer(self) -> AIOKafkaConsumer:
        return kafka_client.consumer(bootstrap_servers=self.bootstrap_servers, group_id=None,
                                     enable_auto_commit=False, auto_offset_reset="earliest",
                                     fetch_max_bytes=self.fetch_max_bytes,
                                     max_partition_fetch_bytes=8 * 1024 * 1024)

    async def cut(self, until: datetime | None = None) -> Cut:
        """End offsets now, or the first offsets at or after `until` (exclusive ends)."""
        partitions = await self._partitions()
        consumer = self._consumer()
        await consumer.start()
        try:
            ends = await consumer.end_offsets(partitions)
            if until is not None:
                found = await consumer.offsets_for_times(
                    {tp: int(until.timestamp() * 1000) for tp in partitions})
                ends = {tp: (found[tp].offset if found.get(tp) else ends[tp])
                        for tp in partitions}
            return Cut({(tp.topic.removeprefix(self.prefix), tp.partition): offset
                        for tp, offset in ends.items()})
        finally:
            await consumer.stop()

    async def _partitions(self) -> list[TopicPartition]:
        admin = kafka_client.admin(bootstrap_servers=self.bootstrap_servers)
        await kafka_client.started(admin.start, self.bootstrap_servers)
        try:
            described = await admin.describe_topics(list(self.topics))
        finally:
            await admin.close()
        return sorted(TopicPartition(topic["topic"], partition["partition"])
                      for topic in described if topic["error_code"] == 0
                      for partition in topic["partitions"])

    async def read(self, cut: Cut, *, start: Cut | None = None, decode_events: bool = True,
                   batch_records: int = BATCH_RECORDS) -> AsyncIterator[list[LogRecord]]:
        """Batches of records up to the cut, from the beginning or from `start` (inclusive
        offsets; partitions it does not name from the beginning). Undecodable records come
        with their error."""
        begin = start.ends if start is not None else {}
        wanted = {TopicPartition(self.prefix + topic, partition): end
                  for (topic, partition), end in cut.ends.items()
                  if end > begin.get((topic, partition), 0)}
        if not wanted:
            return
        self.missing = []
        expected = {tp: begin.get((tp.topic.removeprefix(self.prefix), tp.partition), 0)
                    for tp in wanted}
        consumer = self._consumer()
        await consumer.start()
        try:
            consumer.assign(list(wanted))
            await self._seek(consumer, wanted, begin)
            remaining = dict(wanted)
            while remaining:
                fetched = await consumer.getmany(*remaining, timeout_ms=1000,
                                                 max_records=batch_records)
                batch: list[LogRecord] = []
                for tp, records in fetched.items():
                    end = remaining.get(tp)
                    if end is None or not records:
                        continue
                    expected[tp] = self._note_missing(tp, records, expected[tp], end)
                    self._append_before(end, tp, records, decode_events, batch)
                    if records[-1].offset + 1 >= end:
                        remaining.pop(tp)
                        consumer.pause(tp)
                if not fetched:
                    # Nothing came: a partition emptied or truncated below the cut (deleted
                    # records, an offset no record holds) sends nothing to end on. Its
                    # position, past what the broker still has, does.
                    for tp, end in list(remaining.items()):
                        if await consumer.position(tp) >= end:
                            self._note_gap(tp, expected[tp], end)
                            remaining.pop(tp)
                            consumer.pause(tp)
                if batch:
                    yield batch
        finally:
            await consumer.stop()

    def _note_missing(self, tp: TopicPartition, records: Sequence[ConsumerRecord],
                      expected: int, end: int) -> int:
        """Note the offsets before `end` these records skip; return the next one expected."""
        first, last = records[0].offset, min(records[-1].offset, end - 1)
        if first == expected and last - first + 1 == len(records):
            return last + 1  # the usual case, checked without a look at each record
        for record in records:
            if record.offset >= end:
                break
            self._note_gap(tp, expected, record.offset)
            expected = record.offset + 1
        return expected

    def _note_gap(self, tp: TopicPartition, first: int, end: int) -> None:
        if first < end:
            self.missing.append(Missing(tp.topic.removeprefix(self.prefix), tp.partition,
                                        first, end))

    async def _seek(self, consumer: AIOKafkaConsumer, wanted: Iterable[TopicPartition],
                    begin: Mapping[tuple[str, int], int]) -> None:
        from_beginning = []
        for tp in wanted:
            offset = begin.get((tp.topic.removeprefix(self.prefix), tp.partition), 0)
            if offset:
                consumer.seek(tp, offset)
            else:
                from_beginning.append(tp)
        if from_beginning:
            await consumer.seek_to_beginning(*from_beginning)

    def _append_before(self, end: int, tp: TopicPartition, records: Sequence[ConsumerRecord],
                       decode_events: bool, batch: list[LogRecord]) -> None:
        """Append one partition's fetched records before offset `end` to the batch."""
        topic = self.topics[tp.topic]
        # Per record work is inlined: this loop runs a million times per replay.
        name, partition, digests = topic.name, tp.partition, self.digests
        append = batch.append
        decoded = error = None
        for record in records:
            offset = record.offset
            if offset >= end:
                break
            value = record.value
            if decode_events:
                try:
                    # The live consumers' own rules, key and timestamp included: what they
                    # dead-lettered, a replay does not fold.
                    decoded = decode_record(topic, record.key, value, record.timestamp,
                                            digest=digests)
                    error = None
                except InvalidEvent as invalid:
                    decoded, error = None, invalid
            append(LogRecord(name, partition, offset, record.timestamp, record.key,
                             value, decoded, error))

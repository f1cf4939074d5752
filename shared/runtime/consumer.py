"""A FastStream batch subscriber whose progress lives in PostgreSQL, not in Kafka.

Kafka's committed offsets are only a hint for standard tools; coinlog's own lag gauge is measured
from the tracking table (shared/runtime/backlog_gauges.py). On every partition assignment the
consumer seeks to the offsets recorded in the tracking table, which moved in the same
transaction as the state; so whatever Kafka redelivers, each record is applied once.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError
from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy

from shared.contract.topics import Topic
from shared.runtime.backoff import Backoff
from shared.runtime.origin import observe_stages
from shared.runtime.processor import BatchProcessor, BatchResult
from shared.runtime.relay import notify_channel
from shared.runtime.subscriber import without_idle_pause
from shared.runtime.unit import BatchHandler, EntitiesOf, Record, no_entities

log = logging.getLogger(__name__)

OFFSET_HINT_INTERVAL_S = 5.0
LOG_APPEND_TIME = 1
"""A record's timestamp_type when the broker stamped it (Kafka's record attribute bit)."""


class ConsumerRuntime:
    def __init__(self, *, broker: KafkaBroker, consumer: str, topics: Sequence[Topic],
                 handler: BatchHandler, pool: asyncpg.Pool, schema: str,
                 entities: EntitiesOf = no_entities,
                 dead_letter_topic: Topic, max_records: int = 500, batch_timeout_ms: int = 50,
                 description: str | None = None, topic_prefix: str = "",
                 session_timeout_ms: int = 10_000,
                 latency_stages: Mapping[str, str] | None = None):
        self.consumer = consumer
        self.latency_stages = latency_stages or {}
        self.pool = pool
        self.processor = BatchProcessor(
            consumer=consumer, topics=topics, handler=handler, entities=entities, pool=pool,
            dead_letter_topic=dead_letter_topic, notify_channel=notify_channel(schema),
            topic_prefix=topic_prefix,
        )
        self.batches = 0
        self.last_result: BatchResult | None = None
        self._last_hint = 0.0
        self.subscriber = without_idle_pause(broker.subscriber(
            *[topic_prefix + topic.name for topic in topics],
            group_id=topic_prefix + consumer,
            batch=True,
            max_records=max_records,
            batch_timeout_ms=batch_timeout_ms,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            # Heartbeats several times per session, so one late heartbeat on a busy machine
            # does not cost the instance its partitions.
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=max(100, session_timeout_ms // 4),
            listener=SeekToTracking(self),
            title=consumer,
            description=description,
        ))
        self.subscriber(self._on_batch, decoder=_records_as_they_came)

    @property
    def kafka_consumer(self) -> AIOKafkaConsumer | None:
        return self.subscriber.consumer

    async def _on_batch(self, raw: Any) -> None:
        records = [
            Record(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers), r.timestamp,
                   r.timestamp_type == LOG_APPEND_TIME)
            for r in (raw if isinstance(raw, tuple | list) else (raw,))
        ]
        if not records:
            return
        self.last_result = result = await self.processor.process(records)
        self.batches += 1
        observe_stages(result.published, self.latency_stages)
        consumer = self.kafka_consumer
        if result.gaps and consumer is not None:
            for (topic, partition), offset in result.gaps.items():
                with contextlib.suppress(IllegalStateError):  # revoked meanwhile
                    consumer.seek(TopicPartition(topic, partition), offset)
        await self._commit_hint()

    async def _commit_hint(self) -> None:
        """Commit positions to Kafka now and then, so standard tools can show the lag."""
        now = time.monotonic()
        consumer = self.kafka_consumer
        if consumer is None or now - self._last_hint < OFFSET_HINT_INTERVAL_S:
            return
        self._last_hint = now
        try:
            await consumer.commit()
        except KafkaError as error:
            log.debug("%s: offset hint not committed: %r", self.consumer, error)

    async def tracked_offsets(self, partitions: Sequence[TopicPartition]) -> dict[
            TopicPartition, int]:
        rows = await self.pool.fetch(
            """SELECT topic, partition, next_offset FROM tracking
               WHERE consumer = $1
                 AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[]))""",
            self.consumer, [p.topic for p in partitions], [p.partition for p in partitions],
        )
        return {TopicPartition(row["topic"], row["partition"]): row["next_offset"]
                for row in rows}


class SeekToTracking(ConsumerRebalanceListener):
    def __init__(self, runtime: ConsumerRuntime):
        self.runtime = runtime

    async def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        consumer = self.runtime.kafka_consumer
        partitions = list(assigned)
        if consumer is None or not partitions:
            return
        # Paused before the first await: otherwise the fetcher starts from Kafka's committed
        # offset while tracking is read, and a batch beyond the tracked offset could slip in.
        consumer.pause(*partitions)
        backoff = Backoff()
        while True:
            try:
                tracked = await self.runtime.tracked_offsets(partitions)
                break
            except Exception as error:  # noqa: BLE001 - paused partitions would stay paused
                log.warning("%s: cannot read tracking offsets: %r", self.runtime.consumer, error)
                await backoff.wait()
        untracked = [p for p in partitions if p not in tracked]
        for partition, offset in tracked.items():
            consumer.seek(partition, offset)
        if untracked:
            await consumer.seek_to_beginning(*untracked)
        consumer.resume(*partitions)
        log.info("%s: assigned %s", self.runtime.consumer,
                 ", ".join(f"{p.topic}[{p.partition}]@{tracked.get(p, 0)}" for p in partitions))


async def _records_as_they_came(message: Any) -> Any:
    """The body handed to _on_batch is the batch of records itself, not decoded: the processor
    decodes each record against its topic's contract. Taking the message as a handler argument
    instead would have FastStream resolve it from its context in a worker thread, per batch."""
    return message.raw_message

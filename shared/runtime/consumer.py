"""A FastStream batch subscriber whose progress lives in PostgreSQL, not in Kafka.

Kafka's committed offsets are only a hint for standard tools; coinlog's own lag gauge is measured
from the tracking table (shared/runtime/backlog_gauges.py). On every partition assignment the
consumer seeks to the offsets recorded in the tracking table, which moved in the same
transaction as the state; so whatever Kafka redelivers, each record is applied once.
"""

from __future__ import annotations

import asyncio
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
from shared.runtime.health import PROBE_TIMEOUT_S, Check
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
        self.assigned = False
        """The group gave this consumer its partitions and they were sought to the tracking
        offsets; false again from a revocation until the next assignment is sought."""
        self.in_batch = False
        self._started_at = time.monotonic()
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
        self.in_batch = True
        try:
            self.last_result = result = await self.processor.process(records)
        finally:
            self.in_batch = False
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


    @property
    def last_progress(self) -> float:
        """When the loop last polled Kafka or ended a batch attempt (time.monotonic())."""
        return max(self.subscriber.last_poll, self.processor.last_attempt, self._started_at)

    async def readiness(self) -> Check:
        """Ready once its partitions are assigned and it stands at or past the offsets
        PostgreSQL records for them: it will not decide anything twice or skip anything."""
        name = f"consumer {self.consumer}"
        consumer = self.kafka_consumer
        if consumer is None or not self.assigned:
            return Check(name, False, "partitions not assigned yet (joining its group)")
        partitions = sorted(consumer.assignment())
        if not partitions:
            return Check(name, True, "in its group with no partitions (more instances than "
                                     "partitions)")
        try:
            tracked = await asyncio.wait_for(self.tracked_offsets(partitions), PROBE_TIMEOUT_S)
            positions = {tp: await asyncio.wait_for(consumer.position(tp), PROBE_TIMEOUT_S)
                         for tp in partitions}
        except Exception as error:  # noqa: BLE001 - a rebalance or an outage: not ready now
            return Check(name, False, f"positions unknown: {error!r}")
        behind = [f"{tp.topic}[{tp.partition}] at {positions[tp]} < {tracked[tp]}"
                  for tp in partitions if positions[tp] < tracked.get(tp, 0)]
        if behind:
            return Check(name, False, "behind its tracking offsets: " + ", ".join(behind))
        return Check(name, True, f"{len(partitions)} partitions at their tracking offsets")

    async def liveness(self, stall_s: float) -> Check:
        """Stuck: its loop has ended, or it has neither polled nor ended a batch attempt for
        `stall_s` while a batch is in hand or records wait. Idle with nothing waiting is fine."""
        name = f"consumer {self.consumer}"
        if not any(not task.done() for task in self.subscriber.tasks):
            return Check(name, False, "its consuming task has ended")
        quiet_s = time.monotonic() - self.last_progress
        if quiet_s <= stall_s:
            return Check(name, True, f"polled {quiet_s:.1f} s ago")
        waiting = "a batch in hand" if self.in_batch else await self._lag_text()
        if waiting:
            return Check(name, False, f"no progress for {quiet_s:.0f} s with {waiting}")
        return Check(name, True, f"idle for {quiet_s:.0f} s with nothing waiting")

    async def _lag_text(self) -> str:
        consumer = self.kafka_consumer
        if consumer is None:
            return ""
        lag = 0
        for partition in consumer.assignment():
            with contextlib.suppress(Exception):  # a partition revoked meanwhile lags nothing
                end = consumer.highwater(partition)
                position = await asyncio.wait_for(consumer.position(partition), 0.5)
                lag += max(0, (end or 0) - position)
        return f"{lag} records waiting" if lag else ""


class SeekToTracking(ConsumerRebalanceListener):
    def __init__(self, runtime: ConsumerRuntime):
        self.runtime = runtime

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.runtime.assigned = False

    async def on_partitions_assigned(self, assigned: Any) -> None:
        consumer = self.runtime.kafka_consumer
        partitions = list(assigned)
        if consumer is None or not partitions:
            self.runtime.assigned = consumer is not None
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
        self.runtime.assigned = True
        log.info("%s: assigned %s", self.runtime.consumer,
                 ", ".join(f"{p.topic}[{p.partition}]@{tracked.get(p, 0)}" for p in partitions))


async def _records_as_they_came(message: Any) -> Any:
    """The body handed to _on_batch is the batch of records itself, not decoded: the processor
    decodes each record against its topic's contract. Taking the message as a handler argument
    instead would have FastStream resolve it from its context in a worker thread, per batch."""
    return message.raw_message

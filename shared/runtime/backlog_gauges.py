"""The gauges of how far behind a service is, refreshed on a timer of their own.

Consumer lag is the log end offset of every partition a consumer reads minus the next offset
its tracking table records (the offset its applied state is at, not Kafka's committed hint).
It is measured here, not after a batch: a consumer that stops taking batches would otherwise
freeze its own lag at the last value, exactly when it matters. Every instance of a service
reports the lag of the whole consumer group (all partitions, assigned to it or not), so the
value survives any one instance; alerts take the maximum over instances.

The outbox gauges count the rows decided and not yet published and the age of the oldest, so
a relay that stopped publishing shows as a growing backlog however the service looks otherwise.
Nothing here runs inside a batch's transaction: two small statements and one Kafka offsets
request per refresh, whatever the traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared import kafka_client
from shared.kafka_client import KafkaSecurity
from shared.runtime import metrics

log = logging.getLogger(__name__)

REFRESH_S = 5.0
METADATA_EVERY = 12
"""Refreshes between re-reading the topics' partitions (a topic may get more partitions)."""

_OUTBOX = """
    SELECT count(*) AS waiting,
           coalesce(extract(epoch FROM now() - (SELECT created_at FROM outbox
                                                ORDER BY id LIMIT 1)), 0) AS oldest_s
    FROM outbox
"""


class BacklogGauges:
    def __init__(self, *, pool: asyncpg.Pool, schema: str, bootstrap_servers: str,
                 consumers: Mapping[str, Sequence[str]], topic_prefix: str = "",
                 interval_s: float = REFRESH_S, client_id: str = "coinlog",
                 security: KafkaSecurity | None = None):
        """`consumers`: each consumer's name and the topics it reads, as named on the broker
        (with the environment's prefix)."""
        self.pool = pool
        self.schema = schema
        self.bootstrap_servers = bootstrap_servers
        self.consumers = {name: tuple(topics) for name, topics in consumers.items()}
        self.topic_prefix = topic_prefix
        self.interval_s = interval_s
        self.client_id = client_id
        self.security = security
        self.refreshed = asyncio.Event()
        """Set after each refresh that succeeded: tests wait on it."""
        self._kafka: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._partitions: dict[str, list[int]] = {}
        self._refreshes = 0
        self._failing = False
        metrics.BACKLOG_REFRESH_FAILURES.labels(schema)  # at 0 until the first failure

    async def run(self) -> None:
        """Refresh until cancelled; a failed refresh keeps the values and tries again."""
        try:
            while True:
                try:
                    await self.refresh()
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # noqa: BLE001 - an outage; the next refresh retries
                    metrics.BACKLOG_REFRESH_FAILURES.labels(self.schema).inc()
                    if not self._failing:
                        log.warning("%s: lag and outbox gauges not refreshed: %r", self.schema,
                                    error)
                    self._failing = True
                    await self._close_kafka()
                else:
                    if self._failing:
                        log.warning("%s: lag and outbox gauges refreshed again", self.schema)
                    self._failing = False
                await asyncio.sleep(self.interval_s)
        finally:
            await self._close_kafka()

    async def refresh(self) -> None:
        async with self.pool.acquire() as conn:
            outbox = await conn.fetchrow(_OUTBOX)
            tracked = await conn.fetch(
                "SELECT consumer, topic, partition, next_offset FROM tracking"
                " WHERE consumer = ANY($1::text[])", list(self.consumers))
        metrics.OUTBOX_BACKLOG.labels(self.schema).set(outbox["waiting"])
        metrics.OUTBOX_OLDEST_AGE.labels(self.schema).set(float(outbox["oldest_s"]))
        # Tracking first, end offsets after: a batch committing in between makes the lag read
        # larger than it was, never below zero.
        positions = {(row["consumer"], row["topic"], row["partition"]): row["next_offset"]
                     for row in tracked}
        kafka = await self._kafka_consumer()
        partitions = await self._topic_partitions(kafka)
        ends = await kafka.end_offsets(partitions) if partitions else {}
        read_by = [(name, tp) for name, topics in self.consumers.items()
                   for tp in partitions if tp.topic in topics]
        # A partition without a tracking row is read from its beginning (which is 0 unless
        # records were deleted).
        untracked = sorted({tp for name, tp in read_by
                            if (name, tp.topic, tp.partition) not in positions})
        starts = await kafka.beginning_offsets(untracked) if untracked else {}
        for name, tp in read_by:
            position = max(positions.get((name, tp.topic, tp.partition), 0), starts.get(tp, 0))
            labels = (name, tp.topic.removeprefix(self.topic_prefix), str(tp.partition))
            metrics.CONSUMER_OFFSET.labels(*labels).set(position)
            metrics.CONSUMER_LAG.labels(*labels).set(max(0, ends[tp] - position))
        self._refreshes += 1
        self.refreshed.set()

    async def _kafka_consumer(self) -> AIOKafkaConsumer:
        if self._kafka is None:
            kafka = kafka_client.consumer(bootstrap_servers=self.bootstrap_servers,
                                          security=self.security, group_id=None,
                                          enable_auto_commit=False,
                                          client_id=f"{self.client_id}-backlog")
            await kafka.start()
            self._kafka = kafka
            admin = kafka_client.admin(bootstrap_servers=self.bootstrap_servers,
                                       security=self.security,
                                       client_id=f"{self.client_id}-backlog")
            await admin.start()
            self._admin = admin
            self._partitions = {}
        return self._kafka

    async def _topic_partitions(self, kafka: AIOKafkaConsumer) -> list[TopicPartition]:
        wanted = sorted({topic for topics in self.consumers.values() for topic in topics})
        if self._admin is not None and (self._refreshes % METADATA_EVERY == 0
                                        or any(topic not in self._partitions for topic in wanted)):
            self._partitions = await partition_numbers(self._admin, wanted)
        return [TopicPartition(topic, number) for topic in wanted
                for number in self._partitions.get(topic, ())]

    async def _close_kafka(self) -> None:
        kafka, self._kafka = self._kafka, None
        admin, self._admin = self._admin, None
        if kafka is not None:
            with contextlib.suppress(Exception):
                await kafka.stop()
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()


async def partition_numbers(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, list[int]]:
    """The partitions each topic has on the broker now (a topic may have been given more);
    a topic the broker does not know is left out."""
    described = await admin.describe_topics(topics)
    return {topic["topic"]: sorted(p["partition"] for p in topic["partitions"])
            for topic in described if not topic["error_code"] and topic["partitions"]}

"""How far behind the services are: consumer lag per service (the topics' end offsets against
the offsets each consumer recorded in its schema's tracking table) and the events still waiting
in each outbox. The economy has settled when every consumer has applied everything on its
topics and nothing is left to publish."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
from aiokafka import TopicPartition

from ops.kafka_partitions import partitions_of
from ops.namespace import Namespace
from services.registry import SERVICES
from shared import kafka_client


@dataclass(frozen=True)
class BacklogSnapshot:
    lag: dict[str, int]
    """Records on a service's input topics that its consumers have not applied yet."""
    outbox: dict[str, int]
    """Events a service decided and has not published yet."""
    end_offsets: dict[TopicPartition, int]

    @property
    def settled(self) -> bool:
        return not any(self.lag.values()) and not any(self.outbox.values())


class Backlog:
    def __init__(self, pool: asyncpg.Pool, bootstrap_servers: str, namespace: Namespace):
        self.pool = pool
        self.bootstrap_servers = bootstrap_servers
        self.topic_prefix = namespace.topic_prefix
        self.schemas = {definition.name: namespace.schemas[definition.name]
                        for definition in SERVICES}
        self._kafka = kafka_client.consumer(bootstrap_servers=bootstrap_servers, group_id=None,
                                            enable_auto_commit=False)
        self._partitions: dict[tuple[str, str], list[TopicPartition]] = {}
        """(service, consumer) -> the partitions it reads."""

    async def start(self) -> None:
        consumed = {(definition.name, spec.name): {self.topic_prefix + topic.name
                                                   for topic in spec.topics}
                    for definition in SERVICES for spec in definition.consumers}
        partitions = await partitions_of(self.bootstrap_servers,
                                         set().union(*consumed.values()))
        self._partitions = {reader: [tp for tp in partitions if tp.topic in topics]
                            for reader, topics in consumed.items()}
        await self._kafka.start()

    async def stop(self) -> None:
        await self._kafka.stop()

    async def snapshot(self) -> BacklogSnapshot:
        # Outboxes first, then end offsets: whatever an outbox held when it was read empty has
        # reached Kafka by then, so it is counted in the offsets read after it.
        outbox = {name: await self.pool.fetchval(f"SELECT count(*) FROM {schema}.outbox")
                  for name, schema in self.schemas.items()}
        wanted = sorted({tp for tps in self._partitions.values() for tp in tps})
        ends = await self._kafka.end_offsets(wanted)
        lag = dict.fromkeys(self.schemas, 0)
        for (service, consumer), partitions in self._partitions.items():
            rows = await self.pool.fetch(
                f"SELECT topic, partition, next_offset FROM {self.schemas[service]}.tracking"
                " WHERE consumer = $1", consumer)
            applied = {(row["topic"], row["partition"]): row["next_offset"] for row in rows}
            lag[service] += sum(max(0, ends[tp] - applied.get((tp.topic, tp.partition), 0))
                                for tp in partitions)
        return BacklogSnapshot(lag, outbox, ends)

    async def wait_until_settled(self, timeout_s: float, *, poll_s: float = 0.25,
                                 on_poll: Callable[[BacklogSnapshot], None] | None = None,
                                 ) -> bool:
        """True once two snapshots in a row are settled with the same end offsets: a batch
        committing between the reads of one snapshot cannot pass for settled twice."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        previous: BacklogSnapshot | None = None
        while True:
            current = await self.snapshot()
            if on_poll is not None:
                on_poll(current)
            if (current.settled and previous is not None and previous.settled
                    and previous.end_offsets == current.end_offsets):
                return True
            if asyncio.get_running_loop().time() > deadline:
                return False
            previous = current
            await asyncio.sleep(poll_s)


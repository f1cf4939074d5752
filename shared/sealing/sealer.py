"""The sealer: follows the output partitions and publishes their chain, off the hot path.

It is a plain reader of the output topics (its own group-less consumer), so producers never
wait for it and no lock is shared with them. Its progress is the last seal it published per
partition: on start it reads the seals topic and resumes each partition after its last sealed
offset from that seal's chain hash. A seal is published every N records of a partition, or T
seconds after the partition's first unsealed record, whichever comes first.

Run one sealer per environment: a second one would publish seals with other boundaries, which
the verifier reports as `seals_inconsistent`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from shared import kafka_client
from shared.contract.codec import encode
from shared.contract.events.seals import PartitionSealed
from shared.contract.topics import Topic
from shared.logread import LogReader
from shared.runtime.backoff import Backoff
from shared.runtime.kafka_admin import require_topics
from shared.sealing.registry import OUTPUT_TOPICS, seals_topic
from shared.sealing.seal import MAX_SEGMENT_RECORDS, PartitionChain

if TYPE_CHECKING:
    from shared.settings import Settings

log = logging.getLogger(__name__)


async def read_seals(bootstrap_servers: str, topic: Topic | None = None, *,
                     prefix: str = "") -> list[PartitionSealed]:
    """Every seal published so far (up to the end offsets when called), in log order."""
    topic = topic or seals_topic()
    reader = LogReader(bootstrap_servers, [topic], prefix=prefix)
    cut = await reader.cut()
    seals: list[PartitionSealed] = []
    if cut.total == 0:
        # LogReader.read on an empty cut starts and at once stops a consumer, which aiokafka
        # answers with CancelledError (its coordinator task never ran): skip the read.
        return seals
    async for batch in reader.read(cut):
        for record in batch:
            if record.decoded is not None and isinstance(record.decoded.event, PartitionSealed):
                seals.append(record.decoded.event)
            else:
                log.warning("seals topic: offset %d is not a seal: %s", record.offset,
                            record.error)
    return seals


def last_seals(seals: Sequence[PartitionSealed]) -> dict[tuple[str, int], PartitionSealed]:
    last: dict[tuple[str, int], PartitionSealed] = {}
    for seal in seals:
        where = (seal.topic, seal.partition)
        if where not in last or seal.through_offset > last[where].through_offset:
            last[where] = seal
    return last


class Sealer:
    def __init__(self, bootstrap_servers: str, topics: Sequence[Topic] = OUTPUT_TOPICS, *,
                 prefix: str = "", seal_every_records: int = 1000, seal_every_s: float = 5.0,
                 seals: Topic | None = None, client_id: str = "coinlog-sealer",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        if not 1 <= seal_every_records <= MAX_SEGMENT_RECORDS:
            raise ValueError(f"seal_every_records must be 1..{MAX_SEGMENT_RECORDS}")
        self.bootstrap_servers = bootstrap_servers
        self.topics = tuple(topics)
        self.prefix = prefix
        self.seal_every_records = seal_every_records
        self.seal_every_s = seal_every_s
        self.seals_topic = seals or seals_topic()
        if self.seals_topic.name in {topic.name for topic in self.topics}:
            raise ValueError("the seals topic cannot seal itself")
        self.client_id = client_id
        self.clock = clock
        self.last_seal: dict[tuple[str, int], PartitionSealed] = {}
        """The last seal published (or found on start) per (topic, partition)."""
        self.records_chained = 0
        self.seals_published = 0
        self.running = asyncio.Event()
        """Set once the sealer has resumed and follows the partitions."""
        self.last_poll = 0.0
        """When it last asked Kafka for records (time.monotonic()), for its liveness."""
        self._changed = asyncio.Condition()

    # -- progress, for tests and operators ----------------------------------------------------

    def sealed_through(self, topic: str, partition: int) -> int:
        seal = self.last_seal.get((topic, partition))
        return seal.through_offset if seal else -1

    async def wait_sealed(self, ends: Mapping[tuple[str, int], int], *,
                          timeout_s: float = 60.0) -> None:
        """Until every partition is sealed up to its (exclusive) end offset in `ends`."""
        def done() -> bool:
            return all(self.sealed_through(*where) >= end - 1
                       for where, end in ends.items() if end > 0)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(done), timeout_s)

    # -- running --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Seal until cancelled; after an outage start over from the published seals."""
        backoff = Backoff()
        while True:
            try:
                await self._run_once(backoff)
            except asyncio.CancelledError:
                raise
            except (OSError, KafkaError) as error:
                self.running.clear()
                log.warning("sealer: %r; resuming from the published seals", error)
                await backoff.wait()

    async def _partitions(self) -> list[TopicPartition]:
        admin = kafka_client.admin(bootstrap_servers=self.bootstrap_servers)
        await kafka_client.started(admin.start, self.bootstrap_servers)
        try:
            described = await admin.describe_topics([self.prefix + t.name for t in self.topics])
        finally:
            await admin.close()
        return sorted(TopicPartition(topic["topic"], partition["partition"])
                      for topic in described if topic["error_code"] == 0
                      for partition in topic["partitions"])

    async def _run_once(self, backoff: Backoff) -> None:
        await require_topics(self.bootstrap_servers, [*self.topics, self.seals_topic],
                             prefix=self.prefix)
        self.last_seal = last_seals(await read_seals(self.bootstrap_servers, self.seals_topic,
                                                     prefix=self.prefix))
        partitions = await self._partitions()
        chains: dict[TopicPartition, PartitionChain] = {}
        for tp in partitions:
            where = (tp.topic.removeprefix(self.prefix), tp.partition)
            seal = self.last_seal.get(where)
            chains[tp] = PartitionChain.resume(seal) if seal else PartitionChain.start(*where)
        producer = kafka_client.producer(bootstrap_servers=self.bootstrap_servers,
                                         enable_idempotence=True, acks="all", linger_ms=5,
                                         client_id=f"{self.client_id}-producer")
        consumer = kafka_client.consumer(bootstrap_servers=self.bootstrap_servers, group_id=None,
                                         enable_auto_commit=False, auto_offset_reset="earliest",
                                         fetch_max_bytes=64 * 1024 * 1024,
                                         max_partition_fetch_bytes=8 * 1024 * 1024,
                                         client_id=f"{self.client_id}-consumer")
        try:
            await producer.start()
            await consumer.start()
            consumer.assign(partitions)
            for tp, chain in chains.items():
                if chain.last_offset >= 0:
                    consumer.seek(tp, chain.last_offset + 1)
            if unsealed := [tp for tp, chain in chains.items() if chain.last_offset < 0]:
                await consumer.seek_to_beginning(*unsealed)
            backoff.reset()
            self.last_poll = time.monotonic()
            async with self._changed:
                self.running.set()
                self._changed.notify_all()
            log.info("sealer: following %d partitions (%d resumed from seals)",
                     len(partitions), len(self.last_seal))
            await self._follow(consumer, producer, chains)
        finally:
            self.running.clear()
            with contextlib.suppress(Exception):
                await consumer.stop()
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _follow(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer,
                      chains: dict[TopicPartition, PartitionChain]) -> None:
        loop = asyncio.get_running_loop()
        pending_since: dict[TopicPartition, float] = {}
        every = self.seal_every_records
        while True:
            now = loop.time()
            due = min((since + self.seal_every_s for since in pending_since.values()),
                      default=now + 1.0)
            timeout_ms = int(max(0.0, min(due - now, 1.0)) * 1000)
            fetched = await consumer.getmany(timeout_ms=timeout_ms, max_records=20_000)
            self.last_poll = time.monotonic()
            occurred_at = self.clock()
            seals: list[PartitionSealed] = []
            for tp, records in fetched.items():
                chain = chains[tp]
                for record in records:
                    if not chain.add(record.offset, record.key, record.value):
                        continue
                    self.records_chained += 1
                    if chain.pending >= every:
                        seals.append(chain.seal(occurred_at))
                        pending_since.pop(tp, None)
                if chain.pending and tp not in pending_since:
                    pending_since[tp] = loop.time()
            now = loop.time()
            for tp, since in list(pending_since.items()):
                if now - since >= self.seal_every_s:
                    seals.append(chains[tp].seal(occurred_at))
                    del pending_since[tp]
            if seals:
                await self._publish(producer, seals)

    async def _publish(self, producer: AIOKafkaProducer, seals: list[PartitionSealed]) -> None:
        topic = self.prefix + self.seals_topic.name
        deliveries = [await producer.send(topic, value=encode(seal), key=seal.key.encode())
                      for seal in seals]
        await asyncio.gather(*deliveries)
        async with self._changed:
            for seal in seals:
                self.last_seal[(seal.topic, seal.partition)] = seal
            self.seals_published += len(seals)
            self._changed.notify_all()


def start_sealer(settings: Settings | None = None,
                 **options: Any) -> tuple[Sealer, asyncio.Task]:
    """Start a sealer as a task of the running event loop (for the demo or a service).
    Cancel the task to stop it."""
    from shared.settings import Settings

    settings = settings or Settings()
    sealer = Sealer(settings.kafka_bootstrap_servers, prefix=settings.topic_prefix, **options)
    return sealer, asyncio.create_task(sealer.run(), name="sealer")

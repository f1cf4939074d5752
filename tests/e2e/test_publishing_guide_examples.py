"""Every example of docs/publishing.md, published as written, in the guide's order, to the three
running services (topics and schemas of this test alone, seeded with `coinlog seed` from the
default file), each answered as the guide says before the next goes out."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import TopicPartition

from ops.seed import DEFAULT_SEED_FILE
from ops.seeding.run import seed
from shared import kafka_client
from shared.contract.codec import decode
from shared.contract.topics import ALL_TOPICS, DEAD_LETTERS, GIFTS, PAYOUT_LEDGER, WALLET_LEDGER
from tests.e2e.conftest import Economy, schema_of, services_running, topic_prefix
from tests.guide_examples import Example, guide_examples, holds
from tests.infrastructure import Endpoints
from tests.waiting import wait_until

WATCHED = (GIFTS, WALLET_LEDGER, PAYOUT_LEDGER, *DEAD_LETTERS)


class Collector:
    """Every record of coinlog's answer and dead-letter topics, as JSON, from the start."""

    def __init__(self, bootstrap_servers: str, prefix: str):
        self.prefix = prefix
        self.consumer = kafka_client.consumer(bootstrap_servers=bootstrap_servers,
                                              group_id=None, enable_auto_commit=False)
        self.seen: dict[str, list[dict[str, Any]]] = {topic.name: [] for topic in WATCHED}
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        await self.consumer.start()
        # The services created every topic of the registry, with its partitions, on start.
        partitions = [TopicPartition(self.prefix + topic.name, number)
                      for topic in WATCHED for number in range(topic.partitions)]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_beginning(*partitions)
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                name = tp.topic.removeprefix(self.prefix)
                self.seen[name].extend(orjson.loads(record.value) for record in records)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()

    def answers(self, topic: str, event_type: str, cause: str) -> list[dict[str, Any]]:
        return [event for event in self.seen[topic]
                if event.get("type") == event_type and event.get("correlation_id") == cause]

    def dead_letters_of(self, event_ids: set[str]) -> list[dict[str, Any]]:
        return [letter for topic in DEAD_LETTERS for letter in self.seen[topic.name]
                if letter.get("source_event_id") in event_ids]


@pytest.fixture
async def guide_world(infra: Endpoints) -> AsyncIterator[tuple[Economy, Collector]]:
    run_id = uuid.uuid4().hex[:8]
    async with services_running(infra, run_id) as economy:
        seeded = await seed(DEFAULT_SEED_FILE, infra.kafka_bootstrap_servers,
                            prefix=topic_prefix(run_id))
        assert seeded.published > 0
        collector = Collector(infra.kafka_bootstrap_servers, topic_prefix(run_id))
        await collector.start()
        try:
            yield economy, collector
        finally:
            await collector.stop()


async def in_inbox(infra: Endpoints, economy: Economy, service: str, event_id: str) -> bool:
    conn = await asyncpg.connect(infra.database_url)
    try:
        return await conn.fetchval(
            f'SELECT EXISTS (SELECT 1 FROM "{schema_of(economy.run_id, service)}".inbox '
            "WHERE event_id = $1::uuid)", event_id)
    finally:
        await conn.close()


async def check_answer(infra: Endpoints, economy: Economy, collector: Collector,
                       example: Example, answer: dict[str, Any]) -> None:
    expected = answer.get("with", {})
    if "topic" in answer:
        await wait_until(
            lambda: collector.answers(answer["topic"], answer["type"], example.event_id),
            ready=lambda found: any(holds(expected, event) for event in found), timeout_s=60,
            describe=f"{example}: {answer['type']} on {answer['topic']} with {expected}")
    elif "read" in answer:
        await economy.json_when(answer["read"], answer["path"],
                                lambda body: holds(expected, body))
    else:
        await wait_until(lambda: in_inbox(infra, economy, answer["applied_by"],
                                          example.event_id),
                         ready=bool, timeout_s=60,
                         describe=f"{example}: applied by {answer['applied_by']}")


async def test_every_example_of_the_guide_is_answered_as_documented(
        infra: Endpoints, guide_world: tuple[Economy, Collector]):
    economy, collector = guide_world
    examples = guide_examples()
    topics = {model_type: topic for topic in ALL_TOPICS for model_type in topic.event_types}
    producer = kafka_client.producer(bootstrap_servers=infra.kafka_bootstrap_servers,
                                     enable_idempotence=True)
    await producer.start()
    try:
        for example in examples:
            topic = topics[example.payload["type"]]
            key = decode(topic, example.raw).event.key
            await (await producer.send(economy.topic_prefix + topic.name, example.raw,
                                       key=key.encode()))
            for answer in example.answers:
                await check_answer(infra, economy, collector, example, answer)
    finally:
        await producer.stop()
    assert collector.dead_letters_of({example.event_id for example in examples}) == []

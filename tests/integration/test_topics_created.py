"""Topics created at start are ready for clients when ensure_topics returns: a consumer
asking for offsets and a producer sending right after are answered without an error."""

from __future__ import annotations

import logging

import pytest
from aiokafka import TopicPartition

from shared import kafka_client
from shared.contract.topics import Topic
from shared.runtime.kafka_admin import ensure_topics
from tests.infrastructure import Endpoints

pytestmark = pytest.mark.integration


async def test_new_topics_serve_offsets_and_sends_at_once(
        infra: Endpoints, suffix: str, caplog: pytest.LogCaptureFixture) -> None:
    topics = [Topic(f"ready-{suffix}-{n}", owner="test", key="id", partitions=6, events=())
              for n in range(3)]
    created = await ensure_topics(infra.kafka_bootstrap_servers, topics)
    assert sorted(created) == sorted(topic.name for topic in topics)

    caplog.set_level(logging.WARNING, logger="aiokafka")
    consumer = kafka_client.consumer(bootstrap_servers=infra.kafka_bootstrap_servers,
                                     enable_auto_commit=False)
    producer = kafka_client.producer(bootstrap_servers=infra.kafka_bootstrap_servers)
    await consumer.start()
    await producer.start()
    try:
        partitions = [TopicPartition(t.name, n) for t in topics for n in range(t.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        for partition in partitions:
            assert await consumer.position(partition) == 0
        for partition in partitions:
            await producer.send_and_wait(partition.topic, b"x", partition=partition.partition)
    finally:
        await producer.stop()
        await consumer.stop()
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == []

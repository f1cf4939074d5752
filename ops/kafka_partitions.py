"""The partitions a topic has on the broker (not in the registry: a topic may have been given
more partitions since it was created)."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import TopicPartition
from aiokafka.partitioner import murmur2

from shared import kafka_client


async def partitions_of(bootstrap_servers: str, topics: Iterable[str]) -> list[TopicPartition]:
    names = sorted(set(topics))
    admin = kafka_client.admin(bootstrap_servers=bootstrap_servers)
    await kafka_client.started(admin.start, bootstrap_servers)
    try:
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    found = [TopicPartition(topic["topic"], partition["partition"])
             for topic in described if not topic["error_code"]
             for partition in topic["partitions"]]
    missing = set(names) - {partition.topic for partition in found}
    if missing:
        raise LookupError(f"topics not on the broker: {', '.join(sorted(missing))}")
    return sorted(found)


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2 of the key) gives a keyed record."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions

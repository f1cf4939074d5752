"""Creates the topics of the registry with their partition counts and retention; reads the
broker settings a consumer must fit."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError, for_code

from shared.contract.topics import Topic
from shared.settings import Settings


async def ensure_topics(bootstrap_servers: str, topics: Iterable[Topic], *,
                        replication_factor: int | None = None, timeout_s: float = 60.0,
                        prefix: str = "") -> list[str]:
    """Create the missing topics; return their names. An existing topic keeps its partitions;
    one whose message.timestamp.type differs from the registry's is given the registry's
    configuration (shared/contract/topics.LOG_APPEND_TIME). Replicas and min.insync.replicas
    come from the settings unless given."""
    settings = Settings()
    replication_factor = replication_factor or settings.topic_replication_factor
    durability = ({"min.insync.replicas": str(settings.topic_min_insync_replicas)}
                  if settings.topic_min_insync_replicas else {})
    wanted = {prefix + topic.name: topic for topic in topics}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            await admin.start()
            break
        except KafkaConnectionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)
    try:
        existing = set(await admin.list_topics())
        missing = {name: topic for name, topic in wanted.items() if name not in existing}
        await _align_timestamp_types(admin, {name: topic for name, topic in wanted.items()
                                             if name in existing}, durability)
        if not missing:
            return []
        response = await admin.create_topics([
            NewTopic(name, topic.partitions, replication_factor,
                     topic_configs=_topic_configs(topic, durability))
            for name, topic in missing.items()
        ])
        for name, code, *rest in response.topic_errors:
            if code and not issubclass(for_code(code), TopicAlreadyExistsError):
                raise for_code(code)(f"creating {name}: {rest[0] if rest else ''}")
        await _wait_for_metadata(admin, list(missing), deadline)
        await _wait_for_offsets(bootstrap_servers, missing, deadline)
        return list(missing)
    finally:
        await admin.close()


def _topic_configs(topic: Topic, durability: dict[str, str]) -> dict[str, str]:
    return {"retention.ms": str(topic.retention_ms), **durability, **topic.config}


TIMESTAMP_TYPE = "message.timestamp.type"


async def topic_timestamp_types(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, str]:
    if not names:
        return {}
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, {TIMESTAMP_TYPE: None})
         for name in names])
    types = {}
    for response in responses:
        for _code, _message, _type, name, entries in response.resources:
            for entry in entries:
                if entry[0] == TIMESTAMP_TYPE:
                    types[name] = entry[1]
    return types


async def _align_timestamp_types(admin: AIOKafkaAdminClient, existing: dict[str, Topic],
                                 durability: dict[str, str]) -> None:
    """A topic created before its registry entry asked for LogAppendTime gets it now. Kafka's
    AlterConfigs replaces a topic's whole configuration, so the registry's whole configuration
    is sent, as at creation."""
    current = await topic_timestamp_types(admin, list(existing))
    drifted = {name: topic for name, topic in existing.items()
               if current.get(name) != topic.config.get(TIMESTAMP_TYPE, "CreateTime")}
    if not drifted:
        return
    responses = await admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, _topic_configs(topic, durability))
         for name, topic in drifted.items()])
    for response in responses:
        for code, message, _type, name in response.resources:
            if code:
                raise for_code(code)(f"configuring {name}: {message}")


async def _wait_for_metadata(admin: AIOKafkaAdminClient, names: list[str],
                             deadline: float) -> None:
    """Until every partition of these new topics has a leader: clients started before then
    are answered NotLeaderForPartition and print a warning for every retry."""
    while names := [topic["topic"] for topic in await admin.describe_topics(names)
                    if not _led(topic)]:
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"topics without a leader for every partition: {names}")
        await asyncio.sleep(0.1)


async def _wait_for_offsets(bootstrap_servers: str, topics: dict[str, Topic],
                            deadline: float) -> None:
    """Until the leader of every partition answers for it: a partition's leader is in the
    metadata a moment before it serves offsets, and a consumer asking meanwhile logs an error
    for every retry."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(name, number)
                      for name, topic in topics.items() for number in range(topic.partitions)]
        remaining = max(0.1, deadline - asyncio.get_running_loop().time())
        # The consumer retries a partition whose leader is not ready yet, quietly.
        await asyncio.wait_for(consumer.beginning_offsets(partitions), remaining)
    finally:
        await consumer.stop()


def _led(topic: dict) -> bool:
    partitions = topic["partitions"]
    return (topic["error_code"] == 0 and bool(partitions)
            and all(p["error_code"] == 0 and p["leader"] >= 0 for p in partitions))


async def group_min_session_timeout_ms(bootstrap_servers: str) -> int | None:
    """The shortest consumer session a broker accepts (group.min.session.timeout.ms); None when
    it cannot be read (an older broker, or no right to describe its configuration)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        node = min(broker["node_id"] for broker in (await admin.describe_cluster())["brokers"])
        name = "group.min.session.timeout.ms"
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.BROKER, str(node), {name: None})])
        for response in responses:
            for _code, _message, _type, _name, entries in response.resources:
                for entry in entries:
                    if entry[0] == name and entry[1] is not None:
                        return int(entry[1])
    except Exception:  # noqa: BLE001 - a broker that cannot say keeps the configured value
        return None
    finally:
        await admin.close()
    return None

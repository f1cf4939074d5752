"""Creates the topics of the registry with their partitions, replicas and configs, reports the
drift of existing ones, checks that a service's topics exist; reads the broker settings a
consumer must fit."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError, for_code

from shared import kafka_client
from shared.contract.topics import Topic
from shared.kafka_client import KafkaAuthenticationFailed, KafkaSecurity, started
from shared.runtime.topic_layout import Observed, TopicLayout, TopicsReport, drift_of, layouts
from shared.settings import Settings


class TopicsMissing(RuntimeError):
    """A service or tool found topics it needs absent: creating them is the deployment's step,
    with the rights to create, not the service's."""

    def __init__(self, missing: list[str]):
        self.missing = missing
        super().__init__(f"{len(missing)} topics do not exist: {', '.join(missing)}; create "
                         "them with `coinlog topics ensure` (same COINLOG_TOPIC_PREFIX and "
                         "KAFKA_BOOTSTRAP_SERVERS)")


async def ensure_topics(bootstrap_servers: str, topics: Iterable[Topic], *,
                        replication_factor: int | None = None, timeout_s: float = 60.0,
                        prefix: str = "", security: KafkaSecurity | None = None) -> list[str]:
    """Create the missing topics and give existing ones the registry's configs; return the
    names created. An existing topic keeps its partitions and replicas (reported as drift by
    `reconcile_topics`)."""
    report = await reconcile_topics(bootstrap_servers, topics, prefix=prefix, security=security,
                                    replication_factor=replication_factor, timeout_s=timeout_s)
    return report.created


async def reconcile_topics(bootstrap_servers: str, topics: Iterable[Topic], *, prefix: str = "",
                           check: bool = False, replication_factor: int | None = None,
                           timeout_s: float = 60.0,
                           security: KafkaSecurity | None = None) -> TopicsReport:
    """Compare the broker's topics with the registry's layout (replicas and
    min.insync.replicas from the settings unless given). Unless `check`, create the missing
    ones and set the configs of the drifted ones; partitions and replicas are only reported."""
    settings = Settings()
    wanted = layouts(topics, prefix=prefix,
                     replication_factor=replication_factor or settings.topic_replication_factor,
                     min_insync_replicas=settings.topic_min_insync_replicas)
    deadline = asyncio.get_running_loop().time() + timeout_s
    admin = await _started_admin(bootstrap_servers, deadline, security)
    report = TopicsReport(check=check)
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        present = {name: layout for name, layout in wanted.items() if name in existing}
        for name, observed in (await _observe(admin, present)).items():
            report.drift += drift_of(present[name], observed)
        if check:
            report.missing = missing
            return report
        drifted = sorted({d.topic for d in report.drift if d.alterable})
        await _alter_configs(admin, [present[name] for name in drifted])
        report.altered = drifted
        if missing:
            await _create(admin, [wanted[name] for name in missing])
            await _wait_for_metadata(admin, missing, deadline)
            await _wait_for_offsets(bootstrap_servers, {n: wanted[n] for n in missing},
                                    deadline, security)
        report.created = missing
        return report
    finally:
        await admin.close()


async def require_topics(bootstrap_servers: str, topics: Iterable[Topic], *,
                         prefix: str = "", timeout_s: float = 60.0,
                         security: KafkaSecurity | None = None) -> None:
    """Raise TopicsMissing unless every topic exists (under the prefix)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    admin = await _started_admin(bootstrap_servers, deadline, security)
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    if missing := sorted({prefix + topic.name for topic in topics} - existing):
        raise TopicsMissing(missing)


async def _started_admin(bootstrap_servers: str, deadline: float,
                         security: KafkaSecurity | None) -> AIOKafkaAdminClient:
    """An admin client once the broker answers (it may still be starting); refused
    credentials fail at once (KafkaAuthenticationFailed)."""
    admin = kafka_client.admin(bootstrap_servers=bootstrap_servers, security=security)
    while True:
        try:
            await started(admin.start, bootstrap_servers, security)
            return admin
        except KafkaAuthenticationFailed:
            await admin.close()
            raise
        except KafkaConnectionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _observe(admin: AIOKafkaAdminClient,
                   present: dict[str, TopicLayout]) -> dict[str, Observed]:
    if not present:
        return {}
    described = {topic["topic"]: topic["partitions"]
                 for topic in await admin.describe_topics(list(present))
                 if topic["error_code"] == 0}
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, dict.fromkeys(layout.configs))
         for name, layout in present.items()])
    configs: dict[str, dict[str, str | None]] = {}
    for response in responses:
        for _code, _message, _type, name, entries in response.resources:
            configs[name] = {entry[0]: entry[1] for entry in entries}
    return {name: Observed(len(partitions),
                           min((len(p["replicas"]) for p in partitions), default=0),
                           configs.get(name, {}))
            for name, partitions in described.items()}


async def _create(admin: AIOKafkaAdminClient, missing: list[TopicLayout]) -> None:
    response = await admin.create_topics([
        NewTopic(layout.name, layout.partitions, layout.replication_factor,
                 topic_configs=layout.configs)
        for layout in missing
    ])
    for name, code, *rest in response.topic_errors:
        if code and not issubclass(for_code(code), TopicAlreadyExistsError):
            raise for_code(code)(f"creating {name}: {rest[0] if rest else ''}")


async def _alter_configs(admin: AIOKafkaAdminClient, drifted: list[TopicLayout]) -> None:
    """Kafka's AlterConfigs replaces a topic's whole configuration, so the layout's whole
    configuration is sent, as at creation (a topic created before its registry entry asked
    for LogAppendTime gets it this way)."""
    if not drifted:
        return
    responses = await admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, layout.name, layout.configs)
         for layout in drifted])
    for response in responses:
        for code, message, _type, name in response.resources:
            if code:
                raise for_code(code)(f"configuring {name}: {message}")


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


async def _wait_for_metadata(admin: AIOKafkaAdminClient, names: list[str],
                             deadline: float) -> None:
    """Until every partition of these new topics has a leader: clients started before then
    are answered NotLeaderForPartition and print a warning for every retry."""
    while names := [topic["topic"] for topic in await admin.describe_topics(names)
                    if not _led(topic)]:
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"topics without a leader for every partition: {names}")
        await asyncio.sleep(0.1)


async def _wait_for_offsets(bootstrap_servers: str, topics: dict[str, TopicLayout],
                            deadline: float, security: KafkaSecurity | None) -> None:
    """Until the leader of every partition answers for it: a partition's leader is in the
    metadata a moment before it serves offsets, and a consumer asking meanwhile logs an error
    for every retry."""
    consumer = kafka_client.consumer(bootstrap_servers=bootstrap_servers, security=security,
                                     enable_auto_commit=False)
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


async def group_min_session_timeout_ms(bootstrap_servers: str,
                                       security: KafkaSecurity | None = None) -> int | None:
    """The shortest consumer session a broker accepts (group.min.session.timeout.ms); None when
    it cannot be read (an older broker, or no right to describe its configuration)."""
    admin = kafka_client.admin(bootstrap_servers=bootstrap_servers, security=security)
    await started(admin.start, bootstrap_servers, security)
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

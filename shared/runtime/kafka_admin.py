"""Creates the topics of the registry with their partition counts and retention."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError, for_code

from shared.contract.topics import Topic


async def ensure_topics(bootstrap_servers: str, topics: Iterable[Topic], *,
                        replication_factor: int = 1, timeout_s: float = 60.0,
                        prefix: str = "") -> list[str]:
    """Create the missing topics; return their names. Existing topics are left as they are."""
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
        if not missing:
            return []
        response = await admin.create_topics([
            NewTopic(name, topic.partitions, replication_factor,
                     topic_configs={"retention.ms": str(topic.retention_ms), **topic.config})
            for name, topic in missing.items()
        ])
        for name, code, *rest in response.topic_errors:
            if code and not issubclass(for_code(code), TopicAlreadyExistsError):
                raise for_code(code)(f"creating {name}: {rest[0] if rest else ''}")
        await _wait_for_metadata(admin, list(missing), deadline)
        return list(missing)
    finally:
        await admin.close()


async def _wait_for_metadata(admin: AIOKafkaAdminClient, names: list[str],
                             deadline: float) -> None:
    while set(names) - set(await admin.list_topics()):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"topics not visible: {names}")
        await asyncio.sleep(0.1)

"""The log reader ends a partition at its cut even when no record there reaches it: a
partition whose records were all deleted, or deleted below the cut, sends nothing to end on."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import RecordsToDelete

from ops.audit.command import run_audit
from shared import kafka_client
from shared.contract.codec import encode
from shared.contract.events.wallet import CoinsPurchased
from shared.contract.topics import WALLET_LEDGER, Topic
from shared.logread import LogReader
from shared.runtime.kafka_admin import ensure_topics
from tests.contract.examples import EXAMPLES
from tests.infrastructure import Endpoints

pytestmark = pytest.mark.integration


async def test_emptied_and_truncated_partitions_end_at_the_cut(
        infra: Endpoints, suffix: str) -> None:
    event = EXAMPLES[0]
    topic = Topic(f"reader-{suffix}", owner="test", key="id", partitions=2,
                  events=(type(event),))
    await ensure_topics(infra.kafka_bootstrap_servers, [topic])
    producer = kafka_client.producer(bootstrap_servers=infra.kafka_bootstrap_servers)
    await producer.start()
    try:
        for _ in range(5):
            for partition in (0, 1):
                await producer.send_and_wait(topic.name, encode(event), partition=partition)
    finally:
        await producer.stop()
    admin = kafka_client.admin(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topic.name, 0): RecordsToDelete(5),
                                    TopicPartition(topic.name, 1): RecordsToDelete(3)})
    finally:
        await admin.close()

    reader = LogReader(infra.kafka_bootstrap_servers, [topic])
    cut = await reader.cut()
    assert cut.ends == {(topic.name, 0): 5, (topic.name, 1): 5}

    async def read_all() -> list[tuple[int, int]]:
        return [(record.partition, record.offset)
                async for batch in reader.read(cut) for record in batch]

    assert await asyncio.wait_for(read_all(), timeout=30) == [(1, 3), (1, 4)]


async def test_the_audit_reports_records_deleted_from_the_log(
        infra: Endpoints, suffix: str) -> None:
    prefix = f"deleted-{suffix}."
    ledger = WALLET_LEDGER
    await ensure_topics(infra.kafka_bootstrap_servers, [ledger], prefix=prefix)
    purchased = next(e for e in EXAMPLES if isinstance(e, CoinsPurchased))
    producer = kafka_client.producer(bootstrap_servers=infra.kafka_bootstrap_servers)
    await producer.start()
    try:
        for n in range(4):
            event = purchased.model_copy(update={"event_id": uuid.uuid4()})
            await producer.send_and_wait(prefix + ledger.name, encode(event), partition=n % 2,
                                         key=event.key.encode())
    finally:
        await producer.stop()
    admin = kafka_client.admin(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(prefix + ledger.name, 1): RecordsToDelete(2)})
    finally:
        await admin.close()

    run = await asyncio.wait_for(run_audit(infra.kafka_bootstrap_servers, prefix=prefix), 60)

    complete = run.report.invariant("log_complete")
    assert not complete.passed
    assert [(str(v.location), v.message) for v in complete.examples] == [
        (f"{ledger.name}:1:0", "offsets 0 to 1 hold no record: 2 records deleted")]
    assert complete.checked == ledger.partitions

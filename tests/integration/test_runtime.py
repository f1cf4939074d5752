"""The exactly-once runtime against a real Kafka broker and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import asyncpg
import orjson
import pytest

from shared import kafka_client
from shared.contract.envelope import derive_event_id
from shared.contract.topics import Topic
from shared.runtime import db as runtime_db
from shared.runtime.kafka_admin import ensure_topics
from shared.runtime.migrate import apply_migrations, runtime_migrations
from shared.runtime.processor import BatchProcessor
from shared.runtime.service import ServiceProcess
from shared.runtime.unit import Record
from shared.settings import Settings
from tests.integration.conftest import read_topic
from tests.integration.events import publish, publish_raw, purchase
from tests.integration.sample_app import (
    SAMPLE_TABLES,
    make_handler,
    sample_dead_letters,
    sample_definition,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

# A worker runs in a process of its own: its schema may not be migrated yet when a test looks.
NOT_MIGRATED_YET = (asyncpg.UndefinedTableError,)


def expected_outputs(events) -> set[str]:
    return {str(derive_event_id(event.event_id, "credited")) for event in events}


async def count(db, sql: str):
    return await db.fetchval(sql)


async def assert_applied_exactly_once(db, events) -> None:
    rows = await db.fetch("SELECT event_id FROM applied_log")
    applied = [str(row["event_id"]) for row in rows]
    assert len(applied) == len(set(applied)), "an event was applied twice"
    assert set(applied) == {str(event.event_id) for event in events}
    expected = {}
    for event in events:
        expected[event.user_id] = expected.get(event.user_id, 0) + event.coins
    balances = {row["user_id"]: row["coins"]
                for row in await db.fetch("SELECT user_id, coins FROM balances")}
    assert balances == expected


def assert_outputs_published(records, events) -> None:
    by_id: dict[str, bytes] = {}
    for record in records:
        event_id = orjson.loads(record.value)["event_id"]
        if event_id in by_id:
            assert by_id[event_id] == record.value, "a duplicate on the topic changed content"
        by_id[event_id] = record.value
    assert set(by_id) == expected_outputs(events)


@contextlib.asynccontextmanager
async def in_process(infra, sample_topics, schema, suffix, instance="in-process"):
    definition = sample_definition(sample_topics)
    definition.dead_letters = dead_letters(suffix)
    await ensure_topics(infra.kafka_bootstrap_servers, definition.all_topics)
    process = ServiceProcess(definition, Settings(
        KAFKA_BOOTSTRAP_SERVERS=infra.kafka_bootstrap_servers, DATABASE_URL=infra.database_url,
        COINLOG_DB_SCHEMA=schema, COINLOG_HTTP_PORT=-1, COINLOG_INSTANCE_ID=instance))
    await process.start()
    try:
        yield process
    finally:
        await process.stop()


def dead_letters(suffix: str) -> Topic:
    return sample_dead_letters(suffix)


async def fetch_records(bootstrap: str, topic: str, expect: int) -> list[Record]:
    records = await read_topic(bootstrap, topic, expect=expect)
    return [Record(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers), r.timestamp)
            for r in sorted(records, key=lambda r: (r.partition, r.offset))]


async def test_redelivered_batch_changes_nothing(infra, sample_topics, schema, db, producer):
    events = [purchase(f"user-{i % 7}", 10 + i) for i in range(120)]
    await publish(producer, sample_topics.inbound.name, events)
    records = await fetch_records(infra.kafka_bootstrap_servers, sample_topics.inbound.name, 120)
    pool = await runtime_db.create_pool(infra.database_url, schema)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, schema, [*runtime_migrations(), SAMPLE_TABLES])
        processor = BatchProcessor(consumer="sample", topics=[sample_topics.inbound],
                                   handler=make_handler(sample_topics), pool=pool,
                                   dead_letter_topic=dead_letters("unused"))
        first = await processor.process(records)
        assert (first.applied, first.redelivered) == (120, 0)
        before = await db.fetch("SELECT * FROM balances ORDER BY user_id")
        outbox_before = await count(db, "SELECT count(*) FROM outbox")

        again = await processor.process(records)

        assert (again.applied, again.redelivered) == (0, 120)
        assert await db.fetch("SELECT * FROM balances ORDER BY user_id") == before
        assert await count(db, "SELECT count(*) FROM outbox") == outbox_before == 120
        await assert_applied_exactly_once(db, events)
    finally:
        await pool.close()


async def test_a_batch_writes_its_outputs_locks_its_entities_and_wakes_the_relay(
        infra, sample_topics, schema, db, producer):
    events = [purchase(f"user-{i % 4}", 10 + i) for i in range(12)]
    await publish(producer, sample_topics.inbound.name, events)
    records = await fetch_records(infra.kafka_bootstrap_servers, sample_topics.inbound.name, 12)
    woken: list[object] = []
    await db.add_listener("it_wake", lambda *args: woken.append(args))
    pool = await runtime_db.create_pool(infra.database_url, schema)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, schema, [*runtime_migrations(), SAMPLE_TABLES])
        processor = BatchProcessor(consumer="sample", topics=[sample_topics.inbound],
                                   handler=make_handler(sample_topics), pool=pool,
                                   dead_letter_topic=dead_letters("unused"),
                                   notify_channel="it_wake",
                                   entities=lambda event: [event.user_id])
        result = await processor.process(records)
        await wait_until(lambda: len(woken), describe="the relay woken by the commit")
    finally:
        await pool.close()

    assert result.applied == 12
    assert await count(db, "SELECT count(*) FROM outbox") == 12
    assert await count(db, "SELECT count(*) FROM event_history") == 12
    assert {row["entity"] for row in await db.fetch("SELECT entity FROM entity_locks")} == {
        f"user-{i}" for i in range(4)}
    tracked = {(row["topic"], row["partition"]): row["next_offset"]
               for row in await db.fetch("SELECT topic, partition, next_offset FROM tracking")}
    ends: dict[tuple[str, int], int] = {}
    for record in records:
        ends[(record.topic, record.partition)] = record.offset + 1
    assert tracked == ends
    await assert_applied_exactly_once(db, events)


async def test_producer_duplicates_apply_once_and_conflicts_are_dead_lettered(
        infra, sample_topics, schema, db, producer, suffix):
    original = purchase("alice", 100)
    conflicting = original.model_copy(update={"coins": 999})
    later = purchase("alice", 5)
    async with in_process(infra, sample_topics, schema, suffix) as process:
        await publish(producer, sample_topics.inbound.name,
                      [original, original, conflicting, later])
        await wait_until(lambda: count(db, "SELECT count(*) FROM applied_log"),
                         describe="applications")
        await wait_until(lambda: process.relay.idle.is_set(), describe="outbox drained")
        letters = await read_topic(infra.kafka_bootstrap_servers, dead_letters(suffix).name,
                                   expect=1)
    await assert_applied_exactly_once(db, [original, later])
    letter = orjson.loads(letters[0].value)
    assert letter["reason"] == "duplicate_conflict"
    assert letter["source_event_id"] == str(original.event_id)
    assert len(letters) == 1


async def test_bad_input_is_dead_lettered_with_a_reason_and_consumption_goes_on(
        infra, sample_topics, schema, db, producer, suffix):
    first, poisoned, last = purchase("bob", 1), purchase("bob", 2, package_id="poison"), \
        purchase("carol", 3)
    valid_json = orjson.loads(orjson.dumps(first.model_dump(mode="json")))
    as_float = orjson.dumps({**valid_json, "event_id": "5d1c1b7e-0000-4000-8000-000000000001",
                             "coins": 1.5})
    unknown = orjson.dumps({**valid_json, "type": "payments.something_else"})
    async with in_process(infra, sample_topics, schema, suffix):
        await publish(producer, sample_topics.inbound.name, [first])
        await publish_raw(producer, sample_topics.inbound.name,
                          [(b"bob", b"{not json"), (b"bob", as_float), (b"bob", unknown)])
        await publish(producer, sample_topics.inbound.name, [poisoned, last])
        letters = await read_topic(infra.kafka_bootstrap_servers, dead_letters(suffix).name,
                                   expect=4)
        await wait_until(lambda: count(db, "SELECT count(*) FROM applied_log WHERE"
                                           " user_id = 'carol'"), describe="the last event")
    reasons = sorted(orjson.loads(record.value)["reason"] for record in letters)
    assert reasons == ["handler_error", "malformed", "schema_invalid", "unknown_type"]
    details = {orjson.loads(r.value)["reason"]: orjson.loads(r.value)["detail"] for r in letters}
    assert "coins" in details["schema_invalid"]
    assert "this package crashes the handler" in details["handler_error"]
    await assert_applied_exactly_once(db, [first, last])


@pytest.mark.parametrize("crash_at", ["after_commit", "after_publish", "mid_batch"])
async def test_kill_minus_nine_then_restart_applies_every_event_once(
        infra, sample_topics, schema, db, producer, workers, crash_at):
    events = [purchase(f"user-{i % 11}", 1 + i % 50) for i in range(300)]
    await publish(producer, sample_topics.inbound.name, events)

    crashing = workers(crash_at, batch=100)
    assert await crashing.wait_killed() == -signal.SIGKILL
    if crash_at == "after_commit":
        assert await count(db, "SELECT count(*) FROM outbox") > 0, "nothing was left to publish"
    if crash_at == "after_publish":
        on_kafka = await read_topic(infra.kafka_bootstrap_servers, sample_topics.outbound.name,
                                    expect=1)
        left_ids = {str(row["event_id"]) for row in await db.fetch("SELECT event_id FROM outbox")}
        assert left_ids & {orjson.loads(r.value)["event_id"] for r in on_kafka}, \
            "the acknowledged rows were deleted before the crash"

    workers()
    await wait_until(lambda: count(db, "SELECT count(*) FROM applied_log"), timeout_s=90,
                     describe="all applications", not_yet=NOT_MIGRATED_YET)
    await wait_until(lambda: _all_applied_and_drained(db, len(events)), timeout_s=90,
                     describe="every event applied and the outbox drained",
                     not_yet=NOT_MIGRATED_YET)
    await assert_applied_exactly_once(db, events)
    outputs = await read_topic(infra.kafka_bootstrap_servers, sample_topics.outbound.name,
                               expect=len(events))
    assert_outputs_published(outputs, events)


async def _all_applied_and_drained(db, total: int) -> bool:
    applied = await db.fetchval("SELECT count(*) FROM applied_log")
    pending = await db.fetchval("SELECT count(*) FROM outbox")
    return applied >= total and pending == 0


async def test_two_instances_share_partitions_and_apply_once_across_rebalances(
        infra, sample_topics, schema, db, producer, workers):
    published = []

    async def publish_wave(size: int = 60) -> None:
        wave = [purchase(f"user-{i % 13}", 1 + i % 20) for i in range(size)]
        await publish(producer, sample_topics.inbound.name, wave)
        published.extend(wave)

    async def both_instances_applying():
        await publish_wave()
        return await _instances_that_applied(db)

    a = workers(batch=20)
    workers(batch=20)
    # Keep events flowing until the group has settled with work on both instances.
    await wait_until(both_instances_applying, timeout_s=90, interval_s=0.5,
                     describe="both instances applying", not_yet=NOT_MIGRATED_YET)

    # Publishing while an instance leaves, and again while a new one joins, puts batches in
    # flight during both rebalances.
    publishing = asyncio.create_task(publish_wave(300))
    a.stop()
    await publishing
    workers(batch=20)
    for _ in range(5):
        await publish_wave()
    await wait_until(lambda: _all_applied_and_drained(db, len(published)), timeout_s=120,
                     describe="every wave applied", not_yet=NOT_MIGRATED_YET)
    await assert_applied_exactly_once(db, published)


async def _instances_that_applied(db):
    rows = await db.fetch("SELECT DISTINCT applied_by FROM applied_log")
    names = {row["applied_by"] for row in rows}
    return names if len(names) >= 2 else None


async def _count_at_least(db, total: int) -> bool:
    return await db.fetchval("SELECT count(*) FROM applied_log") >= total


async def test_consumer_seeks_to_tracked_offsets_not_to_kafka_commits(
        infra, sample_topics, schema, db, producer, suffix):
    """Kafka's committed offsets may run ahead of the database (or behind); only tracking
    decides where consumption resumes."""
    first = [purchase("dave", 1) for _ in range(20)]
    await publish(producer, sample_topics.inbound.name, first)
    async with in_process(infra, sample_topics, schema, suffix):
        await wait_until(lambda: _count_at_least(db, 20), describe="the first events")
    later = [purchase("dave", 2) for _ in range(30)]
    await publish(producer, sample_topics.inbound.name, later)
    # A committed offset at the log end, as a process that committed to Kafka before its
    # database transaction (and then died) would leave behind.
    await _commit_group_offsets_at_end(infra, sample_topics)
    async with in_process(infra, sample_topics, schema, suffix):
        await wait_until(lambda: _count_at_least(db, 50), describe="every event")
    await assert_applied_exactly_once(db, first + later)


async def _commit_group_offsets_at_end(infra, sample_topics) -> None:
    consumer = kafka_client.consumer(sample_topics.inbound.name, group_id="sample",
                                     bootstrap_servers=infra.kafka_bootstrap_servers,
                                     enable_auto_commit=False, auto_offset_reset="latest")
    await consumer.start()
    try:
        await wait_until(lambda: consumer.assignment(), describe="assignment")
        ends = await consumer.end_offsets(list(consumer.assignment()))
        await consumer.commit(ends)
    finally:
        await consumer.stop()


async def test_records_beyond_the_tracked_offset_are_not_applied(
        infra, sample_topics, schema, db, producer):
    """A batch that starts past the tracked offset (the consumer fetched from somewhere else)
    must not be applied: the records in between would be lost."""
    events = [purchase("frank", 1 + i) for i in range(10)]
    await publish(producer, sample_topics.inbound.name, events)
    records = [r for r in await fetch_records(infra.kafka_bootstrap_servers,
                                              sample_topics.inbound.name, 10)]
    by_partition = [r for r in records if r.partition == records[0].partition]
    assert len(by_partition) == 10
    pool = await runtime_db.create_pool(infra.database_url, schema)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, schema, [*runtime_migrations(), SAMPLE_TABLES])
        processor = BatchProcessor(consumer="sample", topics=[sample_topics.inbound],
                                   handler=make_handler(sample_topics), pool=pool,
                                   dead_letter_topic=dead_letters("unused"))
        await processor.process(by_partition[:3])

        skipped = await processor.process(by_partition[6:])

        position = (by_partition[0].topic, by_partition[0].partition)
        assert skipped.gaps == {position: by_partition[3].offset}
        assert skipped.applied == 0
        assert await count(db, "SELECT count(*) FROM applied_log") == 3
        resumed = await processor.process(by_partition[3:])
        assert (resumed.applied, resumed.gaps) == (7, {})
        await assert_applied_exactly_once(db, events)
    finally:
        await pool.close()

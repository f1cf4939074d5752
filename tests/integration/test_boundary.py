"""The strict event boundary on a real broker: what the consumer refuses, it dead-letters with
the reason; what differs only in spelling is a harmless duplicate; a replay's reader refuses
the same records."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from shared import kafka_client
from shared.contract.codec import MAX_RECORD_BYTES, legacy_content_sha256
from shared.contract.topics import LOG_APPEND_TIME, Topic
from shared.logread import LogReader
from shared.runtime import db as runtime_db
from shared.runtime.kafka_admin import ensure_topics, topic_timestamp_types
from shared.runtime.migrate import apply_migrations, runtime_migrations
from shared.runtime.processor import BatchProcessor
from tests.integration.conftest import read_topic
from tests.integration.events import publish, publish_raw, purchase
from tests.integration.sample_app import SAMPLE_TABLES, make_handler
from tests.integration.test_runtime import (
    assert_applied_exactly_once,
    count,
    dead_letters,
    fetch_records,
    in_process,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def as_json(event) -> dict:
    return orjson.loads(orjson.dumps(event.model_dump(mode="json")))


def refused_inputs() -> list[tuple[bytes | None, bytes, str]]:
    """(record key, value, the reason it is refused for)."""
    def fresh(**changes) -> dict:
        return {**as_json(purchase("dave", 1)), **changes}

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    return [
        (b"mallory", orjson.dumps(fresh()), "key_mismatch"),
        (None, orjson.dumps(fresh()), "key_mismatch"),
        (b"dave", orjson.dumps(fresh(occurred_at=1767225600)), "schema_invalid"),
        (b"dave", orjson.dumps(fresh(occurred_at=future)), "occurred_in_future"),
        (b"dave", orjson.dumps(fresh(note="x" * MAX_RECORD_BYTES)), "too_large"),
        (b"dave", orjson.dumps(fresh(bonus_coins=1000)), "unknown_fields"),
    ]


async def test_refused_input_is_dead_lettered_and_a_respelled_duplicate_is_harmless(
        infra, sample_topics, schema, db, producer, suffix):
    first, last = purchase("dave", 10), purchase("erin", 3)
    respelled = {key: value for key, value in as_json(first).items()
                 if key != "correlation_id"}
    respelled["occurred_at"] = respelled["occurred_at"].replace("Z", "+00:00")
    respelled_bytes = orjson.dumps(dict(reversed(respelled.items())))
    refused = refused_inputs()
    inbound = sample_topics.inbound.name
    async with in_process(infra, sample_topics, schema, suffix):
        await publish(producer, inbound, [first])
        # The producer's timestamp claims the future too: the broker's append time wins.
        await (await producer.send(inbound, refused[3][1], key=b"dave",
                                   timestamp_ms=int(time.time() * 1000) + 3_600_000))
        await publish_raw(producer, inbound, [(key, value) for key, value, _ in refused
                                              if value != refused[3][1]])
        await publish_raw(producer, inbound, [(b"dave", respelled_bytes)])
        await publish(producer, inbound, [last])
        letters = await read_topic(infra.kafka_bootstrap_servers, dead_letters(suffix).name,
                                   expect=len(refused))
        await wait_until(lambda: count(db, "SELECT count(*) FROM applied_log WHERE"
                                           " user_id = 'erin'"), describe="the last event")
    found = sorted((orjson.loads(r.value)["reason"], orjson.loads(r.value)["detail"])
                   for r in letters)
    assert [reason for reason, _ in found] == sorted(reason for _, _, reason in refused)
    details = dict(found)
    assert "'mallory'" in next(d for r, d in found if r == "key_mismatch" and "mallory" in d)
    assert any("no key" in d for r, d in found if r == "key_mismatch")
    assert "occurred_at" in details["schema_invalid"]
    assert "bonus_coins" in details["unknown_fields"]
    await assert_applied_exactly_once(db, [first, last])

    reader = LogReader(infra.kafka_bootstrap_servers, [sample_topics.inbound])
    cut = await reader.cut()
    reasons = [record.error.reason.value async for batch in reader.read(cut)
               for record in batch if record.error is not None]
    assert sorted(reasons) == sorted(reason for _, _, reason in refused)


async def test_input_topics_are_stamped_by_the_broker_existing_ones_included(infra, suffix):
    stamped = Topic(f"it.{suffix}.stamped", "tests", "id", 1, (), config=LOG_APPEND_TIME)
    older = Topic(f"it.{suffix}.older", "tests", "id", 1, ())
    await ensure_topics(infra.kafka_bootstrap_servers, [stamped, older])
    upgraded = Topic(older.name, "tests", "id", 1, (), config=LOG_APPEND_TIME)
    admin = kafka_client.admin(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        assert await topic_timestamp_types(admin, [stamped.name, older.name]) == {
            stamped.name: "LogAppendTime", older.name: "CreateTime"}
        assert await ensure_topics(infra.kafka_bootstrap_servers, [stamped, upgraded]) == []
        types = await topic_timestamp_types(admin, [older.name])
    finally:
        await admin.close()
    assert types == {older.name: "LogAppendTime"}


async def test_an_event_stored_under_the_old_digest_is_still_a_duplicate(
        infra, sample_topics, schema, db, producer):
    event = purchase("frank", 7)
    await publish(producer, sample_topics.inbound.name, [event, event])
    records = await fetch_records(infra.kafka_bootstrap_servers, sample_topics.inbound.name, 2)
    pool = await runtime_db.create_pool(infra.database_url, schema)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, schema, [*runtime_migrations(), SAMPLE_TABLES])
        processor = BatchProcessor(consumer="sample", topics=[sample_topics.inbound],
                                   handler=make_handler(sample_topics), pool=pool,
                                   dead_letter_topic=dead_letters("unused"))
        assert (await processor.process(records[:1])).applied == 1
        # As an inbox row written before digests were canonical holds it.
        old = legacy_content_sha256(sample_topics.inbound, records[0].value or b"")
        await db.execute("UPDATE inbox SET content_sha256 = $1 WHERE event_id = $2", old,
                         event.event_id)
        again = await processor.process(records[1:])
    finally:
        await pool.close()
    assert (again.applied, again.duplicates, again.dead_lettered) == (0, 1, 0)
    await assert_applied_exactly_once(db, [event])

"""The outbox relay against a real broker and database: rows written by concurrent batches, some
committing after rows with higher ids were already read, each leave once and in order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
import pytest

from shared.contract.events.payments import PurchaseCompleted
from shared.contract.topics import Topic
from shared.runtime import db as runtime_db
from shared.runtime.kafka_admin import ensure_topics
from shared.runtime.migrate import apply_migrations, runtime_migrations
from shared.runtime.relay import OutboxRelay, notify_channel
from tests.infrastructure import Endpoints
from tests.integration.conftest import read_topic
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

_INSERT = """INSERT INTO outbox (event_id, topic, key, value)
             SELECT gen_random_uuid(), $1, k, v FROM unnest($2::bytea[], $3::bytea[]) AS x(k, v)
             RETURNING id"""


@pytest.fixture
async def topic(infra: Endpoints, suffix: str) -> Topic:
    created = Topic(f"it.{suffix}.relayed", "tests", "key", 3, (PurchaseCompleted,))
    await ensure_topics(infra.kafka_bootstrap_servers, [created])
    return created


@pytest.fixture
async def relay(infra: Endpoints, schema: str) -> AsyncIterator[OutboxRelay]:
    conn = await runtime_db.connect(infra.database_url, schema)
    try:
        await apply_migrations(conn, schema, runtime_migrations())
    finally:
        await conn.close()
    relay = OutboxRelay(database_url=infra.database_url, schema=schema,
                        bootstrap_servers=infra.kafka_bootstrap_servers, batch_size=50)
    task = asyncio.create_task(relay.run())
    yield relay
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@contextlib.asynccontextmanager
async def connected(infra: Endpoints, schema: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await runtime_db.connect(infra.database_url, schema)
    try:
        yield conn
    finally:
        await conn.close()


async def write(conn: asyncpg.Connection, topic: Topic, schema: str,
                rows: list[tuple[str, int]]) -> list[int]:
    """Outbox rows keyed by their first element, numbered by the second (in the value)."""
    ids = await conn.fetch(_INSERT, topic.name, [key.encode() for key, _ in rows],
                           [orjson.dumps({"n": number}) for _, number in rows])
    await conn.execute("SELECT pg_notify($1, '')", notify_channel(schema))
    return [row["id"] for row in ids]


def numbers_by_key(records: list[Any]) -> dict[bytes, list[int]]:
    found: dict[bytes, list[int]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        found.setdefault(record.key, []).append(orjson.loads(record.value)["n"])
    return found


async def outbox_rows(db: asyncpg.Connection) -> int:
    return await db.fetchval("SELECT count(*) FROM outbox")


async def test_a_row_committed_after_a_higher_id_was_published_is_published_too(
        infra, schema, db, topic, relay):
    async with connected(infra, schema) as late, \
            connected(infra, schema) as early:
        transaction = late.transaction()
        await transaction.start()
        (lower,) = await write(late, topic, schema, [("late", 1)])
        (higher,) = await write(early, topic, schema, [("early", 2)])
        assert lower < higher
        await read_topic(infra.kafka_bootstrap_servers, topic.name, expect=1)
        await wait_until(lambda: relay.idle.is_set(), describe="the relay idle")

        await transaction.commit()
        await late.execute("SELECT pg_notify($1, '')", notify_channel(schema))

    records = await read_topic(infra.kafka_bootstrap_servers, topic.name, expect=2)
    assert numbers_by_key(records) == {b"early": [2], b"late": [1]}
    await wait_until(lambda: outbox_rows(db), ready=lambda left: left == 0,
                     describe="the outbox emptied")


async def test_rows_written_while_others_are_in_flight_leave_once_and_in_order(
        infra, schema, db, topic, relay):
    keys = [f"key-{i}" for i in range(7)]
    written = 0
    async with connected(infra, schema) as conn:
        for _ in range(40):
            rows = [(keys[(written + i) % len(keys)], written + i) for i in range(30)]
            await write(conn, topic, schema, rows)
            written += len(rows)

    records = await read_topic(infra.kafka_bootstrap_servers, topic.name, expect=written)
    assert len(records) == written, "a row was published twice"
    for key, numbers in numbers_by_key(records).items():
        assert numbers == sorted(numbers), f"{key!r} out of order"
    await wait_until(lambda: outbox_rows(db), ready=lambda left: left == 0,
                     describe="the outbox emptied")
    assert relay.is_leader


class _CountingRelay(OutboxRelay):
    """Notes every producer it makes and every attempt to reach its database."""

    def __init__(self, **settings: Any):
        super().__init__(**settings)
        self.producers: list[Any] = []
        self.attempts = 0

    def _new_producer(self) -> Any:
        producer = super()._new_producer()
        self.producers.append(producer)
        return producer


async def test_a_relay_whose_database_is_out_of_reach_leaves_no_producer_open(
        infra: Endpoints, monkeypatch: pytest.MonkeyPatch) -> None:
    relay = _CountingRelay(database_url="postgresql://coinlog:coinlog@127.0.0.1:1/coinlog",
                           schema="unreachable", bootstrap_servers=infra.kafka_bootstrap_servers)
    connect = runtime_db.connect

    async def counted(*args: Any, **kwargs: Any) -> Any:
        relay.attempts += 1
        return await connect(*args, **kwargs)

    monkeypatch.setattr(runtime_db, "connect", counted)
    task = asyncio.create_task(relay.run())
    try:
        await wait_until(lambda: relay.attempts, ready=lambda n: n >= 3, timeout_s=30,
                         describe="three attempts to reach the database")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert not relay.is_leader
    # aiokafka keeps whether a producer was closed to itself (its __del__ warns by it).
    assert [p for p in relay.producers if not p._closed] == []  # noqa: SLF001

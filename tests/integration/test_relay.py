"""The outbox relay against a real broker and database: rows written by concurrent batches, some
committing after rows with higher ids were already read, each leave once and in order."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import urllib.parse
import uuid
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


def _as_role(database_url: str, role: str, password: str) -> str:
    parts = urllib.parse.urlsplit(database_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{role}:{password}@{host}"))


@contextlib.asynccontextmanager
async def another_role(infra: Endpoints, suffix: str) -> AsyncIterator[asyncpg.Connection]:
    """A session of a role that is not the service's (as another service's role would be)."""
    role, password = f"it_other_{suffix}", uuid.uuid4().hex
    admin = await asyncpg.connect(infra.database_url)
    await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    other = await asyncpg.connect(_as_role(infra.database_url, role, password))
    try:
        yield other
    finally:
        await other.close()
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()


async def test_another_role_can_neither_take_the_leadership_nor_stop_the_relay(
        infra, schema, suffix, topic):
    await _migrated(infra, schema)
    async with another_role(infra, suffix) as other:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with other.transaction():
                await other.execute(f'LOCK TABLE "{schema}".relay_leadership '
                                    "IN SHARE UPDATE EXCLUSIVE MODE NOWAIT")
        # What stopped the relay when an advisory lock elected it: any role may take one.
        digest = hashlib.sha256(f"relay:{schema}".encode()).digest()
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)",
                                    int.from_bytes(digest[:8], "big", signed=True))
        async with _running_relay(infra, schema) as relay, connected(infra, schema) as conn:
            await write(conn, topic, schema, [("k", 1), ("k", 2)])
            records = await read_topic(infra.kafka_bootstrap_servers, topic.name, expect=2)
            assert numbers_by_key(records) == {b"k": [1, 2]}
            assert relay.is_leader


async def _migrated(infra: Endpoints, schema: str) -> None:
    conn = await runtime_db.connect(infra.database_url, schema)
    try:
        await apply_migrations(conn, schema, runtime_migrations())
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def _running_relay(infra: Endpoints, schema: str) -> AsyncIterator[OutboxRelay]:
    await _migrated(infra, schema)
    relay = OutboxRelay(database_url=infra.database_url, schema=schema,
                        bootstrap_servers=infra.kafka_bootstrap_servers, batch_size=50,
                        idle_poll_s=0.2)
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


_LOCK_HOLDER = """SELECT l.pid FROM pg_locks l
    WHERE l.relation = to_regclass(format('%I.relay_leadership', $1::text))
      AND l.mode = 'ShareUpdateExclusiveLock' AND l.granted"""


async def test_when_the_leaders_lock_session_ends_another_relay_takes_over_and_the_old_one_reads_nothing(  # noqa: E501
        infra, schema, db, topic):
    async with _running_relay(infra, schema) as first, connected(infra, schema) as conn:
        await wait_until(lambda: first.is_leader, describe="the first relay leading")
        async with _running_relay(infra, schema) as second:
            await write(conn, topic, schema, [("k", n) for n in range(10)])
            await read_topic(infra.kafka_bootstrap_servers, topic.name, expect=10)
            assert not second.is_leader
            holder = await db.fetchval(_LOCK_HOLDER, schema)
            epoch = await db.fetchval("SELECT epoch FROM relay_leadership")

            await db.execute("SELECT pg_terminate_backend($1)", holder)
            await wait_until(lambda: db.fetchval("SELECT epoch FROM relay_leadership"),
                             ready=lambda now: now > epoch, describe="a new epoch")
            await write(conn, topic, schema, [("k", n) for n in range(10, 20)])
            records = await read_topic(infra.kafka_bootstrap_servers, topic.name, expect=20)

            assert numbers_by_key(records) == {b"k": list(range(20))}
            # A relay still at the old epoch reads nothing, rows or not.
            await write(conn, topic, schema, [("k", 20)])
            assert await first._delete_and_read(conn, [], [], 10, epoch) == []  # noqa: SLF001

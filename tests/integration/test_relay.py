"""The outbox relay against a real broker and database: rows written by concurrent batches, some
committing after rows with higher ids were already read, each leave once and in order; one relay
of several leads, by a lease no other role can take, and a leader that stops renewing it (frozen,
its session ended, its process killed) is replaced without two relays ever marking at once."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import signal
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
import pytest

from shared.contract.events.payments import PurchaseCompleted
from shared.contract.topics import Topic
from shared.runtime import db as runtime_db
from shared.runtime.kafka_admin import ensure_topics
from shared.runtime.lease import LEASE_TTL_S, RENEW_LEASE_EVERY_S, LeaseLost
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


@dataclass(frozen=True)
class Mark:
    """One statement of a relay that deleted published rows."""

    started: float
    ended: float
    epoch: int
    rows: int


class _WatchedRelay(OutboxRelay):
    """Notes every mark it makes, and can be frozen (as a stopped process would be) at the
    start of a round: it then neither renews its lease nor publishes."""

    def __init__(self, **settings: Any):
        super().__init__(**settings)
        self.marks: list[Mark] = []
        self.thawed = asyncio.Event()
        self.thawed.set()
        self.frozen = asyncio.Event()

    async def _publish_some(self, conn: Any, producer: Any, deliveries: Any) -> float:
        if not self.thawed.is_set():
            self.frozen.set()
            await self.thawed.wait()
        return await super()._publish_some(conn, producer, deliveries)

    async def _delete_and_read(self, conn: Any, acknowledged: list[int], in_flight: list[int],
                               limit: int) -> list[Any]:
        started, epoch = time.monotonic(), self.lease.epoch
        rows = await super()._delete_and_read(conn, acknowledged, in_flight, limit)
        if acknowledged:
            assert epoch is not None
            self.marks.append(Mark(started, time.monotonic(), epoch, len(acknowledged)))
        return rows


async def _migrated(infra: Endpoints, schema: str) -> None:
    conn = await runtime_db.connect(infra.database_url, schema)
    try:
        await apply_migrations(conn, schema, runtime_migrations())
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def _running_relay(infra: Endpoints, schema: str, name: str, **lease: float
                         ) -> AsyncIterator[_WatchedRelay]:
    await _migrated(infra, schema)
    relay = _WatchedRelay(database_url=infra.database_url, schema=schema,
                          bootstrap_servers=infra.kafka_bootstrap_servers, batch_size=50,
                          idle_poll_s=0.2, client_id=name, **lease)
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        relay.thawed.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def first_seen(records: list[Any]) -> dict[bytes, list[int]]:
    """Numbers by key in the order they first reached their partition: after a takeover a row
    may be on it twice, and consumers keep the first copy."""
    seen: set[tuple[bytes, int]] = set()
    found: dict[bytes, list[int]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        number = orjson.loads(record.value)["n"]
        if (record.key, number) not in seen:
            seen.add((record.key, number))
            found.setdefault(record.key, []).append(number)
    return found


def never_together(earlier: _WatchedRelay, later: _WatchedRelay) -> None:
    """Every mark of `earlier` ended before the first of `later` began, at a lower epoch."""
    assert later.marks, "the new leader marked nothing"
    if earlier.marks:
        assert max(m.ended for m in earlier.marks) < min(m.started for m in later.marks)
        assert max(m.epoch for m in earlier.marks) < min(m.epoch for m in later.marks)


async def test_a_frozen_leader_is_replaced_once_its_lease_runs_out_and_marks_nothing_after(
        infra, schema, db, topic):
    ttl_s, renew_s = 3.0, 0.5
    async with _running_relay(infra, schema, "first", lease_ttl_s=ttl_s,
                              lease_renew_every_s=renew_s) as first, \
            connected(infra, schema) as conn:
        await wait_until(lambda: first.is_leader, describe="the first relay leading")
        async with _running_relay(infra, schema, "second", lease_ttl_s=ttl_s,
                                  lease_renew_every_s=renew_s) as second:
            await write(conn, topic, schema, [(f"k{n % 3}", n) for n in range(30)])
            await read_topic(infra.kafka_bootstrap_servers, topic.name, expect=30)
            await wait_until(lambda: first.marks, describe="the first relay marking")
            assert not second.is_leader

            first.thawed.clear()
            await wait_until(lambda: first.frozen.is_set(), describe="the leader frozen")
            frozen_at = time.monotonic()
            await write(conn, topic, schema, [(f"k{n % 3}", n) for n in range(30, 60)])
            await wait_until(lambda: second.is_leader, timeout_s=ttl_s + 10,
                             describe="the second relay leading")
            took_over_s = time.monotonic() - frozen_at
            records = await read_topic(infra.kafka_bootstrap_servers, topic.name, expect=60)
            await wait_until(lambda: second.marks, describe="the second relay marking")

            first.thawed.set()
            await wait_until(lambda: not first.is_leader, describe="the first one stepping down")
            await write(conn, topic, schema, [(f"k{n % 3}", n) for n in range(60, 70)])
            records = await read_topic(infra.kafka_bootstrap_servers, topic.name, expect=70)
            await wait_until(lambda: outbox_rows(db), ready=lambda left: left == 0,
                             describe="the outbox emptied")

    # Not before the lease ran out (it was renewed at most renew_s before the freeze), and
    # within a poll or two after.
    assert ttl_s - renew_s - 0.3 <= took_over_s <= ttl_s + 2.0, took_over_s
    never_together(first, second)
    assert first_seen(records) == {f"k{k}".encode(): list(range(k, 70, 3)) for k in range(3)}


async def _leader_session(db: asyncpg.Connection) -> int:
    return await db.fetchval("SELECT holder_pid FROM relay_lease")


async def test_when_the_leaders_session_ends_another_relay_takes_over_at_once_and_the_old_epoch_reads_nothing(  # noqa: E501
        infra, schema, db, topic):
    # A lease far longer than the test: only the ended session lets the second relay lead.
    lease = {"lease_ttl_s": 60.0, "lease_renew_every_s": 1.0}
    async with connected(infra, schema) as conn:
        async with _running_relay(infra, schema, "first", **lease) as first:
            await wait_until(lambda: first.is_leader, describe="the first relay leading")
            async with _running_relay(infra, schema, "second", **lease) as second:
                await write(conn, topic, schema, [("k", n) for n in range(10)])
                await read_topic(infra.kafka_bootstrap_servers, topic.name, expect=10)
                assert not second.is_leader
                epoch = await db.fetchval("SELECT epoch FROM relay_lease")

                ended_at = time.monotonic()
                await db.execute("SELECT pg_terminate_backend($1)", await _leader_session(db))
                await wait_until(lambda: second.is_leader, timeout_s=20,
                                 describe="the second relay leading")
                assert time.monotonic() - ended_at < 10
                assert await db.fetchval("SELECT epoch FROM relay_lease") > epoch
                await write(conn, topic, schema, [("k", n) for n in range(10, 20)])
                records = await read_topic(infra.kafka_bootstrap_servers, topic.name,
                                           expect=20)
                assert first_seen(records) == {b"k": list(range(20))}
        # Both stopped. A relay still at the old epoch neither marks a row nor reads one.
        (row,) = await write(conn, topic, schema, [("k", 20)])
        waiting = await outbox_rows(db)
        first.lease.epoch = epoch
        with pytest.raises(LeaseLost):
            await first._delete_and_read(conn, [row], [], 10)  # noqa: SLF001
        assert await outbox_rows(db) == waiting


async def test_a_killed_leaders_process_is_replaced_without_waiting_for_its_lease(
        infra, schema, db, sample_topics, workers):
    worker = workers()
    await wait_until(lambda: db.fetchval("SELECT holder FROM relay_lease"),
                     ready=lambda holder: bool(holder) and "worker-" in holder, timeout_s=60,
                     not_yet=(asyncpg.UndefinedTableError,), describe="the worker leading")
    async with _running_relay(infra, schema, "survivor",
                              lease_ttl_s=60.0, lease_renew_every_s=1.0) as survivor:
        killed_at = time.monotonic()
        worker.process.send_signal(signal.SIGKILL)
        await wait_until(lambda: survivor.is_leader, timeout_s=30,
                         describe="the survivor leading")
        # The worker's lease (LEASE_TTL_S, renewed every RENEW_LEASE_EVERY_S) had at least
        # 8 s left: the survivor led because the killed process's session had ended.
        assert time.monotonic() - killed_at < LEASE_TTL_S - RENEW_LEASE_EVERY_S - 3


def _as_role(database_url: str, role: str, password: str) -> str:
    parts = urllib.parse.urlsplit(database_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{role}:{password}@{host}"))


@contextlib.asynccontextmanager
async def another_role(infra: Endpoints, schema: str, suffix: str
                       ) -> AsyncIterator[asyncpg.Connection]:
    """A session of a role that is not the schema's owner (as another service's role would
    be), even allowed to look into the schema."""
    role, password = f"it_other_{suffix}", uuid.uuid4().hex
    admin = await asyncpg.connect(infra.database_url)
    database = await admin.fetchval("SELECT current_database()")
    await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    await admin.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
    await admin.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
    other = await asyncpg.connect(_as_role(infra.database_url, role, password))
    try:
        yield other
    finally:
        await other.close()
        await admin.execute(f"DROP OWNED BY {role}")
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()


async def test_another_role_can_neither_take_the_lease_nor_stop_the_relay(
        infra, schema, suffix, topic):
    await _migrated(infra, schema)
    async with another_role(infra, schema, suffix) as other:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await other.execute(f"""UPDATE "{schema}".relay_lease SET holder = 'other',
                                    epoch = epoch + 1, expires_at = 'infinity'""")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with other.transaction():
                await other.execute(f'LOCK TABLE "{schema}".relay_lease IN EXCLUSIVE MODE')
        # What stopped the relay when an advisory lock elected it: any role may take one.
        digest = hashlib.sha256(f"relay:{schema}".encode()).digest()
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)",
                                    int.from_bytes(digest[:8], "big", signed=True))
        async with _running_relay(infra, schema, "only") as relay, \
                connected(infra, schema) as conn:
            await write(conn, topic, schema, [("k", 1), ("k", 2)])
            records = await read_topic(infra.kafka_bootstrap_servers, topic.name, expect=2)
            assert numbers_by_key(records) == {b"k": [1, 2]}
            assert relay.is_leader


_LOCKS = """SELECT c.relname, l.granted FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE l.pid = $1 AND c.relname IN ('outbox', 'relay_lease')"""


async def test_the_relays_statement_locks_its_lease_before_the_outbox_as_a_swap_does(
        infra, schema, db):
    """A swap locks relay_lease first (ops/replay/swap.py); were the relay's statement to lock
    the outbox first, each could wait for the other. Checked on the first execution (parsed)
    and on the next ones (a prepared plan checked again)."""
    await _migrated(infra, schema)
    relay = OutboxRelay(database_url=infra.database_url, schema=schema,
                        bootstrap_servers=infra.kafka_bootstrap_servers)
    relay.lease.epoch = 0
    async with connected(infra, schema) as conn, connected(infra, schema) as swapping:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        for _ in range(3):
            async with swapping.transaction():
                await swapping.execute("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE")
                statement = asyncio.create_task(relay._delete_and_read(conn, [], [], 10))  # noqa: SLF001
                held = await wait_until(
                    lambda: db.fetch(_LOCKS, pid),
                    ready=lambda locks: ("outbox", False) in {tuple(r) for r in locks},
                    describe="the relay's statement waiting for the outbox")
                assert ("relay_lease", True) in {tuple(row) for row in held}
            assert await statement == []

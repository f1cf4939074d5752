"""Publishes a schema's outbox to Kafka with an idempotent producer.

One relay per schema publishes at a time (the holder of the schema's lease, see lease.py), so
outbox rows leave in id order and one entity's events keep their order on its partition. A crash
between Kafka's acknowledgement and the delete republishes the same events with the same ids,
which every consumer drops as duplicates; so do the sends a replaced leader still had in flight.
Each send has a `send <topic>` span (shared/runtime/tracing.py) whose context the record carries on.

The relay does not wait for Kafka to acknowledge a batch before it reads the next one: a row
committed meanwhile is sent at once, while the producer (one request in flight per partition)
keeps the order of the sends. Its reads leave out the rows it has sent and not yet deleted, by
id, and delete the acknowledged ones in the same statement. A read cannot skip to the ids above
the highest one sent instead: outbox ids come from a sequence when a batch inserts its rows, so
a batch that commits after a later one was read holds lower ids, which such a read would never
see again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from shared import kafka_client
from shared.kafka_client import KafkaSecurity
from shared.runtime import db, metrics
from shared.runtime.backoff import Backoff
from shared.runtime.deliveries import Deliveries
from shared.runtime.lease import LEASE_TTL_S, RENEW_LEASE_EVERY_S, Lease, LeaseLost
from shared.runtime.migrate import quote_schema
from shared.runtime.processor import CONNECTION_ERRORS
from shared.runtime.tracing import end_on_delivery, send_span

log = logging.getLogger(__name__)


PUBLISH_TIMEOUT_S = 5.0
"""A leader whose sends are not acknowledged within this long gives up its leadership."""

OUTAGES = (*CONNECTION_ERRORS, asyncpg.PostgresError, KafkaError)

IN_FLIGHT_BATCHES = 2
"""Batches a leader sends before it waits for Kafka's acknowledgements."""

# In one statement (one snapshot): the acknowledged rows are deleted, and the read leaves them
# out as it leaves out the rows still on their way to Kafka; both only while the lease is at the
# relay's epoch ($4). The first row says whether it is; the rows to send, if any, come with it.
# relay_lease is named first both in the first CTE and in the main FROM, so the statement locks
# it before the outbox whether it is parsed or a prepared plan is checked again (the main query's
# tables first, then the CTEs'): a swap locks it first too (ops/replay/swap.py), and the two
# cannot deadlock. Aggregates over it: the planner knows they are one row each (an estimate
# from the table's size made the join look like millions of rows, and JIT-compiled it).
_DELETE_AND_READ = """
    WITH lease AS MATERIALIZED (
             SELECT coalesce(bool_or(epoch = $4), false) AS ours FROM relay_lease),
         published AS (DELETE FROM outbox WHERE id = ANY($1::bigint[])
                                          AND (SELECT ours FROM lease))
    SELECT lease.ours, w.id, w.event_id, w.topic, w.key, w.value, w.headers
    FROM (SELECT count(*) FROM relay_lease) AS held,
         lease LEFT JOIN LATERAL (
             SELECT id, event_id, topic, key, value, headers FROM outbox AS waiting
             WHERE lease.ours AND NOT EXISTS (
                 SELECT FROM unnest($2::bigint[]) AS sent(id) WHERE sent.id = waiting.id)
             ORDER BY id LIMIT $3) AS w ON true
    ORDER BY w.id
"""


def notify_channel(schema: str) -> str:
    return f"coinlog_outbox_{schema}"


class OutboxRelay:
    def __init__(self, *, database_url: str, schema: str, bootstrap_servers: str,
                 batch_size: int = 1000, idle_poll_s: float = 1.0, client_id: str = "coinlog",
                 topic_prefix: str = "", lease_ttl_s: float = LEASE_TTL_S,
                 lease_renew_every_s: float = RENEW_LEASE_EVERY_S,
                 security: KafkaSecurity | None = None):
        quote_schema(schema)
        # Unique per relay: another instance, or this process started again, is another holder,
        # and taking over from it moves the epoch on.
        self.lease = Lease(f"{client_id}/{uuid.uuid4().hex[:12]}", ttl_s=lease_ttl_s,
                           renew_every_s=lease_renew_every_s)
        self.database_url = database_url
        self.schema = schema
        self.bootstrap_servers = bootstrap_servers
        self.batch_size = batch_size
        self.idle_poll_s = idle_poll_s
        self.client_id = client_id
        self.topic_prefix = topic_prefix
        self._leader = metrics.RELAY_LEADER.labels(schema)
        self.security = security
        self.is_leader = False
        self._wake = asyncio.Event()
        self._outage_since = 0.0
        self.idle = asyncio.Event()
        """Set while this relay (as leader) has found the outbox empty: tests wait on it."""

    @property
    def is_leader(self) -> bool:
        return self._is_leader

    @is_leader.setter
    def is_leader(self, leading: bool) -> None:
        # Every change goes through here, so coinlog_relay_leader never disagrees with it.
        self._is_leader = leading
        self._leader.set(1 if leading else 0)

    async def run(self) -> None:
        """Publish until cancelled; reconnect after outages."""
        backoff = Backoff()
        while True:
            try:
                await self._run_connected(backoff)
            except asyncio.CancelledError:
                raise
            except LeaseLost as lost:
                # Another relay leads now (or may, this one's lease having run out): this one
                # starts over as a follower, its sends in flight finishing with its producer.
                self.is_leader = False
                log.warning("outbox relay %s: no longer leading: %s", self.schema, lost)
                await backoff.wait()
            except Exception as error:
                # Outages are expected (the database or the broker going away, a session
                # terminated mid-statement, which asyncpg may report as a client error); anything
                # else is a bug worth a traceback. Either way the relay starts over.
                self.is_leader = False
                self._outage_since = self._outage_since or time.monotonic()
                if isinstance(error, OUTAGES):
                    log.warning("outbox relay %s: %r; reconnecting", self.schema, error)
                else:
                    log.exception("outbox relay %s failed; reconnecting", self.schema)
                await backoff.wait()

    def _new_producer(self) -> AIOKafkaProducer:
        return kafka_client.producer(
            bootstrap_servers=self.bootstrap_servers, security=self.security,
            enable_idempotence=True,
            acks="all",
            # The relay hands over all rows it read before the producer's task runs: they are
            # batched without lingering.
            linger_ms=0,
            request_timeout_ms=int(PUBLISH_TIMEOUT_S * 1000),
            client_id=f"{self.client_id}-relay-{self.schema}",
        )

    async def _run_connected(self, backoff: Backoff) -> None:
        # The database first: while it is out of reach, no producer is made only to be
        # dropped unclosed on every attempt.
        conn = await db.connect(self.database_url, self.schema)
        producer = self._new_producer()
        try:
            # This session only ever deletes published rows: if the server loses a delete in
            # a crash, the rows are published again with the same ids, which is allowed.
            await conn.execute("SET synchronous_commit = off")
            await producer.start()
            await conn.add_listener(notify_channel(self.schema), self._on_notify)
            backoff.reset()
            if self._outage_since:
                log.warning("outbox relay %s: connected again after %.1f s", self.schema,
                            time.monotonic() - self._outage_since)
                self._outage_since = 0.0
            deliveries = Deliveries(on_settled=self._wake.set)
            while True:
                # Cleared first: a wake-up meant for the previous round is spent.
                self._wake.clear()
                if self.is_leader:
                    await self.lease.keep(conn)
                else:
                    self.is_leader = await self.lease.try_take(conn)
                    if not self.is_leader:
                        # Not woken by NOTIFY: a follower asks once a poll, not once a batch.
                        await asyncio.sleep(self.idle_poll_s)
                        continue
                    log.info("outbox relay %s: leading (epoch %d)", self.schema,
                             self.lease.epoch)
                wait_s = await self._publish_some(conn, producer, deliveries)
                if wait_s > 0:
                    await self._sleep(wait_s)
        finally:
            self.is_leader = False
            # A graceful stop, or giving up, hands the lease on at once; a killed process's is
            # taken once its session has ended, a frozen one's once it has expired.
            await self.lease.release(conn)
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), PUBLISH_TIMEOUT_S)

    async def _publish_some(self, conn: asyncpg.Connection, producer: AIOKafkaProducer,
                            deliveries: Deliveries) -> float:
        """Delete what Kafka acknowledged, send what is new; return how long to wait for a
        wake-up (a NOTIFY, an acknowledgement) before the next round."""
        now = time.monotonic()
        acknowledged = deliveries.take_acknowledged(now)
        room = min(self.batch_size,
                   IN_FLIGHT_BATCHES * self.batch_size - deliveries.unacknowledged)
        if room <= 0 and not acknowledged:
            return self._wait_s(deliveries)
        rows = await self._delete_and_read(conn, acknowledged, deliveries.in_flight(),
                                           max(room, 0))
        if acknowledged:
            metrics.OUTBOX_PUBLISHED.labels(self.schema).inc(len(acknowledged))
        if rows:
            self.idle.clear()
            # The producer retries a send that timed out for as long as it runs; a leader whose
            # broker is out of reach would hold the leadership, and every instance's output
            # with it. So it gives up, which releases the leadership (see _run_connected).
            # Nor does it send once its lease may have passed to another relay.
            self.lease.check()
            await asyncio.wait_for(self._send(producer, rows, deliveries), PUBLISH_TIMEOUT_S)
            if len(rows) == room:
                return 0.0
        elif deliveries.empty:
            self.idle.set()
        return self._wait_s(deliveries)

    def _wait_s(self, deliveries: Deliveries) -> float:
        """Until the next poll, the lease's renewal, or until the oldest send is overdue."""
        wait_s = min(self.idle_poll_s, self.lease.seconds_to_renewal())
        overdue_in_s = deliveries.seconds_to_deadline(time.monotonic())
        return wait_s if overdue_in_s is None else min(wait_s, overdue_in_s)

    async def _delete_and_read(self, conn: asyncpg.Connection, acknowledged: list[int],
                               in_flight: list[int], limit: int) -> list[asyncpg.Record]:
        """Delete the acknowledged rows and read the next ones, as long as the lease is still
        at this relay's epoch; raises LeaseLost (having done neither) once it is not."""
        found = await conn.fetch(_DELETE_AND_READ, acknowledged, acknowledged + in_flight, limit,
                                 self.lease.epoch)
        if not found or not found[0]["ours"]:
            # Taken over, or a swap (ops/replay/swap.py) put a schema in place whose lease is
            # at another epoch.
            self.lease.epoch = None
            raise LeaseLost(f"{self.schema}'s lease is at another epoch")
        return [row for row in found if row["id"] is not None]

    async def _send(self, producer: AIOKafkaProducer, rows: list[asyncpg.Record],
                    deliveries: Deliveries) -> None:
        sent = []
        for row in rows:
            topic = self.topic_prefix + row["topic"]
            with send_span(topic, row["key"], str(row["event_id"]),
                           [(name, value) for name, value in row["headers"]]) as (span, headers):
                delivery = await producer.send(
                    topic, value=row["value"], key=row["key"],
                    headers=[(name, value.encode("latin-1")) for name, value in headers])
            end_on_delivery(span, delivery)
            sent.append(delivery)
        deliveries.add([row["id"] for row in rows], sent,
                       deadline=time.monotonic() + PUBLISH_TIMEOUT_S)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _sleep(self, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout_s)


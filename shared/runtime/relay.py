"""Publishes a schema's outbox to Kafka with an idempotent producer.

One relay per schema publishes at a time (a PostgreSQL advisory lock elects it), so outbox rows
leave in id order and one entity's events keep their order on its partition. A crash between
Kafka's acknowledgement and the delete republishes the same events with the same ids, which
every consumer drops as duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from shared.runtime import db, metrics
from shared.runtime.backoff import Backoff
from shared.runtime.migrate import quote_schema
from shared.runtime.processor import CONNECTION_ERRORS

log = logging.getLogger(__name__)


PUBLISH_TIMEOUT_S = 5.0
"""A leader whose sends are not acknowledged within this long gives up its leadership."""

OUTAGES = (*CONNECTION_ERRORS, asyncpg.PostgresError, KafkaError)


def notify_channel(schema: str) -> str:
    return f"coinlog_outbox_{schema}"


def _leader_lock_key(schema: str) -> int:
    digest = hashlib.sha256(f"relay:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class OutboxRelay:
    def __init__(self, *, database_url: str, schema: str, bootstrap_servers: str,
                 batch_size: int = 1000, idle_poll_s: float = 1.0, client_id: str = "coinlog",
                 topic_prefix: str = ""):
        quote_schema(schema)
        self.database_url = database_url
        self.schema = schema
        self.bootstrap_servers = bootstrap_servers
        self.batch_size = batch_size
        self.idle_poll_s = idle_poll_s
        self.client_id = client_id
        self.topic_prefix = topic_prefix
        self.is_leader = False
        self._wake = asyncio.Event()
        self._outage_since = 0.0
        self.idle = asyncio.Event()
        """Set while this relay (as leader) has found the outbox empty: tests wait on it."""

    async def run(self) -> None:
        """Publish until cancelled; reconnect after outages."""
        backoff = Backoff()
        while True:
            try:
                await self._run_connected(backoff)
            except asyncio.CancelledError:
                raise
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

    async def _run_connected(self, backoff: Backoff) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            enable_idempotence=True,
            acks="all",
            linger_ms=1,
            request_timeout_ms=int(PUBLISH_TIMEOUT_S * 1000),
            client_id=f"{self.client_id}-relay-{self.schema}",
        )
        conn = await db.connect(self.database_url, self.schema)
        try:
            await producer.start()
            await conn.add_listener(notify_channel(self.schema), self._on_notify)
            backoff.reset()
            if self._outage_since:
                log.warning("outbox relay %s: connected again after %.1f s", self.schema,
                            time.monotonic() - self._outage_since)
                self._outage_since = 0.0
            while True:
                # Cleared first, by leaders and followers alike: a follower that only ever
                # saw the event set would retry the lock in a busy loop.
                self._wake.clear()
                if not self.is_leader:
                    self.is_leader = await conn.fetchval("SELECT pg_try_advisory_lock($1)",
                                                         _leader_lock_key(self.schema))
                    if not self.is_leader:
                        await self._sleep(self.idle_poll_s * 2)
                        continue
                    log.info("outbox relay %s: leading", self.schema)
                published = await self._publish_some(conn, producer)
                if published < self.batch_size:
                    if published == 0:
                        self.idle.set()
                    await self._sleep(self.idle_poll_s)
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), PUBLISH_TIMEOUT_S)

    async def _publish_some(self, conn: asyncpg.Connection, producer: AIOKafkaProducer) -> int:
        rows = await conn.fetch(
            "SELECT id, topic, key, value, headers FROM outbox ORDER BY id LIMIT $1",
            self.batch_size,
        )
        if not rows:
            return 0
        self.idle.clear()
        # The producer retries a send that timed out for as long as it runs; a leader whose
        # broker is out of reach would hold the leadership, and every instance's output with
        # it. So it gives up, which releases the leadership (see _run_connected).
        await asyncio.wait_for(self._send_all(producer, rows), PUBLISH_TIMEOUT_S)
        await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])",
                           [row["id"] for row in rows])
        metrics.OUTBOX_PUBLISHED.labels(self.schema).inc(len(rows))
        return len(rows)

    async def _send_all(self, producer: AIOKafkaProducer, rows: list[asyncpg.Record]) -> None:
        deliveries = [
            await producer.send(
                self.topic_prefix + row["topic"], value=row["value"], key=row["key"],
                headers=[(name, value.encode("latin-1"))
                         for name, value in row["headers"]],
            )
            for row in rows
        ]
        await asyncio.gather(*deliveries)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _sleep(self, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout_s)


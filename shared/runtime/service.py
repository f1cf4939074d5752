"""One process of one service: pool, migrations, topics, consumers, outbox relay, HTTP.

Every service is composed the same way; only its consumers, migrations and routes differ.
Shutdown is graceful: consumers stop taking batches and finish the one in hand (its transaction
commits or rolls back whole), the relay stops between publishes, then connections close.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import asyncpg
import uvicorn
from fastapi import FastAPI

from shared import kafka_client
from shared.contract.topics import ALL_TOPICS, Topic, dead_letter_topic
from shared.kafka_client import KafkaSecurity
from shared.projection import EntityKind, Projection
from shared.runtime import db, logs
from shared.runtime.auth import verifier_from
from shared.runtime.consumer import ConsumerRuntime
from shared.runtime.http import service_app
from shared.runtime.kafka_admin import group_min_session_timeout_ms, require_topics
from shared.runtime.migrate import Migration, apply_migrations, runtime_migrations
from shared.runtime.relay import OutboxRelay
from shared.runtime.unit import BatchHandler, EntitiesOf, no_entities
from shared.settings import Settings
from shared.telemetry import setup_tracing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumerSpec:
    name: str
    topics: Sequence[Topic]
    handler: BatchHandler
    description: str = ""
    entities: EntitiesOf = no_entities
    """The entities each input's decision reads and writes: locked before the handler runs
    (shared/runtime/locks.py), so any number of instances can share the partitions."""


@dataclass
class ServiceDefinition:
    """Everything the runtime and the tools know of one service: its schema (named after it),
    its consumers and their topics, its migrations, its HTTP routes, and its read model (the
    projection a rebuild folds the log with, and how one of its entities is folded alone)."""

    name: str
    consumers: Sequence[ConsumerSpec]
    migrations: Sequence[Migration] = ()
    """The service's own migrations; the runtime's tables come first (runtime_migrations)."""
    routes: Callable[[asyncpg.Pool], Sequence] = lambda pool: ()
    topics: Sequence[Topic] = field(default_factory=lambda: ALL_TOPICS)
    dead_letters: Topic | None = None
    projection: type[Projection] | None = None
    entity: EntityKind | None = None
    """For point-in-time answers: one entity (a wallet, a creator) folded from its ledger."""

    @property
    def all_migrations(self) -> list[Migration]:
        return [*runtime_migrations(), *self.migrations]

    @property
    def dead_letter_topic(self) -> Topic:
        return self.dead_letters or dead_letter_topic(self.name)

    @property
    def all_topics(self) -> list[Topic]:
        """Every topic the service reads or writes: `coinlog topics ensure` creates them, the
        service only checks that they exist."""
        return list(dict.fromkeys([*self.topics, self.dead_letter_topic]))


class ServiceProcess:
    def __init__(self, definition: ServiceDefinition, settings: Settings):
        self.definition = definition
        self.settings = settings
        self.schema = settings.schema_for(definition.name)
        self.security = KafkaSecurity.from_settings(settings)
        self.broker = kafka_client.broker(
            bootstrap_servers=settings.kafka_bootstrap_servers, security=self.security,
            client_id=f"coinlog-{definition.name}-{settings.instance_id}",
            allow_auto_create_topics=False,
            graceful_timeout=30.0,
            # Per-message lines only when debugging: at INFO they would flood the logs.
            log_level=logging.DEBUG,
            # Through the root logger's handler (not under "faststream", whose handler is its
            # own and does not propagate), so its lines have the process's format.
            logger=logging.getLogger("coinlog.broker"),
            description=f"coinlog {definition.name} service",
        )
        self.pool: asyncpg.Pool | None = None
        self.consumers: list[ConsumerRuntime] = []
        self.relay = OutboxRelay(
            database_url=settings.database_url, schema=self.schema,
            bootstrap_servers=settings.kafka_bootstrap_servers, security=self.security,
            client_id=f"coinlog-{definition.name}-{settings.instance_id}",
            topic_prefix=settings.topic_prefix,
        )
        self.http: FastAPI | None = None
        self.ready = False
        self._tasks: list[asyncio.Task] = []
        self._server: uvicorn.Server | None = None

    async def start(self) -> None:
        settings = self.settings
        # A service has no right to create topics: they are the deployment's
        # (`coinlog topics ensure`); a missing one stops the start with its name.
        await require_topics(settings.kafka_bootstrap_servers, self.definition.all_topics,
                             prefix=settings.topic_prefix, security=self.security)
        self.pool = await db.create_pool(settings.database_url, self.schema,
                                         size=settings.db_pool_size,
                                         instance=settings.instance_id)
        async with self.pool.acquire() as conn:
            applied = await apply_migrations(
                conn, self.schema, self.definition.all_migrations)
        if applied:
            log.info("%s: applied migrations %s", self.schema, ", ".join(applied))
        session_timeout_ms = await self._session_timeout_ms()
        for spec in self.definition.consumers:
            self.consumers.append(ConsumerRuntime(
                broker=self.broker, consumer=spec.name, topics=spec.topics,
                handler=spec.handler, entities=spec.entities, pool=self.pool,
                schema=self.schema,
                dead_letter_topic=self.definition.dead_letter_topic,
                max_records=settings.batch_max_records,
                batch_timeout_ms=settings.batch_timeout_ms, description=spec.description,
                topic_prefix=settings.topic_prefix, session_timeout_ms=session_timeout_ms,
            ))
        self.http = service_app(self.definition, self.pool, self, verifier_from(settings))
        await self.broker.start()
        self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        if settings.http_port >= 0:
            await self._start_http(self.http)
        self.ready = True
        # The port defaults to 0 (any free one), so the address is only known once bound.
        address = (f"http://{self.settings.http_host}:{self.http_port}"
                   if self.http_port is not None else "no HTTP")
        log.info("%s started (schema %s), serving %s", self.definition.name, self.schema, address)

    async def _session_timeout_ms(self) -> int:
        wanted = self.settings.kafka_session_timeout_ms
        broker_min = await group_min_session_timeout_ms(self.settings.kafka_bootstrap_servers,
                                                        self.security)
        if broker_min is not None and broker_min > wanted:
            log.warning("%s: the broker accepts consumer sessions of %d ms or more, not %d ms: "
                        "failover after a crash takes that long (lower the broker's "
                        "group.min.session.timeout.ms to fail over sooner)",
                        self.definition.name, broker_min, wanted)
            return broker_min
        return wanted

    async def _start_http(self, app: FastAPI) -> None:
        config = uvicorn.Config(app, host=self.settings.http_host,
                                port=self.settings.http_port, log_level="warning",
                                lifespan="off")
        self._server = uvicorn.Server(config)
        self._tasks.append(asyncio.create_task(self._server.serve(), name="http"))
        while not self._server.started:
            if self._tasks[-1].done():
                await self._tasks[-1]
            await asyncio.sleep(0.01)

    @property
    def http_port(self) -> int | None:
        if self._server is None or not self._server.servers:
            return None
        return self._server.servers[0].sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.ready = False
        await self.broker.stop()
        if self._server is not None:
            self._server.should_exit = True
        for task in self._tasks:
            if task.get_name() != "http":
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.pool is not None:
            await self.pool.close()

    async def run_until_signalled(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        loop.add_signal_handler(signal.SIGUSR1, _log_tasks)
        await self.start()
        await stop.wait()
        log.info("%s: stopping", self.definition.name)
        await self.stop()


def _log_tasks() -> None:
    """SIGUSR1: where every task of the process is waiting, for a process that seems stuck."""
    stream = io.StringIO()
    for task in asyncio.all_tasks():
        stream.write(f"task {task.get_name()}:\n")
        task.print_stack(limit=12, file=stream)
    log.warning("%d tasks:\n%s", len(asyncio.all_tasks()), stream.getvalue())


def run(definition: ServiceDefinition, settings: Settings | None = None) -> None:
    settings = settings or Settings()
    logs.configure(settings.log_level, log_format=settings.log_format,
                   service=definition.name)
    setup_tracing(definition.name, settings.otel_exporter_otlp_endpoint, settings.instance_id)
    asyncio.run(ServiceProcess(definition, settings).run_until_signalled())

"""One process of one service: pool, migrations, topics, consumers, outbox relay, HTTP.

Every service is composed the same way; only its consumers, migrations and routes differ.
Shutdown is graceful: readiness turns false, consumers stop taking batches and finish the one in
hand within the shutdown grace (its transaction commits; one still running then is cancelled and
rolls back whole), the relay stops between publishes, then the clients and the pool close within
CLOSE_S. The whole stop stays below compose's stop_grace_period.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg
import uvicorn
from aiokafka.client import AIOKafkaClient
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from shared import kafka_client
from shared.contract.topics import ALL_TOPICS, Topic, dead_letter_topic
from shared.kafka_client import KafkaSecurity
from shared.projection import EntityKind, Projection
from shared.runtime import db, logs, metrics
from shared.runtime.auth import verifier_from
from shared.runtime.backlog_gauges import BacklogGauges
from shared.runtime.consumer import ConsumerRuntime
from shared.runtime.health import (
    Check,
    PolicyProbe,
    database_check,
    kafka_check,
    policy_check,
    warn_if_no_policy,
)
from shared.runtime.http import service_app
from shared.runtime.kafka_admin import group_min_session_timeout_ms, require_topics
from shared.runtime.migrate import Migration, apply_migrations, runtime_migrations
from shared.runtime.relay import OutboxRelay
from shared.runtime.scrape_target import ScrapeTarget
from shared.runtime.unit import BatchHandler, EntitiesOf, no_entities
from shared.settings import Settings
from shared.telemetry import setup_tracing, tracing_enabled

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
    policy: PolicyProbe | None = None
    """Whether the policy (or catalog) it decides with has reached it: until then it is not
    ready, and says what it decides on meanwhile."""
    latency_stages: Mapping[str, str] = field(default_factory=dict)
    """Event types this service emits that end a stage of the gift path, with the stage's
    name: their latency from the request is observed (coinlog_gift_latency_seconds)."""

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
            graceful_timeout=settings.shutdown_grace_s,
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
        self.kafka_client: AIOKafkaClient | None = None
        self._tasks: list[asyncio.Task] = []
        self._server: uvicorn.Server | None = None
        self._scrape_target: ScrapeTarget | None = None
        self.backlog: BacklogGauges | None = None

    async def start(self) -> None:
        settings = self.settings
        metrics.announce_build(self.definition.name)
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
                latency_stages=self.definition.latency_stages,
            ))
        await warn_if_no_policy(self.definition.name, self.pool, self.definition.policy)
        self.http = service_app(self.definition, self.pool, self, verifier_from(settings))
        if tracing_enabled():
            FastAPIInstrumentor.instrument_app(self.http, excluded_urls=os.environ.get(
                "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", UNTRACED_URLS))
        self.kafka_client = kafka_client.client(
            bootstrap_servers=settings.kafka_bootstrap_servers, security=self.security,
            client_id=f"coinlog-{self.definition.name}-{settings.instance_id}-health")
        await self.kafka_client.bootstrap()
        await self.broker.start()
        self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        self.backlog = self.backlog_gauges(self.pool)
        self._tasks.append(asyncio.create_task(self.backlog.run(), name="backlog-gauges"))
        if settings.http_port >= 0:
            await self._start_http(self.http)
            self._announce_scrape_target()
        self.ready = True
        # The port defaults to 0 (any free one), so the address is only known once bound.
        address = (f"http://{self.settings.http_host}:{self.http_port}"
                   if self.http_port is not None else "no HTTP")
        log.info("%s started (schema %s), serving %s", self.definition.name, self.schema, address)

    def backlog_gauges(self, pool: asyncpg.Pool) -> BacklogGauges:
        prefix = self.settings.topic_prefix
        return BacklogGauges(
            pool=pool, schema=self.schema,
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            consumers={spec.name: [prefix + topic.name for topic in spec.topics]
                       for spec in self.definition.consumers},
            topic_prefix=prefix, interval_s=self.settings.metrics_refresh_s,
            security=self.security,
            client_id=f"coinlog-{self.definition.name}-{self.settings.instance_id}")

    def _announce_scrape_target(self) -> None:
        if self.settings.local_dir and self.http_port is not None:
            self._scrape_target = ScrapeTarget(self.settings.local_dir, self.definition.name,
                                               self.settings.instance_id)
            self._scrape_target.announce(self.settings.http_host, self.http_port)

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

    async def readiness(self) -> list[Check]:
        checks = [Check("started", self.ready, "consumers and the outbox relay running"
                        if self.ready else "starting or stopping"),
                  await database_check(self.pool), await kafka_check(self.kafka_client)]
        checks += [await consumer.readiness() for consumer in self.consumers]
        checks.append(await policy_check(self.pool, self.definition.policy))
        return checks

    async def liveness(self) -> list[Check]:
        if not self.ready:
            return [Check("started", True, "starting or stopping")]
        return [await consumer.liveness(self.settings.consumer_stall_s)
                for consumer in self.consumers]

    async def stop(self) -> None:
        self.ready = False
        if self._scrape_target is not None:
            self._scrape_target.withdraw()
        grace_s = self.settings.shutdown_grace_s
        # Waits up to the grace for the batch in hand to commit, then cancels it (it rolls
        # back whole); leaving the group may wait on a broker out of reach, hence the bound.
        try:
            await asyncio.wait_for(self.broker.stop(), grace_s + CLOSE_S)
        except TimeoutError:
            log.warning("%s: the consumers did not stop within %.0f s", self.definition.name,
                        grace_s + CLOSE_S)
        if self._server is not None:
            self._server.should_exit = True
        for task in self._tasks:
            if task.get_name() != "http":
                task.cancel()
        closing = asyncio.get_running_loop().time() + CLOSE_S
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_settled(self._tasks), CLOSE_S)
        if self.kafka_client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.kafka_client.close(), _left(closing))
        if self.pool is not None:
            try:
                await asyncio.wait_for(self.pool.close(), _left(closing))
            except TimeoutError:
                log.warning("%s: the pool did not close in time; terminating it",
                            self.definition.name)
                self.pool.terminate()

    async def run_until_signalled(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        loop.add_signal_handler(signal.SIGUSR1, _log_tasks)
        await self.start()
        await stop.wait()
        started = time.monotonic()
        log.info("%s: stopping (the batch in flight has %.0f s to commit)",
                 self.definition.name, self.settings.shutdown_grace_s)
        await self.stop()
        log.info("%s: stopped in %.1f s", self.definition.name, time.monotonic() - started)


UNTRACED_URLS = "healthz,livez,readyz,metrics"
"""Probes and scrapes: a span for each would bury the requests worth tracing."""

CLOSE_S = 5.0
"""After the batch in flight: how long the relay, the HTTP server, the Kafka clients and the
pool may take to close, together. A stop takes at most the shutdown grace plus twice this
(the consumers' own close is bounded by it too): compose's stop_grace_period is longer."""


def _left(deadline: float) -> float:
    return max(0.1, deadline - asyncio.get_running_loop().time())


async def _settled(tasks: Sequence[asyncio.Task]) -> None:
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


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
    setup_tracing(definition.name, settings.instance_id, settings.traces_file)
    asyncio.run(ServiceProcess(definition, settings).run_until_signalled())

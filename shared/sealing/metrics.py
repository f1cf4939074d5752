"""The sealer's metrics, and the HTTP server that serves them beside its health routes.

Seal lag is measured on a timer against the log end offsets, not when the sealer seals: a
sealer that stopped (an outage it keeps retrying, a loop that hangs) would otherwise report the
last lag it saw. Per output partition:

- `coinlog_seal_lag_records`: records on the partition after its last seal (not sealed yet);
- `coinlog_seal_lag_seconds`: how long the partition has had unsealed records without its seal
  moving on (0 when it has none). A healthy sealer seals every few seconds under load, so this
  stays below its seal interval; it rises without bound while the sealer is stuck.

With the counters of records chained and seals published, read from the sealer when scraped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator

import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shared import kafka_client
from shared.runtime import metrics
from shared.runtime.backlog_gauges import partition_numbers
from shared.runtime.http_metrics import HttpMetrics
from shared.runtime.scrape_target import ScrapeTarget
from shared.sealing.sealer import Sealer
from shared.settings import Settings

log = logging.getLogger(__name__)

REFRESH_S = 5.0


class SealerMetrics(Collector):
    """Collected on every scrape from the sealer's state and the last end offsets read."""

    def __init__(self, sealer: Sealer, *, interval_s: float = REFRESH_S):
        self.sealer = sealer
        self.interval_s = interval_s
        self.ends: dict[tuple[str, int], int] = {}
        """(topic as named in the registry, partition) -> end offset, from the last refresh."""
        self._waiting_since: dict[tuple[str, int], tuple[int, float]] = {}
        """Partitions with unsealed records: (sealed through, since when) at the last refresh."""
        self.refreshed = asyncio.Event()

    def lag_records(self, where: tuple[str, int]) -> int:
        return max(0, self.ends.get(where, 0) - (self.sealer.sealed_through(*where) + 1))

    def lag_seconds(self, where: tuple[str, int], now: float | None = None) -> float:
        since = self._waiting_since.get(where)
        if since is None:
            return 0.0
        return max(0.0, (time.monotonic() if now is None else now) - since[1])

    def note_ends(self, ends: dict[tuple[str, int], int], now: float | None = None) -> None:
        """Take a new reading of the end offsets; start or stop each partition's wait."""
        now = time.monotonic() if now is None else now
        self.ends = ends
        for where in ends:
            sealed = self.sealer.sealed_through(*where)
            if self.lag_records(where) == 0:
                self._waiting_since.pop(where, None)
                continue
            before = self._waiting_since.get(where)
            if before is None or before[0] != sealed:
                self._waiting_since[where] = (sealed, now)

    def collect(self) -> Iterator[Metric]:
        records = GaugeMetricFamily(
            "coinlog_seal_lag_records", "Records of an output partition after its last seal",
            labels=["topic", "partition"])
        seconds = GaugeMetricFamily(
            "coinlog_seal_lag_seconds",
            "How long an output partition has had unsealed records without a new seal",
            labels=["topic", "partition"])
        for topic, partition in sorted(self.ends):
            labels = [topic, str(partition)]
            records.add_metric(labels, self.lag_records((topic, partition)))
            seconds.add_metric(labels, self.lag_seconds((topic, partition)))
        yield records
        yield seconds
        yield CounterMetricFamily("coinlog_seals_published", "Seals the sealer published",
                                  value=self.sealer.seals_published)
        yield CounterMetricFamily("coinlog_seal_records_chained",
                                  "Records the sealer added to the partitions' hash chains",
                                  value=self.sealer.records_chained)

    async def run(self) -> None:
        """Read the end offsets every interval until cancelled."""
        clients: tuple[AIOKafkaConsumer, AIOKafkaAdminClient] | None = None
        try:
            while True:
                try:
                    clients = clients or await self._connect()
                    self.note_ends(await self._end_offsets(*clients))
                    self.refreshed.set()
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # noqa: BLE001 - an outage; the next round retries
                    log.debug("sealer metrics: end offsets not read: %r", error)
                    await _close(clients)
                    clients = None
                await asyncio.sleep(self.interval_s)
        finally:
            await _close(clients)

    async def _connect(self) -> tuple[AIOKafkaConsumer, AIOKafkaAdminClient]:
        client_id = f"{self.sealer.client_id}-metrics"
        kafka = kafka_client.consumer(bootstrap_servers=self.sealer.bootstrap_servers,
                                      group_id=None, enable_auto_commit=False,
                                      client_id=client_id)
        admin = kafka_client.admin(bootstrap_servers=self.sealer.bootstrap_servers,
                                   client_id=client_id)
        await kafka.start()
        try:
            await admin.start()
        except BaseException:
            await kafka.stop()
            raise
        return kafka, admin

    async def _end_offsets(self, kafka: AIOKafkaConsumer,
                           admin: AIOKafkaAdminClient) -> dict[tuple[str, int], int]:
        prefix = self.sealer.prefix
        numbers = await partition_numbers(admin, [prefix + topic.name
                                                  for topic in self.sealer.topics])
        partitions = [TopicPartition(topic, number)
                      for topic, found in numbers.items() for number in found]
        ends = await kafka.end_offsets(partitions) if partitions else {}
        return {(tp.topic.removeprefix(prefix), tp.partition): end for tp, end in ends.items()}


async def _close(clients: tuple[AIOKafkaConsumer, AIOKafkaAdminClient] | None) -> None:
    if clients is not None:
        for client in clients:
            with contextlib.suppress(Exception):
                await (client.stop() if isinstance(client, AIOKafkaConsumer) else client.close())


def add_metrics_route(app: FastAPI) -> None:
    """/metrics of the sealer's process (the runtime's registry, with the sealer's own), and
    the HTTP metrics of every route of the app."""
    app.add_middleware(HttpMetrics)

    @app.get("/metrics", include_in_schema=False)
    async def get_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class SealerMetricsServer:
    """The sealer's HTTP server with its metrics: serves `app` (its health routes) with
    /metrics added on COINLOG_HTTP_HOST:COINLOG_HTTP_PORT (0: any free port; negative: none),
    runs the collector's refresh, and announces the address to the local Prometheus."""

    def __init__(self, sealer: Sealer, settings: Settings, app: FastAPI):
        self.settings = settings
        self.app = app
        self.collector = SealerMetrics(sealer)
        self._tasks: list[asyncio.Task] = []
        self._server: uvicorn.Server | None = None
        self._target: ScrapeTarget | None = None

    async def start(self) -> None:
        metrics.announce_build("sealer")
        REGISTRY.register(self.collector)
        self._tasks.append(asyncio.create_task(self.collector.run(), name="sealer-metrics"))
        if self.settings.http_port < 0:
            return
        add_metrics_route(self.app)
        config = uvicorn.Config(self.app, host=self.settings.http_host,
                                port=self.settings.http_port, log_level="warning",
                                lifespan="off")
        self._server = uvicorn.Server(config)
        serving = asyncio.create_task(self._server.serve(), name="http")
        self._tasks.append(serving)
        while not self._server.started:
            if serving.done():
                await serving
            await asyncio.sleep(0.01)
        port = self.port
        log.info("sealer serving http://%s:%s", self.settings.http_host, port)
        if self.settings.local_dir and port is not None:
            self._target = ScrapeTarget(self.settings.local_dir, "sealer",
                                        self.settings.instance_id)
            self._target.announce(self.settings.http_host, port)

    @property
    def port(self) -> int | None:
        if self._server is None or not self._server.servers:
            return None
        return self._server.servers[0].sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._target is not None:
            self._target.withdraw()
        if self._server is not None:
            self._server.should_exit = True
        for task in self._tasks:
            if task.get_name() != "http":
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(KeyError):
            REGISTRY.unregister(self.collector)

"""The metrics operators alert on, read from a running service's /metrics on the real broker and
database: lag that rises while a consumer stands still (no batch runs), an outbox backlog that
counts the rows not published while no relay leads, and the sealer's lag."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared import kafka_client
from shared.contract.events.seals import SEALS_TOPIC_NAME, PartitionSealed
from shared.contract.topics import Topic
from shared.runtime.lease import Lease
from shared.runtime.migrate import apply_migrations, runtime_migrations
from shared.runtime.origin import ORIGIN_HEADER
from shared.runtime.service import ServiceProcess
from shared.sealing.metrics import SealerMetrics
from shared.sealing.sealer import Sealer
from shared.settings import Settings
from tests.infrastructure import Endpoints
from tests.integration.conftest import read_topic
from tests.integration.events import publish, purchase
from tests.integration.sample_app import SampleTopics, sample_definition
from tests.integration.test_runtime import dead_letters
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def serving(infra: Endpoints, topics: SampleTopics, schema: str, suffix: str,
                  local_dir: Path) -> AsyncIterator[ServiceProcess]:
    definition = sample_definition(topics)
    definition.dead_letters = dead_letters(suffix)
    process = ServiceProcess(definition, Settings(
        KAFKA_BOOTSTRAP_SERVERS=infra.kafka_bootstrap_servers, DATABASE_URL=infra.database_url,
        COINLOG_DB_SCHEMA=schema, COINLOG_HTTP_PORT=0, COINLOG_INSTANCE_ID=f"metrics-{suffix}",
        COINLOG_METRICS_REFRESH_S=0.2, COINLOG_LOCAL_DIR=str(local_dir)))
    await process.start()
    try:
        yield process
    finally:
        await process.stop()


def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    """Every sample of the process's /metrics, as Prometheus would read it over HTTP."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def total(samples: dict, name: str, **labels: str) -> float | None:
    """The sum of the matching samples; None when there is none (not measured yet)."""
    wanted = set(labels.items())
    values = [value for (found, sample_labels), value in samples.items()
              if found == name and wanted <= sample_labels]
    return sum(values) if values else None


async def scraped(process: ServiceProcess, name: str, **labels: str) -> float | None:
    assert process.http_port is not None
    return total(await asyncio.to_thread(scrape, process.http_port), name, **labels)


async def test_lag_rises_while_the_consumer_stands_still(infra, sample_topics, schema, suffix,
                                                         producer, db, tmp_path):
    topic = sample_topics.inbound.name
    async with serving(infra, sample_topics, schema, suffix, tmp_path) as process:
        # The process announced its /metrics for the local Prometheus to discover.
        (target,) = tmp_path.joinpath("prometheus", "targets").glob("*.json")
        assert json.loads(target.read_text())[0]["targets"] == [
            f"127.0.0.1:{process.http_port}"]

        await publish(producer, topic, [purchase(f"user-{i}", 5) for i in range(30)])
        await wait_until(lambda: db.fetchval("SELECT count(*) FROM applied_log"),
                         ready=lambda applied: applied == 30, describe="30 purchases applied")
        await wait_until(lambda: scraped(process, "coinlog_consumer_lag_records",
                                         consumer="sample", topic=topic),
                         ready=lambda lag: lag == 0, describe="no lag once all are applied")
        assert await scraped(process, "coinlog_consumer_next_offset", consumer="sample",
                             topic=topic) == 30

        # The consumer stops fetching: no batch runs from here on.
        runtime = process.consumers[0]
        kafka = runtime.kafka_consumer
        assert kafka is not None
        assigned = list(kafka.assignment())
        kafka.pause(*assigned)
        batches = runtime.batches
        await publish(producer, topic, [purchase(f"user-{i}", 5) for i in range(25)])
        await wait_until(lambda: scraped(process, "coinlog_consumer_lag_records",
                                         consumer="sample", topic=topic),
                         ready=lambda lag: lag == 25, in_a_row=3, timeout_s=30,
                         describe="the lag of the 25 records nobody applies")
        assert runtime.batches == batches, "a batch ran: the lag did not rise on its own"
        assert await db.fetchval("SELECT count(*) FROM applied_log") == 30

        kafka.resume(*assigned)
        await wait_until(lambda: scraped(process, "coinlog_consumer_lag_records",
                                         consumer="sample", topic=topic),
                         ready=lambda lag: lag == 0, timeout_s=30,
                         describe="the lag gone once the consumer goes on")
        assert await db.fetchval("SELECT count(*) FROM applied_log") == 55
    assert not target.exists(), "the scrape target outlived the process"


async def test_outbox_backlog_counts_what_no_relay_publishes(infra, sample_topics, schema,
                                                             suffix, producer, db, tmp_path):
    # The test holds the schema's relay lease (for longer than the test): the service's relay
    # can only follow.
    holder = await asyncpg.connect(infra.database_url)
    await apply_migrations(holder, schema, runtime_migrations())
    await holder.execute(f'SET search_path TO "{schema}"')
    lease = Lease("metrics-test", ttl_s=600, renew_every_s=300)
    assert await lease.try_take(holder)
    try:
        async with serving(infra, sample_topics, schema, suffix, tmp_path) as process:
            await publish(producer, sample_topics.inbound.name,
                          [purchase(f"user-{i}", 5) for i in range(12)])
            await wait_until(lambda: db.fetchval("SELECT count(*) FROM applied_log"),
                             ready=lambda applied: applied == 12, describe="12 applied")
            assert await db.fetchval("SELECT count(*) FROM outbox") == 12
            await wait_until(lambda: scraped(process, "coinlog_outbox_backlog_records",
                                             schema=schema),
                             ready=lambda rows: rows == 12, describe="12 rows in the backlog")
            assert await scraped(process, "coinlog_relay_leader", schema=schema) == 0
            await wait_until(lambda: scraped(process, "coinlog_outbox_oldest_age_seconds",
                                             schema=schema),
                             ready=lambda age: age > 0.2, describe="the oldest row ageing")

            await lease.release(holder)
            await wait_until(lambda: scraped(process, "coinlog_outbox_backlog_records",
                                             schema=schema),
                             ready=lambda rows: rows == 0, timeout_s=30,
                             describe="the backlog published once the relay leads")
            assert await scraped(process, "coinlog_relay_leader", schema=schema) == 1
            assert await scraped(process, "coinlog_outbox_oldest_age_seconds",
                                 schema=schema) == 0
            assert await scraped(process, "coinlog_outbox_published_total", schema=schema) == 12
    finally:
        await holder.close()

    # Each output carries the broker's append time of the purchase that caused it.
    inputs = await read_topic(infra.kafka_bootstrap_servers, sample_topics.inbound.name,
                              expect=12)
    appended = {orjson.loads(r.value)["event_id"]: r.timestamp for r in inputs}
    outputs = await read_topic(infra.kafka_bootstrap_servers, sample_topics.outbound.name,
                               expect=12)
    for record in outputs:
        origin = dict(record.headers)[ORIGIN_HEADER]
        assert int(origin) == appended[orjson.loads(record.value)["causation_id"]]


async def test_seal_lag_counts_what_the_sealer_has_not_sealed(infra: Endpoints, suffix: str):
    bootstrap = infra.kafka_bootstrap_servers
    sealed = Topic(f"it.{suffix}.sealed", "tests", "key", 2, ())
    seals = Topic(f"it.{suffix}.{SEALS_TOPIC_NAME}", "auditor", "topic", 1, (PartitionSealed,))
    sealer = Sealer(bootstrap, [sealed], seals=seals, seal_every_records=1000, seal_every_s=0.2)
    collector = SealerMetrics(sealer, interval_s=0.1)
    producer = kafka_client.producer(bootstrap_servers=bootstrap)
    gauges = asyncio.create_task(collector.run())
    sealing: asyncio.Task | None = None
    try:
        from shared.runtime.kafka_admin import ensure_topics

        await ensure_topics(bootstrap, [sealed, seals])
        await producer.start()
        for number in range(8):
            await producer.send_and_wait(sealed.name, b"%d" % number, key=b"k%d" % number,
                                         partition=number % 2)

        def lag() -> tuple[float, float]:
            families = {family.name: family for family in collector.collect()}
            return (sum(s.value for s in families["coinlog_seal_lag_records"].samples),
                    max((s.value for s in families["coinlog_seal_lag_seconds"].samples),
                        default=0.0))

        # Nothing sealed yet: every record counts, and the wait grows.
        await wait_until(lag, ready=lambda found: found[0] == 8 and found[1] > 0.3,
                         describe="8 unsealed records waiting")
        sealing = asyncio.create_task(sealer.run())
        await wait_until(lag, ready=lambda found: found == (0, 0.0), timeout_s=30,
                         describe="everything sealed")
        published = {family.name: family for family in collector.collect()}
        assert published["coinlog_seals_published"].samples[0].value >= 2
        assert published["coinlog_seal_records_chained"].samples[0].value == 8
    finally:
        for task in (gauges, sealing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await producer.stop()


async def test_the_sealer_serves_its_metrics_and_announces_them(infra: Endpoints, suffix: str,
                                                                tmp_path):
    from shared.sealing.metrics import SealerMetricsServer

    sealed = Topic(f"it.{suffix}.served", "tests", "key", 1, ())
    seals = Topic(f"it.{suffix}.{SEALS_TOPIC_NAME}", "auditor", "topic", 1, (PartitionSealed,))
    sealer = Sealer(infra.kafka_bootstrap_servers, [sealed], seals=seals)
    settings = Settings(KAFKA_BOOTSTRAP_SERVERS=infra.kafka_bootstrap_servers,
                        COINLOG_HTTP_PORT=0, COINLOG_INSTANCE_ID=f"sealer-{suffix}",
                        COINLOG_LOCAL_DIR=str(tmp_path))
    from shared.runtime.kafka_admin import ensure_topics

    await ensure_topics(infra.kafka_bootstrap_servers, [sealed, seals])
    from shared.sealing.health import health_app

    running = asyncio.create_task(sealer.run())
    served = SealerMetricsServer(sealer, settings, health_app(sealer, running))
    await served.start()
    try:
        assert served.port is not None
        (target,) = tmp_path.joinpath("prometheus", "targets").glob("sealer-*.json")
        assert json.loads(target.read_text())[0]["labels"]["service"] == "sealer"

        def lag_of_the_topic() -> float | None:
            return total(scrape(served.port), "coinlog_seal_lag_records", topic=sealed.name)

        await wait_until(lambda: asyncio.to_thread(lag_of_the_topic),
                         ready=lambda lag: lag == 0, describe="the topic's seal lag served")
        samples = await asyncio.to_thread(scrape, served.port)
        assert total(samples, "coinlog_build_info", service="sealer") == 1
        assert total(samples, "coinlog_seals_published_total") == 0
        # One server: the health routes beside the metrics.
        await wait_until(lambda: asyncio.to_thread(ready, served.port), timeout_s=30,
                         describe="the sealer's /readyz beside its /metrics")
    finally:
        await served.stop()
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert not target.exists()


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from shared import kafka_client
from shared.runtime.kafka_admin import ensure_topics
from tests.infrastructure import ROOT, Endpoints
from tests.integration.sample_app import SampleTopics, sample_dead_letters
from tests.waiting import wait_until


@pytest.fixture
def suffix() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def schema(infra: Endpoints, suffix: str) -> AsyncIterator[str]:
    name = f"it_{suffix}"
    yield name
    conn = await asyncpg.connect(infra.database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def db(infra: Endpoints, schema: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(infra.database_url, server_settings={"search_path": schema})
    yield conn
    await conn.close()


@pytest.fixture
async def sample_topics(infra: Endpoints, suffix: str) -> SampleTopics:
    topics = SampleTopics.named(suffix)
    # The sample service's dead letters too (named as tests.integration.runtime_worker names
    # them): services only check that their topics exist.
    await ensure_topics(infra.kafka_bootstrap_servers, [topics.inbound, topics.outbound,
                                                        sample_dead_letters(suffix)])
    return topics


@pytest.fixture
async def producer(infra: Endpoints) -> AsyncIterator[AIOKafkaProducer]:
    producer = kafka_client.producer(bootstrap_servers=infra.kafka_bootstrap_servers,
                                     enable_idempotence=True)
    await producer.start()
    yield producer
    await producer.stop()


async def read_topic(bootstrap: str, topic: str, *, expect: int, timeout_s: float = 60.0):
    """All records of a topic from the start, once at least `expect` have arrived."""
    consumer = kafka_client.consumer(topic, bootstrap_servers=bootstrap,
                                     auto_offset_reset="earliest", enable_auto_commit=False,
                                     group_id=None)
    await consumer.start()
    records = []
    try:
        async def arrived() -> int:
            batch = await consumer.getmany(timeout_ms=200)
            for partition_records in batch.values():
                records.extend(partition_records)
            return len(records)

        # The fetch itself waits for records: no pause between fetches.
        await wait_until(arrived, ready=lambda count: count >= expect, timeout_s=timeout_s,
                         interval_s=0, describe=f"{expect} records on {topic}")
        # Drain whatever else is already there (duplicates are part of the picture).
        while batch := await consumer.getmany(timeout_ms=300):
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


class Worker:
    """A sample service in its own OS process, so it can really be killed."""

    def __init__(self, infra: Endpoints, suffix: str, schema: str, crash_at: str = "",
                 batch: int = 200, env: dict[str, str] | None = None):
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
               "DATABASE_URL": infra.database_url, "BATCH": str(batch), **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.runtime_worker", suffix, schema, crash_at],
            cwd=ROOT, env=env)

    async def wait_killed(self, timeout_s: float = 60.0) -> int:
        await wait_until(lambda: self.process.poll() is not None, timeout_s=timeout_s,
                         describe="the worker to crash")
        return self.process.returncode

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def workers(infra: Endpoints, suffix: str, schema: str):
    started: list[Worker] = []

    def start(crash_at: str = "", batch: int = 200, env: dict[str, str] | None = None) -> Worker:
        worker = Worker(infra, suffix, schema, crash_at, batch, env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()

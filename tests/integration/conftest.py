from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.runtime.kafka_admin import ensure_topics
from tests.infrastructure import ROOT, Endpoints
from tests.integration.sample_app import SampleTopics


async def eventually(condition: Callable, *, timeout_s: float = 60.0, interval_s: float = 0.05,
                     message: str = "condition"):
    """Poll until condition() is truthy; fail with the last value after the timeout."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    last = None
    while True:
        try:
            last = condition()
            if asyncio.iscoroutine(last):
                last = await last
        except asyncpg.UndefinedTableError:
            last = None  # the service under test has not migrated its schema yet
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {message}: {last!r}")
        await asyncio.sleep(interval_s)


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
    await ensure_topics(infra.kafka_bootstrap_servers, [topics.inbound, topics.outbound])
    return topics


@pytest.fixture
async def producer(infra: Endpoints) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers,
                                enable_idempotence=True)
    await producer.start()
    yield producer
    await producer.stop()


async def read_topic(bootstrap: str, topic: str, *, expect: int, timeout_s: float = 60.0):
    """All records of a topic from the start, once at least `expect` have arrived."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(records) < expect:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{topic}: {len(records)} of {expect} records arrived")
            batch = await consumer.getmany(timeout_ms=200)
            for partition_records in batch.values():
                records.extend(partition_records)
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
                 batch: int = 200):
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
               "DATABASE_URL": infra.database_url, "BATCH": str(batch)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.runtime_worker", suffix, schema, crash_at],
            cwd=ROOT, env=env)

    async def wait_killed(self, timeout_s: float = 60.0) -> int:
        await eventually(lambda: self.process.poll() is not None, timeout_s=timeout_s,
                         message="the worker to crash")
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

    def start(crash_at: str = "", batch: int = 200) -> Worker:
        worker = Worker(infra, suffix, schema, crash_at, batch)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()

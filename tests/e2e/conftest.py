"""The three services running on the real broker and database, once per test session, each in
fresh schemas; tests drive them with external events and read them through their HTTP APIs."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg
import httpx
import pytest

from ops.seed import seed_events
from services.gifting.app import definition as gifting
from services.payout.app import definition as payout
from services.wallet.app import definition as wallet
from shared import kafka_client
from shared.contract.codec import encode
from shared.contract.topics import ALL_TOPICS, topic_of
from shared.runtime.kafka_admin import ensure_topics
from shared.runtime.service import ServiceProcess
from shared.settings import Settings
from tests.e2e.world import E2E_RATE_VERSION, World, e2e_price_list
from tests.infrastructure import Endpoints
from tests.tokens import KEY, ops_headers
from tests.waiting import wait_until


@dataclass
class Economy:
    processes: dict[str, ServiceProcess]
    clients: dict[str, httpx.AsyncClient]
    run_id: str

    @property
    def topic_prefix(self) -> str:
        return topic_prefix(self.run_id)

    async def replace(self, service: str, process: ServiceProcess) -> None:
        """Serve `service` from another (started) instance from now on."""
        self.processes[service] = process
        await self.clients[service].aclose()
        self.clients[service] = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{process.http_port}", timeout=10,
            headers=ops_headers())

    async def get(self, service: str, path: str) -> httpx.Response:
        return await self.clients[service].get(path)

    async def json_when(self, service: str, path: str, ready: Callable[[dict], bool],
                        timeout_s: float = 60.0) -> dict:
        """Poll a read endpoint until its answer satisfies `ready`; fail with the last one."""
        async def answer() -> dict | tuple[int, str]:
            response = await self.get(service, path)
            if response.status_code == 200:
                return response.json()
            return response.status_code, response.text

        return await wait_until(answer, ready=lambda last: isinstance(last, dict) and ready(last),
                                timeout_s=timeout_s, describe=f"{service}{path} to get ready")


def topic_prefix(run_id: str) -> str:
    """Each test session has topics of its own: nothing published earlier is replayed."""
    return f"e2e-{run_id}."


@contextlib.asynccontextmanager
async def services_running(infra: Endpoints, run_id: str) -> AsyncIterator[Economy]:
    """wallet, gifting and payout in this process, on topics and schemas of `run_id` alone;
    nothing published to them yet."""
    processes: dict[str, ServiceProcess] = {}
    clients: dict[str, httpx.AsyncClient] = {}
    try:
        await ensure_topics(infra.kafka_bootstrap_servers, ALL_TOPICS,
                            prefix=topic_prefix(run_id))
        for definition in (wallet, gifting, payout):
            process = ServiceProcess(definition, Settings(
                KAFKA_BOOTSTRAP_SERVERS=infra.kafka_bootstrap_servers,
                DATABASE_URL=infra.database_url_of(definition.name), COINLOG_HTTP_PORT=0,
                COINLOG_DB_SCHEMA=schema_of(run_id, definition.name),
                COINLOG_INSTANCE_ID=f"e2e-{definition.name}", COINLOG_BATCH_TIMEOUT_MS=10,
                COINLOG_TOPIC_PREFIX=topic_prefix(run_id),
                COINLOG_JWT_PUBLIC_KEY=KEY.public_pem.decode()))
            await process.start()
            processes[definition.name] = process
            clients[definition.name] = httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{process.http_port}", timeout=10,
            headers=ops_headers())
        yield Economy(processes, clients, run_id)
    finally:
        for client in clients.values():
            await client.aclose()
        for process in processes.values():
            await process.stop()


def schema_of(run_id: str, service: str) -> str:
    return f"e2e_{run_id}_{service}"


@pytest.fixture(scope="session")
async def economy(infra: Endpoints) -> AsyncIterator[Economy]:
    run_id = uuid.uuid4().hex[:8]
    producer = kafka_client.producer(bootstrap_servers=infra.kafka_bootstrap_servers,
                                     enable_idempotence=True)
    await producer.start()
    try:
        async with services_running(infra, run_id) as economy:
            for event in [*seed_events(), *e2e_price_list()]:
                topic = topic_prefix(run_id) + topic_of(event).name
                await (await producer.send(topic, encode(event), key=event.key.encode()))
            await economy.json_when("gifting", "/catalog", lambda body: len(body["gifts"]) >= 20)
            # Policy and purchases are read concurrently: a purchase at the test packs must not
            # reach the wallet before their prices.
            await _prices_stored(infra.database_url, schema_of(run_id, "wallet"),
                                 len(e2e_price_list()))
            yield economy
    finally:
        await producer.stop()


async def _prices_stored(database_url: str, schema: str, count: int) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        async def stored() -> int:
            return await conn.fetchval(
                f'SELECT count(*) FROM "{schema}".coin_package_prices WHERE rate_version = $1',
                E2E_RATE_VERSION)

        await wait_until(stored, ready=lambda n: n == count, timeout_s=60,
                         describe="the wallet to store the test price list")
    finally:
        await conn.close()


@pytest.fixture
async def world(infra: Endpoints, economy: Economy) -> AsyncIterator[World]:
    producer = kafka_client.producer(bootstrap_servers=infra.kafka_bootstrap_servers,
                                     enable_idempotence=True)
    await producer.start()
    yield World(producer, uuid.uuid4().hex[:8], economy.topic_prefix)
    await producer.stop()

"""`coinlog demo`, briefly, on the real broker and database: the services start as processes,
the simulated economy runs through gifting, clawbacks and cash-out, and the run ends with every
invariant holding.

The run gets topics and schemas of its own (an isolated namespace), so what other runs or tests
left in the deployment's topics cannot make it fail, and it removes them afterwards.
"""

from __future__ import annotations

import io
import uuid

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console

from ops.demo import run_demo
from ops.namespace import Namespace
from shared.contract.topics import ALL_TOPICS
from tests.infrastructure import Endpoints

INVARIANTS = ("everything settled", "coins conserved", "every gift decided once",
              "diamonds conserved")


@pytest.fixture
async def namespace(infra: Endpoints):
    name = f"demotest_{uuid.uuid4().hex[:8]}"
    yield name
    isolated = Namespace.isolated(name)
    conn = await asyncpg.connect(infra.database_url)
    try:
        for schema in isolated.schemas.values():
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        ours = [isolated.topic_prefix + topic.name for topic in ALL_TOPICS]
        await admin.delete_topics([name for name in ours if name in existing])
    finally:
        await admin.close()


async def test_a_short_demo_ends_with_every_invariant_holding(
        infra: Endpoints, namespace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", infra.kafka_bootstrap_servers)
    monkeypatch.setenv("DATABASE_URL", infra.database_url)
    output = io.StringIO()
    console = Console(file=output, width=200)

    code = await run_demo(viewers=200, seconds=5, console=console, namespace=namespace)

    report = output.getvalue()
    assert code == 0, report
    verdicts = {name: line for line in report.splitlines() for name in INVARIANTS
                if name in line}
    assert set(verdicts) == set(INVARIANTS), report
    assert all("PASS" in line for line in verdicts.values()), report
    assert "gifts measured" in report, report

"""`coinlog demo`, briefly, on the real broker and database: the services start as processes,
the simulated economy runs through gifting, clawbacks and cash-out, and the run ends with every
invariant holding.

The run gets topics and schemas of its own (an isolated namespace), so what other runs or tests
left in the deployment's topics cannot make it fail, and it removes them afterwards.
"""

from __future__ import annotations

import io
import re
import uuid
from urllib.parse import urlsplit

import asyncpg
import pytest
from rich.console import Console

from ops import database_roles
from ops.audit.model import INVARIANTS as AUDIT_INVARIANTS
from ops.audit.read_models import READ_MODELS
from ops.demo import run_demo
from ops.namespace import SERVICE_NAMES, Namespace
from shared import kafka_client
from shared.contract.topics import ALL_TOPICS
from tests.infrastructure import Endpoints

CHECKS = ("everything settled", *AUDIT_INVARIANTS, READ_MODELS, "log untampered")
"""The demo's verdicts: its own, the audit's over the whole log, the read tables, the seals."""
VERDICT_LINE = re.compile(r"^\s*(?P<name>" + "|".join(re.escape(name) for name in CHECKS)
                          + r")\s+(?P<verdict>PASS|FAIL)\b")


async def schema_owners(infra: Endpoints, namespace: Namespace) -> dict[str, str]:
    conn = await asyncpg.connect(infra.database_url)
    try:
        return {service: await conn.fetchval(
                    "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1",
                    namespace.schema(service)) for service in SERVICE_NAMES}
    finally:
        await conn.close()


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
    admin = kafka_client.admin(bootstrap_servers=infra.kafka_bootstrap_servers)
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
    for name, value in database_roles.as_variables(infra.role_urls).items():
        monkeypatch.setenv(name, value)
    output = io.StringIO()
    console = Console(file=output, width=200)

    code = await run_demo(viewers=200, seconds=5, console=console, namespace=namespace)

    report = output.getvalue()
    assert code == 0, report
    # Each service ran as its own role: the schema its migrations made belongs to that role.
    assert await schema_owners(infra, Namespace.isolated(namespace)) == {
        service: urlsplit(infra.database_url_of(service)).username for service in SERVICE_NAMES}
    verdicts = {match["name"]: match["verdict"] for line in report.splitlines()
                if (match := VERDICT_LINE.match(line))}
    assert verdicts == dict.fromkeys(CHECKS, "PASS"), report
    assert "gifts measured" in report, report
    # The purchases the demo sends off the price list are refused, one per reason.
    refused = report.split("Purchases refused off the price list", 1)[1].split("\n\n", 1)[0]
    for reason in ("unknown_rate_version", "price_mismatch", "coins_mismatch"):
        assert re.search(rf"{reason}\s+1\s", refused), report

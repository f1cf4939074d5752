"""A rebuild that was interrupted (killed before its rename) leaves its `_partial` schema; the
next rebuild drops it and completes, while one still filling it keeps it."""

from __future__ import annotations

import asyncpg
import pytest

from ops.replay.rebuild import RebuildRunning, claim_partial, rebuild
from services import registry
from shared.runtime.kafka_admin import ensure_topics
from tests.infrastructure import Endpoints

pytestmark = pytest.mark.integration


async def _schemas(conn: asyncpg.Connection, *names: str) -> set[str]:
    rows = await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[])",
                            list(names))
    return {row["nspname"] for row in rows}


async def _leave_partial(conn: asyncpg.Connection, partial: str) -> None:
    await conn.execute(f'CREATE SCHEMA "{partial}"')
    await conn.execute(f'CREATE TABLE "{partial}".wallets (key text PRIMARY KEY)')


async def test_a_rebuild_after_an_interrupted_one_drops_its_leftover_and_completes(
        infra: Endpoints, schema: str, suffix: str) -> None:
    prefix = f"it{suffix}."
    await ensure_topics(infra.kafka_bootstrap_servers, registry.projection("wallet").topics,
                        prefix=prefix)
    partial = f"{schema}_partial"
    conn = await asyncpg.connect(infra.database_url)
    try:
        await _leave_partial(conn, partial)

        result = await rebuild("wallet", schema, prefix, database_url=infra.database_url,
                               bootstrap_servers=infra.kafka_bootstrap_servers, processes=1)

        assert result.schema == schema
        assert await _schemas(conn, schema, partial) == {schema}
        assert await conn.fetchval(f'SELECT count(*) FROM "{schema}".wallets') == 0
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{partial}" CASCADE')
        await conn.close()


async def test_a_partial_schema_being_filled_is_not_taken(infra: Endpoints,
                                                          schema: str) -> None:
    partial = f"{schema}_partial"
    filling = await asyncpg.connect(infra.database_url)
    other = await asyncpg.connect(infra.database_url)
    try:
        await claim_partial(filling, schema, partial)
        await _leave_partial(filling, partial)

        with pytest.raises(RebuildRunning, match="another rebuild"):
            await claim_partial(other, schema, partial)
        assert await _schemas(other, partial) == {partial}
    finally:
        await filling.execute(f'DROP SCHEMA IF EXISTS "{partial}" CASCADE')
        await filling.close()
        await other.close()


async def test_a_complete_target_is_never_replaced(infra: Endpoints, schema: str) -> None:
    conn = await asyncpg.connect(infra.database_url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        with pytest.raises(ValueError, match="exists"):
            await claim_partial(conn, schema, f"{schema}_partial")
        assert await _schemas(conn, schema) == {schema}
    finally:
        await conn.close()

"""The database's roles on the real server (deploy/compose/postgres-init.sh, which the local stack
runs too): a service's role owns the schemas its migrations make, namespaced ones included, and
can neither write nor lock another service's; the auditor reads every schema and writes none.

Needs the stack to name its roles' logins (COINLOG_DATABASE_URL_<ROLE>, as deploy/local/up
exports them); a stack without them is skipped, since its services all run as one login.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import asyncpg
import pytest

from services.registry import service
from shared.runtime import db as runtime_db
from shared.runtime.migrate import apply_migrations
from tests.infrastructure import Endpoints

pytestmark = pytest.mark.integration

_ROLES = ("wallet", "payout", "auditor")

# What a role without rights on a schema must not do there; {s} is the schema, quoted.
_WRITES = {
    "insert": """INSERT INTO {s}.tracking (consumer, topic, partition, next_offset)
                 VALUES ('x', 'x', 0, 0)""",
    "update": "UPDATE {s}.tracking SET next_offset = next_offset + 1",
    "delete": "DELETE FROM {s}.outbox",
    "lock rows": "SELECT * FROM {s}.tracking FOR UPDATE",
    "take the relay lease": "UPDATE {s}.relay_lease SET holder = 'x', expires_at = 'infinity'",
    "create": "CREATE TABLE {s}.planted (id integer)",
    "drop": "DROP TABLE {s}.outbox",
    "truncate": "TRUNCATE {s}.inbox",
}


@pytest.fixture
def roles(infra: Endpoints) -> Mapping[str, str]:
    missing = [role for role in _ROLES if role not in infra.role_urls]
    if missing:
        pytest.skip(f"the stack names no login for {', '.join(missing)}")
    return infra.role_urls


@pytest.fixture
async def schemas(infra: Endpoints, roles: Mapping[str, str], suffix: str
                  ) -> AsyncIterator[dict[str, str]]:
    """A namespaced schema of wallet's and of payout's, each made by its service's role as the
    service makes it on start (its migrations)."""
    made = {name: f"it_{suffix}_{name}" for name in ("wallet", "payout")}
    try:
        for name, schema in made.items():
            conn = await runtime_db.connect(roles[name], schema)
            try:
                await apply_migrations(conn, schema, service(name).all_migrations)
            finally:
                await conn.close()
        yield made
    finally:
        admin = await asyncpg.connect(infra.database_url)
        try:
            for schema in made.values():
                await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await admin.close()


async def _owners(infra: Endpoints, schema: str) -> set[str]:
    admin = await asyncpg.connect(infra.database_url)
    try:
        owners = {await admin.fetchval(
            "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1", schema)}
        owners |= {row["owner"] for row in await admin.fetch(
            "SELECT DISTINCT c.relowner::regrole::text AS owner FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1", schema)}
        return owners
    finally:
        await admin.close()


async def test_a_service_role_owns_the_schema_its_migrations_make_and_all_in_it(
        infra, schemas):
    for name, schema in schemas.items():
        assert await _owners(infra, schema) == {name}


async def test_the_deployment_schemas_belong_to_their_services(infra, roles):
    for name in ("wallet", "payout"):
        assert await _owners(infra, name) <= {name}


async def _denied(conn: asyncpg.Connection, statement: str) -> BaseException | None:
    """The error a statement failed with (rolled back either way), or None if it ran."""
    try:
        async with conn.transaction():
            await conn.execute(statement)
            raise _RanAnyway
    except _RanAnyway:
        return None
    except asyncpg.PostgresError as error:
        return error


class _RanAnyway(Exception):
    pass


async def test_the_wallet_role_can_neither_write_nor_lock_the_payout_schema(schemas, roles):
    conn = await asyncpg.connect(roles["wallet"])
    try:
        for target in (f'"{schemas["payout"]}"', '"payout"'):
            for what, statement in _WRITES.items():
                if target == '"payout"' and what != "create":
                    continue  # the deployment's schema has no tables until payout starts
                error = await _denied(conn, statement.format(s=target))
                assert isinstance(error, asyncpg.InsufficientPrivilegeError), (what, target,
                                                                             error)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch(f'SELECT * FROM "{schemas["payout"]}".tracking')
        # Its own schema it writes as the service does.
        assert await _denied(conn, _WRITES["insert"].format(s=f'"{schemas["wallet"]}"')) is None
    finally:
        await conn.close()


async def test_the_auditor_reads_every_schema_and_writes_none(schemas, roles):
    conn = await asyncpg.connect(roles["auditor"])
    try:
        for schema in schemas.values():
            assert await conn.fetchval(f'SELECT count(*) FROM "{schema}".tracking') == 0
            assert await conn.fetchval(f'SELECT epoch FROM "{schema}".relay_lease') == 0
        # Read-only by default; and with that turned off, still without a right to write.
        for read_only in (True, False):
            if not read_only:
                await conn.execute("SET default_transaction_read_only = off")
            expected = (asyncpg.ReadOnlySQLTransactionError if read_only
                        else asyncpg.InsufficientPrivilegeError)
            for schema in schemas.values():
                for what, statement in _WRITES.items():
                    error = await _denied(conn, statement.format(s=f'"{schema}"'))
                    assert isinstance(error, expected), (what, schema, read_only, error)
            for statement in ("CREATE SCHEMA planted", "CREATE TEMPORARY TABLE planted (i int)",
                              "CREATE TABLE public.planted (i int)"):
                error = await _denied(conn, statement)
                assert isinstance(error, expected), (statement, read_only, error)
    finally:
        await conn.close()

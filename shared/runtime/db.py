"""Connections and pools bound to one service schema."""

from __future__ import annotations

import asyncpg
import orjson

from shared.runtime.migrate import quote_schema


async def _init_connection(conn: asyncpg.Connection) -> None:
    for json_type in ("json", "jsonb"):
        await conn.set_type_codec(json_type, encoder=lambda v: orjson.dumps(v).decode(),
                                  decoder=orjson.loads, schema="pg_catalog")


def _server_settings(schema: str, instance: str) -> dict[str, str]:
    quote_schema(schema)
    # The instance in application_name makes every session traceable in pg_stat_activity.
    return {"search_path": schema, "application_name": f"coinlog/{schema}/{instance}"[:63],
            # A batch never pauses between statements for long; a session that does has lost
            # its client (a network cut, a frozen process) and would hold its row locks, and
            # with them its entities and partitions, until TCP gave up. The server ends it.
            "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_TIMEOUT_MS),
            # Every statement is planned for its arguments. A generic plan is fixed on the
            # sixth execution, and a schema's first batches run against near-empty tables:
            # the lookups by key of `= ANY($1)` were then fixed as sequential scans, whose cost
            # grew with the table (35 ms a batch after 20 s of gifts) until the next ANALYZE.
            "plan_cache_mode": "force_custom_plan"}


IDLE_IN_TRANSACTION_TIMEOUT_MS = 15_000


async def create_pool(database_url: str, schema: str, *, size: int = 4,
                      instance: str = "") -> asyncpg.Pool:
    return await asyncpg.create_pool(database_url, min_size=1, max_size=size,
                                     server_settings=_server_settings(schema, instance),
                                     init=_init_connection, command_timeout=COMMAND_TIMEOUT_S,
                                     reset=_nothing_to_reset)


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    """Pooled connections keep no session state: settings are SET LOCAL, advisory locks are
    taken per transaction, and the relay's LISTEN lives on its own connection.
    So a connection goes back to the pool without asyncpg's reset query (unlock all, close
    all, unlisten, reset all), a round trip after every consumer batch. asyncpg still rolls
    back a transaction left open before it calls this."""


COMMAND_TIMEOUT_S = 60.0
"""No statement waits longer (a lock held by a stuck session, a half-open connection): the
batch is retried on a new connection instead of waiting forever."""


async def connect(database_url: str, schema: str, *, instance: str = "") -> asyncpg.Connection:
    conn = await asyncpg.connect(database_url,
                                 server_settings=_server_settings(schema, instance))
    await _init_connection(conn)
    return conn

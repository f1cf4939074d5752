"""Bulk loading a freshly made schema: keys and indexes off, rows in by COPY over several
connections at once, then keys and indexes built again, several at once.

A server process works for one connection at a time: parsing rows (JSON above all) and
building indexes keep one core busy per connection, so a load over several connections uses
the cores the fold left idle. Each COPY commits on its own; callers load into a schema nobody
uses yet and rename it into place afterwards (or drop it on failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Self

import asyncpg

from shared.projection import Projection
from shared.readmodel import Rows
from shared.runtime.history import EVENT_HISTORY
from shared.runtime.migrate import quote_schema

CHUNK_ROWS = 50_000
"""Big tables go in as several COPYs, so connections share them."""


def default_connections() -> int:
    return max(2, min(4, os.cpu_count() or 2))


@dataclass
class DeferredIndexes:
    """Keys and indexes taken off tables before a bulk load, to be put back after: building an
    index once over all rows costs a fraction of maintaining it row by row."""

    statements: list[str] = field(default_factory=list)
    """What builds them again: ALTER TABLE ... ADD CONSTRAINT, CREATE INDEX."""
    tables: list[str] = field(default_factory=list)
    """The table of each statement."""


async def defer_indexes(conn: asyncpg.Connection, schema: str,
                        tables: Iterable[str]) -> DeferredIndexes:
    quoted = quote_schema(schema)
    deferred = DeferredIndexes()
    for table in tables:
        for row in await conn.fetch(
                "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint"
                " WHERE conrelid = $1::regclass AND contype IN ('p', 'u')",
                f"{quoted}.{table}"):
            deferred.statements.append(f'ALTER TABLE {quoted}.{table} ADD CONSTRAINT '
                                       f'"{row["conname"]}" {row["definition"]}')
            deferred.tables.append(table)
            await conn.execute(f'ALTER TABLE {quoted}.{table} DROP CONSTRAINT "{row["conname"]}"')
        for row in await conn.fetch(
                "SELECT indexname, indexdef FROM pg_indexes"
                " WHERE schemaname = $1 AND tablename = $2", schema, table):
            deferred.statements.append(row["indexdef"])
            deferred.tables.append(table)
            await conn.execute(f'DROP INDEX {quoted}."{row["indexname"]}"')
    return deferred


async def restore_indexes(conn: asyncpg.Connection, deferred: DeferredIndexes) -> None:
    for statement in deferred.statements:
        await conn.execute(statement)


async def _with_connections(database_url: str, schema: str, connections: int, work: list,
                            do: Callable[[asyncpg.Connection, Any], Awaitable[None]]) -> None:
    queue: asyncio.Queue = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)

    async def drain() -> None:
        conn = await asyncpg.connect(database_url, server_settings={
            "search_path": quote_schema(schema),
            "application_name": f"coinlog/replay-load/{schema}"[:63]})
        try:
            while not queue.empty():
                await do(conn, queue.get_nowait())
        finally:
            await conn.close()

    await asyncio.gather(*(drain() for _ in range(min(connections, len(work)) or 1)))


async def load_rows(database_url: str, schema: str, rows: dict[str, Rows], *,
                    connections: int | None = None) -> dict[str, int]:
    """COPY every table's rows into `schema` over `connections` connections, big tables in
    chunks, largest first. Returns rows written per table."""
    chunks = [(table, data.columns, data.rows[start:start + CHUNK_ROWS])
              for table, data in rows.items()
              for start in range(0, len(data.rows), CHUNK_ROWS)]
    chunks.sort(key=lambda chunk: -len(chunk[2]))

    async def copy(conn: asyncpg.Connection, chunk: tuple[str, tuple, list]) -> None:
        table, columns, records = chunk
        await conn.copy_records_to_table(table, records=records, columns=list(columns),
                                         schema_name=schema)

    await _with_connections(database_url, schema, connections or default_connections(),
                            chunks, copy)
    return {table: len(data.rows) for table, data in rows.items()}


async def build_indexes(database_url: str, schema: str, deferred: DeferredIndexes, *,
                        connections: int | None = None) -> None:
    async def run(conn: asyncpg.Connection, statement: str) -> None:
        await conn.execute(statement)

    if not deferred.statements:
        return
    conn = await asyncpg.connect(database_url)
    try:
        sizes = dict(await conn.fetch(
            "SELECT t, pg_relation_size(format('%I.%I', $1::text, t)) FROM unnest($2::text[]) t",
            schema, sorted(set(deferred.tables))))
    finally:
        await conn.close()
    # The biggest tables' indexes first, so that no connection is left with one at the end.
    ordered = [statement for _, statement in sorted(
        zip(deferred.tables, deferred.statements, strict=True),
        key=lambda pair: -sizes[pair[0]])]
    await _with_connections(database_url, schema, connections or default_connections(),
                            ordered, run)


class HistoryStream:
    """Writes a fold's event_history rows while the fold goes on, on a connection of its own
    with one COPY in flight: the server parses them on another core meanwhile.

        async with HistoryStream(url, schema) as stream:
            for batch in ...: fold(batch); await stream.offer(folding)
            await stream.finish(folding)
    """

    def __init__(self, database_url: str, schema: str, every: int = 20_000):
        self.database_url = database_url
        self.schema = schema
        self.every = every
        self.written = 0
        self._conn: asyncpg.Connection | None = None
        self._pending: asyncio.Task | None = None

    async def __aenter__(self) -> Self:
        self._conn = await asyncpg.connect(self.database_url, server_settings={
            "search_path": quote_schema(self.schema),
            "application_name": f"coinlog/replay-history/{self.schema}"[:63]})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
            with contextlib.suppress(BaseException):
                await self._pending
        if self._conn is not None:
            await self._conn.close()

    async def offer(self, folding: Projection) -> None:
        if folding.history_backlog >= self.every:
            await self._send(folding.take_history(), EVENT_HISTORY.column_names)

    async def _send(self, rows: list[tuple], columns: tuple[str, ...]) -> None:
        if self._pending is not None:
            await self._pending
        if rows:
            self._pending = asyncio.create_task(self._conn.copy_records_to_table(
                "event_history", records=rows, columns=list(columns), schema_name=self.schema))
            self.written += len(rows)

    async def finish(self, folding: Projection) -> int:
        """Write the rest, drop the rows of entities that broke; the rows written."""
        await self._send(folding.take_history(), EVENT_HISTORY.column_names)
        if self._pending is not None:
            await self._pending
            self._pending = None
        if folding.stats.broken:
            status = await self._conn.execute(
                "DELETE FROM event_history WHERE entity = ANY($1::text[])",
                list(folding.stats.broken))
            self.written -= int(status.split()[-1])
        return self.written

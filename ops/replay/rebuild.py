"""Rebuild a service's read tables from the log into a fresh schema; compare two schemas;
wait until a live service has caught up with its inputs.

    rebuild(service, target_schema, prefix, cut)   one pass over the log, bulk COPY per table
    verify(service, live_schema, rebuilt_schema)   row-by-row diff of the read tables
    wait_caught_up(service, schema, prefix)        outbox empty, tracking at the inputs' ends
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import asyncpg
from aiokafka import TopicPartition

from ops.replay.diff import TableDiff, diff_rows
from ops.replay.folding import fold_writing_history, take_cut
from ops.replay.load import (
    build_indexes,
    defer_indexes,
    load_rows,
    restore_indexes,
)
from ops.replay.parallel import (
    fold_and_write_in_processes,
    processes_for,
    start_processes,
    warm_up,
)
from ops.replay.pit import partitions_of
from services import registry
from shared import kafka_client
from shared.gcpause import collector_paused
from shared.logread import Cut
from shared.projection import FoldStats
from shared.readmodel import ReadTable, Rows
from shared.runtime.migrate import apply_migrations, quote_schema
from shared.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class RebuildResult:
    service: str
    schema: str
    cut: Cut
    stats: FoldStats
    rows: dict[str, int] = field(default_factory=dict)
    read_s: float = 0.0
    write_s: float = 0.0
    processes: int = 1

    @property
    def events_per_s(self) -> float:
        total = self.read_s + self.write_s
        return self.stats.records / total if total else 0.0

    def summary(self) -> str:
        tables = ", ".join(f"{t} {n}" for t, n in self.rows.items())
        return (f"{self.service} -> {self.schema}: {self.stats.records} records "
                f"({self.stats.applied} applied, {self.stats.duplicates} duplicate ids, "
                f"{self.stats.undecodable} undecodable, {len(self.stats.broken)} entities not "
                f"folding) in {self.read_s + self.write_s:.2f}s ({self.events_per_s:,.0f} "
                f"events/s; read+fold {self.read_s:.2f}s, write {self.write_s:.2f}s"
                f"{f'; {self.processes} processes' if self.processes > 1 else ''}); {tables}")


async def connect(database_url: str, schema: str) -> asyncpg.Connection:
    """A plain connection (JSON columns as text, no codec) with search_path on `schema`."""
    quote_schema(schema)
    return await asyncpg.connect(database_url, server_settings={
        "search_path": schema, "application_name": f"coinlog/replay/{schema}"[:63]})


BULK_ROWS = 10_000
"""From this many rows in a table, its indexes are built after the load, not during."""


async def create_schema(conn: asyncpg.Connection, service: str, schema: str,
                        rows: dict[str, Rows]) -> dict[str, int]:
    """Within the caller's transaction: `schema` (which must not exist) with the service's
    migrations, filled with `rows` by COPY. Returns rows written per table."""
    exists = await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema)
    if exists:
        raise ValueError(f"schema {schema} exists; a rebuild needs a fresh one")
    await apply_migrations(conn, schema, registry.service(service).all_migrations)
    deferred = await defer_indexes(conn, schema, [table for table, data in rows.items()
                                                  if len(data.rows) >= BULK_ROWS])
    counts: dict[str, int] = {}
    for table, data in rows.items():
        if data.rows:
            await conn.copy_records_to_table(table, records=data.rows,
                                             columns=list(data.columns), schema_name=schema)
        counts[table] = len(data.rows)
    await restore_indexes(conn, deferred)
    return counts


async def rebuild(service: str, target_schema: str, prefix: str = "", cut: Cut | None = None,
                  *, database_url: str | None = None, bootstrap_servers: str | None = None,
                  processes: int | None = None) -> RebuildResult:
    """Fold the service's topics up to `cut` (default: their ends now) and write the read
    tables into `target_schema`, which must not exist yet (it is created with the service's
    migrations). The schema is filled under another name and renamed once complete, so it
    appears complete or not at all.

    Large logs are folded in several processes, a share of the ledger partitions each
    (ops/replay/parallel.py; `processes` overrides the choice, 1 keeps the fold in this
    process); the rows go in over several connections (ops/replay/load.py)."""
    settings = Settings()
    database_url = database_url or settings.database_url
    bootstrap_servers = bootstrap_servers or settings.kafka_bootstrap_servers
    quote_schema(target_schema)
    if processes != 1 and registry.projection(service).ledgers:
        warm_up()
    cut = cut or await take_cut(service, prefix, bootstrap_servers=bootstrap_servers)
    workers = processes_for(service, cut, processes)
    # The rows are filled into a schema of another name, renamed once all is in.
    partial = f"{target_schema[:50]}_partial"
    started = time.perf_counter()
    pool = start_processes(workers) if workers > 1 else None
    try:
        result = await _rebuild_into(service, target_schema, partial, prefix, cut, workers,
                                     pool, database_url, bootstrap_servers, started)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    if workers > 1 and result.stats.broken:
        # Entities that do not fold may be the split's doing (requests partitioned by a
        # producer other than the service's): one process tells.
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(f"DROP SCHEMA {quote_schema(target_schema)} CASCADE")
        finally:
            await conn.close()
        return await rebuild(service, target_schema, prefix, cut, database_url=database_url,
                             bootstrap_servers=bootstrap_servers, processes=1)
    return result


class RebuildRunning(ValueError):
    """Another rebuild is filling the same schema."""


async def claim_partial(conn: asyncpg.Connection, target_schema: str, partial: str) -> None:
    """Make `partial` this rebuild's own, for as long as `conn` lives: the target must not
    exist yet, and no other rebuild may be filling it. A `partial` schema left behind by a
    rebuild that was interrupted (killed, its machine lost) is dropped: the rename at the end
    is what completes a rebuild, so a partial schema nobody holds is never complete."""
    held = await conn.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                               f"coinlog/rebuild/{partial}")
    if not held:
        raise RebuildRunning(f"another rebuild is filling {partial} (for {target_schema})")
    found = {row["nspname"] for row in await conn.fetch(
        "SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[])",
        [target_schema, partial])}
    if target_schema in found:
        raise ValueError(f"schema {target_schema} exists; a rebuild needs a fresh one")
    if partial in found:
        logger.warning("dropping %s, left behind by an interrupted rebuild", partial)
        await conn.execute(f"DROP SCHEMA {quote_schema(partial)} CASCADE")


async def _rebuild_into(service: str, target_schema: str, partial: str, prefix: str, cut: Cut,
                        workers: int, pool: ProcessPoolExecutor | None, database_url: str,
                        bootstrap_servers: str, started: float) -> RebuildResult:
    conn = await connect(database_url, partial)
    try:
        await claim_partial(conn, target_schema, partial)
        await apply_migrations(conn, partial, registry.service(service).all_migrations)
        try:
            # A schema made for this load: every table is loaded in bulk.
            deferred = await defer_indexes(conn, partial,
                                           [table.name for table in read_tables(service)])
            if workers > 1:
                stats, counts, _, share_write_s = await fold_and_write_in_processes(
                    service, partial, prefix, cut, workers, database_url=database_url,
                    bootstrap_servers=bootstrap_servers, pool=pool)
                # Spawning and folding until the slowest share began writing.
                fold_s = time.perf_counter() - started - share_write_s
            else:
                # One pause for fold, rows and load, and the fold freed before the collector
                # runs again: it would otherwise scan every object of the fold once more.
                with collector_paused():
                    folding, history = await fold_writing_history(
                        service, prefix, cut, bootstrap_servers=bootstrap_servers,
                        database_url=database_url, schema=partial)
                    fold_s = time.perf_counter() - started
                    stats = folding.stats
                    counts = await load_rows(database_url, partial, folding.rows())
                    counts["event_history"] = counts.get("event_history", 0) + history
                    del folding
            await build_indexes(database_url, partial, deferred)
        except BaseException:
            await conn.execute(f"DROP SCHEMA IF EXISTS {quote_schema(partial)} CASCADE")
            raise
        await conn.execute(f"ALTER SCHEMA {quote_schema(partial)} RENAME TO "
                           f"{quote_schema(target_schema)}")
    finally:
        await conn.close()
    elapsed = time.perf_counter() - started
    return RebuildResult(service, target_schema, cut, stats, counts, fold_s, elapsed - fold_s,
                         processes=workers)


@dataclass
class Verification:
    service: str
    live_schema: str
    rebuilt_schema: str
    tables: list[TableDiff]

    @property
    def equal(self) -> bool:
        return all(table.equal for table in self.tables)

    def lines(self, limit: int = 20) -> list[str]:
        verdict = "EQUAL" if self.equal else "DIFFERENT"
        out = [f"verify {self.service}: {self.live_schema} vs {self.rebuilt_schema}: {verdict}"]
        for table in self.tables:
            out.extend(table.lines(limit))
        return out


def read_tables(service: str) -> tuple[ReadTable, ...]:
    """The service's read tables as its projection declares them; a verification compares
    every column of each except the ones the table excludes (ReadTable.excluded). The runtime
    tables (tracking, inbox, outbox, entity_locks, schema_migrations) are not among them: they
    hold the progress of the consumer and the relay and the rows instances lock, not state (a
    swap moves the live ones into the rebuilt schema)."""
    projection = registry.service(service).projection
    if projection is None:
        raise ValueError(f"service {service!r} has no read model to rebuild")
    return projection.tables


async def compare_tables(conn: asyncpg.Connection, service: str, live_schema: str,
                         rebuilt_schema: str) -> list[TableDiff]:
    diffs = []
    for table in read_tables(service):
        live = [dict(r) for r in await conn.fetch(table.select_sql(live_schema))]
        rebuilt = [dict(r) for r in await conn.fetch(table.select_sql(rebuilt_schema))]
        diffs.append(diff_rows(table.name, live, rebuilt, table.keys, table.excluded,
                               table.normalize))
    return diffs


async def verify(service: str, live_schema: str, rebuilt_schema: str, *,
                 database_url: str | None = None) -> Verification:
    database_url = database_url or Settings().database_url
    quote_schema(live_schema)
    quote_schema(rebuilt_schema)
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            diffs = await compare_tables(conn, service, live_schema, rebuilt_schema)
    finally:
        await conn.close()
    return Verification(service, live_schema, rebuilt_schema, diffs)


@dataclass
class CatchUp:
    outbox: int
    behind: dict[tuple[str, int], int]
    """(topic, partition) -> records not yet applied."""

    @property
    def caught_up(self) -> bool:
        return self.outbox == 0 and not self.behind


async def catch_up_state(service: str, schema: str, prefix: str = "", *,
                         database_url: str | None = None,
                         bootstrap_servers: str | None = None) -> CatchUp:
    settings = Settings()
    definition = registry.service(service)
    conn = await connect(database_url or settings.database_url, schema)
    try:
        outbox = await conn.fetchval("SELECT count(*) FROM outbox")
        tracked = {(r["consumer"], r["topic"], r["partition"]): r["next_offset"]
                   for r in await conn.fetch("SELECT consumer, topic, partition, next_offset"
                                             " FROM tracking")}
    finally:
        await conn.close()
    consumer = kafka_client.consumer(bootstrap_servers=bootstrap_servers
                                     or settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        behind: dict[tuple[str, int], int] = {}
        for spec in definition.consumers:
            partitions = []
            for topic in spec.topics:
                numbers = await partitions_of(consumer, prefix + topic.name)
                partitions += [TopicPartition(prefix + topic.name, n) for n in numbers]
            ends = await consumer.end_offsets(partitions) if partitions else {}
            for tp, end in ends.items():
                done = tracked.get((spec.name, tp.topic, tp.partition), 0)
                if done < end:
                    behind[(tp.topic, tp.partition)] = end - done
        return CatchUp(outbox, behind)
    finally:
        await consumer.stop()


async def wait_caught_up(service: str, schema: str, prefix: str = "", *,
                         timeout_s: float = 120.0, database_url: str | None = None,
                         bootstrap_servers: str | None = None) -> CatchUp:
    """Until the live service's outbox is empty and its tracking rows reach the end offsets of
    every partition of its input topics (twice in a row, 0.2 s apart). Take the cut after."""
    deadline = time.monotonic() + timeout_s
    streak = 0
    while True:
        state = await catch_up_state(service, schema, prefix, database_url=database_url,
                                     bootstrap_servers=bootstrap_servers)
        streak = streak + 1 if state.caught_up else 0
        if streak >= 2:
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"{service} ({schema}) not caught up: outbox {state.outbox}, "
                               f"behind {state.behind}")
        await asyncio.sleep(0.2)

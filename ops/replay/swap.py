"""Switch a running service over to a projection rebuilt from the log, atomically.

    swap(service, live_schema, prefix)

1. Without stopping anything: read the live consumer's tracking offsets, fold the service's
   projection topics (input topics up to those offsets, its own output topics up to their ends)
   and write a fresh schema `<live>_rebuild_<n>` in one transaction.
2. One transaction on the live schema:
   - `LOCK TABLE relay_lease, tracking, inbox, outbox, entity_locks`: every consumer batch
     starts by locking its tracking rows and the relay works on its lease and the outbox, so the
     live service stands still from here on (its query API keeps answering from the live
     tables);
   - read the outbox (decided, maybe not yet published), then the output topics' ends, and fold
     what the live service applied since step 1: input topics up to the tracking offsets now,
     output topics up to their ends, then the outbox rows (an event both published and still in
     the outbox is applied once: the fold deduplicates by event id);
   - write what changed into the rebuilt schema: the rows of every entity an event touched
     since step 1 are deleted and written again (work in proportion to the changes, not to the
     projection; a spending policy change compares every row instead), the append-only
     history tables only grow;
   - optionally compare the two schemas table by table and give up if they differ;
   - move the live runtime tables (`MOVED_TABLES`) into the rebuilt schema (metadata
     only, whatever their size), so the service resumes exactly where it stopped and the relay
     still publishes what was pending; the lease moves too, so the leading relay keeps its
     epoch and leads on (a renewal it sent meanwhile waited for the lock, and its deadline
     counts from before it);
   - rename the live schema to `<live>_replaced_<n>` and the rebuilt one to `<live>`.
   Committing releases the lock: the waiting batch goes on in the rebuilt tables, since the
   service addresses its tables through the schema's name (search_path).

The replaced schema is kept (without its runtime tables) for comparison; drop it when done.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import asyncpg
from aiokafka.partitioner import murmur2

from ops.replay.folding import fold_log
from ops.replay.rebuild import (
    Verification,
    compare_tables,
    connect,
    create_schema,
    read_tables,
)
from services import registry
from shared.contract.codec import InvalidEvent, decode_record
from shared.contract.topics import Topic
from shared.gcpause import collector_paused
from shared.logread import Cut, LogReader, LogRecord
from shared.projection import Projection
from shared.readmodel import Rows, TableChange
from shared.runtime.migrate import quote_schema
from shared.settings import Settings

MOVED_TABLES = ("relay_lease", "tracking", "inbox", "outbox", "entity_locks")
"""In the order they are locked: the relay's lease first, as the relay's own statement locks it
before the outbox (shared/runtime/relay.py), so the two wait for each other without a
deadlock."""


class SwapRefused(Exception):
    """The swap was rolled back; the live schema is untouched."""

    def __init__(self, message: str, verification: Verification | None = None):
        super().__init__(message)
        self.verification = verification


@dataclass
class SwapResult:
    service: str
    live_schema: str
    replaced_schema: str
    rebuilt_records: int
    caught_up_records: int
    pending_outbox: int
    changed: dict[str, tuple[int, int]] = field(default_factory=dict)
    """table -> (rows replaced or removed, rows added) while the live service stood still."""
    verification: Verification | None = None
    rebuild_s: float = 0.0
    locked_s: float = 0.0

    def summary(self) -> str:
        changes = ", ".join(f"{t} -{r}/+{a}" for t, (r, a) in self.changed.items() if r or a)
        return (f"swapped {self.service}: {self.live_schema} now holds the rebuilt projection "
                f"({self.rebuilt_records} records folded in {self.rebuild_s:.2f}s without a "
                f"lock; then {self.caught_up_records} records and {self.pending_outbox} "
                f"outbox rows caught up with the service standing still for "
                f"{self.locked_s:.2f}s{': ' + changes if changes else ''}); the previous "
                f"tables are in {self.replaced_schema}")


def _input_topics(service: str) -> set[str]:
    return {topic.name for spec in registry.service(service).consumers
            for topic in spec.topics}


async def _tracked(conn: asyncpg.Connection, prefix: str) -> dict[tuple[str, int], int]:
    """(topic, partition) -> next offset the live service applies; the smallest over its
    consumers when several read one topic."""
    tracked: dict[tuple[str, int], int] = {}
    for row in await conn.fetch("SELECT topic, partition, next_offset FROM tracking"):
        position = (row["topic"].removeprefix(prefix), row["partition"])
        tracked[position] = min(tracked.get(position, row["next_offset"]), row["next_offset"])
    return tracked


def _bounded_cut(ends: Cut, tracked: dict[tuple[str, int], int], inputs: set[str]) -> Cut:
    """Output topics up to their ends; input topics only as far as the live service applied
    them, so the fold shows no fact the live tables do not have yet."""
    return Cut({(topic, partition): (min(end, tracked.get((topic, partition), 0))
                                     if topic in inputs else end)
                for (topic, partition), end in ends.ends.items()})


def _partition_counts(cut: Cut) -> dict[str, int]:
    counts: dict[str, int] = {}
    for topic, partition in cut.ends:
        counts[topic] = max(counts.get(topic, 0), partition + 1)
    return counts


def _outbox_records(rows: Sequence[asyncpg.Record], topics: dict[str, Topic], prefix: str,
                    ends: Cut, partitions: dict[str, int]) -> list[LogRecord]:
    """Pending outbox rows as the records Kafka will hold: after everything published, in the
    relay's order, on the partition the default partitioner picks for their key."""
    now_ms = int(time.time() * 1000)
    next_offset = dict(ends.ends)
    records = []
    for row in rows:
        name = row["topic"].removeprefix(prefix)
        topic = topics.get(name)
        if topic is None:
            continue
        key = row["key"]
        count = partitions.get(name, 1)
        partition = (murmur2(key) & 0x7FFFFFFF) % count if key is not None else 0
        offset = next_offset.get((name, partition), 0)
        next_offset[(name, partition)] = offset + 1
        decoded = error = None
        try:
            decoded = decode_record(topic, key, row["value"], now_ms, digest=False)
        except InvalidEvent as invalid:
            error = invalid
        records.append(LogRecord(name, partition, offset, now_ms, key, row["value"], decoded,
                                 error))
    return records


def _difference(old: Rows, new: Rows, keys: tuple[str, ...]) -> tuple[list[tuple], list[tuple]]:
    """(rows to remove, rows to add): by key, a changed row is removed and added again."""
    positions = [new.columns.index(key) for key in keys]
    old_by_key = {tuple(row[i] for i in positions): row for row in old.rows}
    removed: list[tuple] = []
    added: list[tuple] = []
    for row in new.rows:
        previous = old_by_key.pop(tuple(row[i] for i in positions), None)
        if previous is None:
            added.append(row)
        elif previous != row:
            removed.append(previous)
            added.append(row)
    removed.extend(old_by_key.values())
    return removed, added


async def write_changes(conn: asyncpg.Connection, service: str, schema: str,
                        before: dict[str, Rows], after: dict[str, Rows]
                        ) -> dict[str, tuple[int, int]]:
    """Bring `schema`'s tables from `before` to `after`: rows whose content changed are
    deleted by their key and written again; ordinal-keyed (append-only) tables only grow."""
    specs = {table.name: table for table in read_tables(service)}
    quoted = quote_schema(schema)
    changed: dict[str, tuple[int, int]] = {}
    for table, new in after.items():
        old = before.get(table, Rows(new.columns, []))
        spec = specs[table]
        if spec.ordinal is not None:
            if new.rows[:len(old.rows)] != old.rows:
                raise SwapRefused(f"{table} is append-only but rows of the rebuild changed "
                                  "while catching up")
            removed, added = [], new.rows[len(old.rows):]
        else:
            removed, added = _difference(old, new, spec.keys)
        if removed:
            positions = [new.columns.index(key) for key in spec.keys]
            where = " AND ".join(f"{key} = ${n}" for n, key in enumerate(spec.keys, 1))
            await conn.executemany(f"DELETE FROM {quoted}.{table} WHERE {where}",
                                   [tuple(row[i] for i in positions) for row in removed])
        if added:
            await conn.copy_records_to_table(table, records=added, columns=list(new.columns),
                                             schema_name=schema)
        changed[table] = (len(removed), len(added))
    return changed


async def write_tracked_changes(conn: asyncpg.Connection, schema: str,
                                changes: dict[str, TableChange]) -> dict[str, tuple[int, int]]:
    """Apply a fold's changes() to `schema`: rows of changed entities deleted and written
    again, new history appended. Returns (rows deleted, rows written) per table."""
    quoted = quote_schema(schema)
    changed: dict[str, tuple[int, int]] = {}
    for table, change in changes.items():
        deleted = 0
        if change.replace_all:
            deleted = _count(await conn.execute(f"DELETE FROM {quoted}.{table}"))
        elif change.keys:
            columns = ", ".join(change.key_columns)
            arrays = ", ".join(f"${n}::text[]" for n in range(1, len(change.key_columns) + 1))
            deleted = _count(await conn.execute(
                f"DELETE FROM {quoted}.{table} WHERE ({columns}) IN "
                f"(SELECT * FROM unnest({arrays}))",
                *[list(column) for column in zip(*change.keys, strict=True)]))
        if change.rows.rows:
            await conn.copy_records_to_table(table, records=change.rows.rows,
                                             columns=list(change.rows.columns),
                                             schema_name=schema)
        changed[table] = (deleted, len(change.rows.rows))
    return changed


def _count(status: str) -> int:
    return int(status.split()[-1])


async def next_schema_name(conn: asyncpg.Connection, base: str) -> str:
    names = await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
                             f"{base}\\_%")
    numbers = [int(row["nspname"].rsplit("_", 1)[1]) for row in names
               if row["nspname"].rsplit("_", 1)[1].isdigit()]
    return f"{base}_{max(numbers, default=0) + 1}"


async def _hand_over(conn: asyncpg.Connection, live: str, rebuilt: str, replaced: str) -> None:
    live_q, rebuilt_q, replaced_q = (quote_schema(s) for s in (live, rebuilt, replaced))
    owner = await conn.fetchval("SELECT nspowner::regrole::text FROM pg_namespace "
                                "WHERE nspname = $1", live)
    for table in MOVED_TABLES:
        await conn.execute(f"DROP TABLE {rebuilt_q}.{table}")
        await conn.execute(f"ALTER TABLE {live_q}.{table} SET SCHEMA {rebuilt_q}")
    current = await conn.fetchval("SELECT nspowner::regrole::text FROM pg_namespace "
                                  "WHERE nspname = $1", rebuilt)
    if current != owner:
        # The service's role must own what it writes (compose gives each service its own).
        role = owner  # regrole's text form is already quoted where needed
        await conn.execute(f"ALTER SCHEMA {rebuilt_q} OWNER TO {role}")
        for row in await conn.fetch(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')", rebuilt):
            await conn.execute(f'ALTER TABLE {rebuilt_q}."{row["relname"]}" OWNER TO {role}')
    await conn.execute(f"ALTER SCHEMA {live_q} RENAME TO {replaced_q}")
    await conn.execute(f"ALTER SCHEMA {rebuilt_q} RENAME TO {live_q}")


async def swap(service: str, live_schema: str, prefix: str = "", *,
               require_equal: bool = False, lock_timeout_s: float = 30.0,
               database_url: str | None = None, bootstrap_servers: str | None = None,
               on_rebuilt: Callable[[], Awaitable[None]] | None = None) -> SwapResult:
    """Rebuild `service` from the log and switch `live_schema` over to it (module docstring).
    `require_equal`: refuse (roll back, raise SwapRefused) unless the rebuilt tables equal the
    live ones at the switch. `on_rebuilt` runs between the two steps (the live service keeps
    going meanwhile)."""
    settings = Settings()
    database_url = database_url or settings.database_url
    bootstrap_servers = bootstrap_servers or settings.kafka_bootstrap_servers
    quote_schema(live_schema)
    swapping = _Swap(service, live_schema, prefix, bootstrap_servers)
    conn = await connect(database_url, live_schema)
    try:
        started = time.perf_counter()
        await swapping.rebuild_unlocked(conn)
        rebuild_s = time.perf_counter() - started
        if on_rebuilt is not None:
            await on_rebuilt()
        async with conn.transaction():
            await conn.execute(f"SET LOCAL lock_timeout = '{int(lock_timeout_s * 1000)}ms'")
            await conn.execute(f"SET LOCAL search_path TO {quote_schema(live_schema)}")
            await conn.execute(f"LOCK TABLE {', '.join(MOVED_TABLES)} IN ACCESS EXCLUSIVE MODE")
            locked = time.perf_counter()
            pending, changed = await swapping.catch_up_locked(conn)
            verification = None
            if require_equal:
                verification = Verification(service, live_schema, swapping.rebuilt,
                                            await compare_tables(conn, service, live_schema,
                                                                 swapping.rebuilt))
                if not verification.equal:
                    raise SwapRefused(f"{swapping.rebuilt} (rebuilt) differs from "
                                      f"{live_schema}; nothing swapped, {swapping.rebuilt} "
                                      "kept for inspection", verification)
            await _hand_over(conn, live_schema, swapping.rebuilt, swapping.replaced)
            locked_s = time.perf_counter() - locked
    finally:
        await conn.close()
    folded = swapping.folding.stats.records
    return SwapResult(service, live_schema, swapping.replaced, swapping.rebuilt_records,
                      folded - swapping.rebuilt_records, pending, changed, verification,
                      rebuild_s, locked_s)


class _Swap:
    """The two folds of a swap: up to what the live service has applied, without a lock; then,
    with the service standing still, the rest of the log and its unpublished outbox."""

    def __init__(self, service: str, live_schema: str, prefix: str, bootstrap_servers: str):
        self.service, self.live_schema, self.prefix = service, live_schema, prefix
        self.bootstrap_servers = bootstrap_servers
        self.inputs = _input_topics(service)
        self.folding: Projection = registry.projection(service)
        self.reader = LogReader(bootstrap_servers, self.folding.topics, prefix=prefix,
                                digests=False)
        self.topics = {topic.name: topic for topic in self.folding.topics}
        self.rebuilt = self.replaced = ""
        self.rebuilt_records = 0
        self.first_cut = Cut({})
        self.written: dict[str, Rows] = {}

    async def rebuild_unlocked(self, conn: asyncpg.Connection) -> None:
        """The rebuilt schema, filled with the fold of what the live service has applied."""
        self.first_cut = _bounded_cut(await self.reader.cut(),
                                      await _tracked(conn, self.prefix), self.inputs)
        await fold_log(self.service, self.prefix, self.first_cut,
                       bootstrap_servers=self.bootstrap_servers, into=self.folding)
        self.rebuilt_records = self.folding.stats.records
        with collector_paused():
            self.written = self.folding.rows()
        self.rebuilt = await next_schema_name(conn, f"{self.live_schema}_rebuild")
        self.replaced = await next_schema_name(conn, f"{self.live_schema}_replaced")
        async with conn.transaction():
            await create_schema(conn, self.service, self.rebuilt, self.written)
        # From here on the fold remembers which entities change, so that only their rows are
        # written again while the service stands still.
        self.folding.track_changes()
        self.written["event_history"] = Rows(self.written["event_history"].columns, [])

    async def catch_up_locked(self, conn: asyncpg.Connection
                              ) -> tuple[int, dict[str, tuple[int, int]]]:
        """Within the caller's transaction, which holds the runtime tables: fold the rest of
        the log and the outbox, and write what changed. Returns (outbox rows, changes)."""
        tracked = await _tracked(conn, self.prefix)
        pending = await conn.fetch("SELECT topic, key, value FROM outbox ORDER BY id")
        # Ends read after the outbox: a row the relay deleted before is in them.
        ends = await self.reader.cut()
        second_cut = _bounded_cut(ends, tracked, self.inputs)
        folding = self.folding
        with collector_paused():
            await fold_log(self.service, self.prefix, second_cut,
                           bootstrap_servers=self.bootstrap_servers, start=self.first_cut,
                           into=folding)
            folding.apply_batch(_outbox_records(pending, self.topics, self.prefix, ends,
                                                _partition_counts(ends)))
            changes = folding.changes()
            if changes is None:
                changed = await write_changes(conn, self.service, self.rebuilt, self.written,
                                              folding.rows())
            else:
                changed = await write_tracked_changes(conn, self.rebuilt, changes)
        return len(pending), changed


def describe_refusal(refusal: SwapRefused) -> list[str]:
    lines = [str(refusal)]
    if refusal.verification is not None:
        lines.extend(refusal.verification.lines())
    return lines


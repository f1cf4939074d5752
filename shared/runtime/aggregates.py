"""State snapshots of entities (a wallet, a creator, a stream), loaded and saved per batch.

A handler loads every entity its batch touches in one query (the runtime locked them first),
decides in memory event by event, and saves the changed snapshots in one statement. The
snapshots are a cache of the fold of the service's own output events, which stay the record:
a rebuild recomputes them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Generic, TypeVar

import asyncpg
from pydantic import TypeAdapter

T = TypeVar("T")

_TABLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class SnapshotTable(Generic[T]):
    """A table `(key text primary key, state json, version bigint)` of one state type."""

    def __init__(self, table: str, state_type: type[T], *,
                 dump: Callable[[T], bytes] | None = None,
                 load: Callable[[str], T] | None = None):
        """`dump`/`load` replace pydantic's JSON mapping for states it cannot represent."""
        if not _TABLE.match(table):
            raise ValueError(f"invalid table name {table!r}")
        self.table = table
        if dump is None or load is None:
            adapter: TypeAdapter[T] = TypeAdapter(state_type)
            dump, load = dump or adapter.dump_json, load or adapter.validate_json
        self.dump = dump
        self.load_json = load

    async def load_many(self, conn: asyncpg.Connection, keys: Iterable[str]) -> dict[str, T]:
        """The states of these keys that exist. The caller holds their entity locks
        (shared/runtime/locks.py): a lock on these rows would miss the keys without one."""
        wanted = list(set(keys))
        if not wanted:
            return {}
        rows = await conn.fetch(
            f"SELECT key, state::text AS state FROM {self.table} WHERE key = ANY($1::text[])",
            wanted,
        )
        return {row["key"]: self.load_json(row["state"]) for row in rows}

    async def load(self, conn: asyncpg.Connection | asyncpg.Pool, key: str) -> T | None:
        state = await conn.fetchval(f"SELECT state::text FROM {self.table} WHERE key = $1", key)
        return None if state is None else self.load_json(state)

    async def save(self, conn: asyncpg.Connection, states: Mapping[str, T]) -> None:
        if not states:
            return
        keys = list(states)
        await conn.execute(
            f"""INSERT INTO {self.table} (key, state, version)
                SELECT k, s::json, 1 FROM unnest($1::text[], $2::text[]) AS x(k, s)
                ON CONFLICT (key) DO UPDATE
                SET state = EXCLUDED.state, version = {self.table}.version + 1,
                    updated_at = now()""",
            keys,
            [self.dump(states[key]).decode() for key in keys],
        )


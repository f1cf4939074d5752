"""The read tables of a service, described once: their columns and types, their key, and how a
rebuild compares them. A service's live store writes its rows with `ReadTable.upsert`, and its
rebuild (the projection over its log) gives rows in the same column order, so both write the
same rows from the same row functions.

What a verification leaves out of the comparison (`excluded`) and how it matches rows (`keys`,
`ordinal`, `normalize`) is declared beside the columns; ops/replay reads it from here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import asyncpg

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_JSON = ("json", "jsonb")


@dataclass
class Rows:
    columns: tuple[str, ...]
    rows: list[tuple]


@dataclass
class TableChange:
    """How a table written from an earlier rows() becomes what rows() gives now: delete the rows
    whose `key_columns` equal one of `keys` (every row with `replace_all`), then write `rows`.
    Without keys the table only grows (event history)."""

    rows: Rows
    key_columns: tuple[str, ...] = ()
    keys: list[tuple] = field(default_factory=list)
    replace_all: bool = False


@dataclass(frozen=True)
class ReadTable:
    name: str
    columns: tuple[tuple[str, str], ...]
    """(column, PostgreSQL type) of the columns rows give, in their order. Columns the database
    fills itself (a bigserial, a default timestamp) are not among them."""
    keys: tuple[str, ...]
    excluded: tuple[str, ...] = ()
    """Columns a verification does not compare (progress, wall-clock time, batching)."""
    ordinal: tuple[tuple[str, ...], str] | None = None
    """(partition columns, order column): rows get a synthetic `ordinal` key column."""
    normalize: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    """Column -> how to read a stored value before comparing it (JSON as a value, snapshots as
    domain objects)."""

    def __post_init__(self) -> None:
        for name in (self.name, *(column for column, _ in self.columns)):
            if not _NAME.match(name):
                raise ValueError(f"invalid name {name!r}")

    @cached_property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column for column, _ in self.columns)

    def of(self, rows: list[tuple]) -> Rows:
        return Rows(self.column_names, rows)

    def select_sql(self, schema: str) -> str:
        if self.ordinal is None:
            return f'SELECT * FROM "{schema}".{self.name}'
        partition, order = self.ordinal
        over = (f"PARTITION BY {', '.join(partition)} " if partition else "") + f"ORDER BY {order}"
        return f'SELECT *, row_number() OVER ({over}) AS ordinal FROM "{schema}".{self.name}'

    def position(self, column: str) -> int:
        """Where the column is in the rows this table's row functions give."""
        return self._positions[column]

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {column: index for index, column in enumerate(self.column_names)}

    def with_values(self, row: Sequence, **values: object) -> tuple:
        """The row with these columns changed."""
        changed = list(row)
        for column, value in values.items():
            changed[self._positions[column]] = value
        return tuple(changed)

    # ---- writing (the live stores)

    @cached_property
    def _by_arrays(self) -> bool:
        # unnest flattens an array of arrays, so rows with an array column go one by one.
        return not any(sql_type.endswith("[]") for _, sql_type in self.columns)

    @cached_property
    def _source(self) -> str:
        """The rows as a SELECT: one array per column (one statement per batch) unless a
        column is itself an array, then one VALUES row per statement. JSON travels as text, the
        JSON exactly as the row function made it: the connection's JSON codec would encode a
        string as a JSON string instead."""
        names = ", ".join(self.column_names)
        carried = [(column, "text" if sql_type in _JSON else sql_type, sql_type)
                   for column, sql_type in self.columns]
        if self._by_arrays:
            arrays = ", ".join(f"${i}::{carry}[]" for i, (_, carry, _) in enumerate(carried, 1))
            values = ", ".join(f"{column}::{sql_type}" if sql_type in _JSON else column
                               for column, _, sql_type in carried)
            return f"SELECT {values} FROM unnest({arrays}) AS x({names})"
        return "VALUES (" + ", ".join(
            f"${i}::{carry}" + (f"::{sql_type}" if sql_type in _JSON else "")
            for i, (_, carry, sql_type) in enumerate(carried, 1)) + ")"

    @cached_property
    def insert_sql(self) -> str:
        """New rows only: a key that exists is an error."""
        return f"INSERT INTO {self.name} ({', '.join(self.column_names)}) {self._source}"

    @cached_property
    def _statements(self) -> dict[tuple, str]:
        return {}

    def upsert_sql(self, replaced: Sequence[str] | None = None) -> str:
        """A row whose key exists replaces the stored one's `replaced` columns (default: every
        column but the key)."""
        key = ("upsert", None if replaced is None else tuple(replaced))
        sql = self._statements.get(key)
        if sql is None:
            sql = self._statements[key] = self._upsert_sql(replaced)
        return sql

    def _upsert_sql(self, replaced: Sequence[str] | None) -> str:
        if self.ordinal is not None:
            raise ValueError(f"{self.name} is matched by ordinal: its rows are only inserted")
        if replaced is None:
            replaced = [column for column in self.column_names if column not in self.keys]
        on_conflict = ("DO NOTHING" if not replaced else "DO UPDATE SET " + ", ".join(
            f"{column} = EXCLUDED.{column}" for column in replaced))
        return f"{self.insert_sql} ON CONFLICT ({', '.join(self.keys)}) {on_conflict}"

    def add_sql(self, added: Sequence[str]) -> str:
        """Rows that add their `added` columns to the stored row of their key (a new key is
        inserted); rows of one key are summed first, and written in key order, so two writers
        adding to the same rows wait for each other instead of deadlocking. The other columns
        are the same in every row of a key."""
        key = ("add", tuple(added))
        sql = self._statements.get(key)
        if sql is None:
            sql = self._statements[key] = self._add_sql(added)
        return sql

    def _add_sql(self, added: Sequence[str]) -> str:
        kept = [column for column in self.column_names if column not in added]
        grouped = ", ".join(kept)
        sums = ", ".join(f"sum({column})" for column in added)
        return (f"INSERT INTO {self.name} AS stored ({grouped}, {', '.join(added)})"
                f" SELECT {grouped}, {sums} FROM ({self._source}) AS x"
                f" GROUP BY {grouped} ORDER BY {', '.join(self.keys)}"
                f" ON CONFLICT ({', '.join(self.keys)}) DO UPDATE SET " + ", ".join(
                    f"{column} = stored.{column} + EXCLUDED.{column}" for column in added))

    async def insert(self, conn: asyncpg.Connection, rows: Sequence[Sequence], *,
                     unless_exists: Sequence[str] = ()) -> None:
        """Rows whose `unless_exists` columns (a unique key) match a stored row are skipped;
        without them a row whose key exists is an error."""
        sql = self.insert_sql
        if unless_exists:
            sql += f" ON CONFLICT ({', '.join(unless_exists)}) DO NOTHING"
        await self._write(conn, sql, rows)

    async def upsert(self, conn: asyncpg.Connection, rows: Sequence[Sequence],
                     replaced: Sequence[str] | None = None) -> None:
        await self._write(conn, self.upsert_sql(replaced), rows)

    async def add(self, conn: asyncpg.Connection, rows: Sequence[Sequence],
                  added: Sequence[str]) -> None:
        await self._write(conn, self.add_sql(added), rows)

    async def _write(self, conn: asyncpg.Connection, sql: str, rows: Sequence[Sequence]) -> None:
        if not rows:
            return
        if self._by_arrays:
            await conn.execute(sql, *[list(column) for column in zip(*rows, strict=True)])
        else:
            await conn.executemany(sql, rows)

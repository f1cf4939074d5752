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

    @cached_property
    def _by_arrays(self) -> bool:
        # unnest flattens an array of arrays, so rows with an array column go one by one.
        return not any(sql_type.endswith("[]") for _, sql_type in self.columns)

    @cached_property
    def upsert_sql(self) -> str:
        """A row whose key exists replaces the stored one. Rows travel as one array per column
        (one statement per batch) unless a column is itself an array."""
        names = ", ".join(self.column_names)
        # JSON travels as text, the JSON exactly as the row function made it: the connection's
        # JSON codec would encode a string as a JSON string instead.
        carried = [(column, "text" if sql_type in _JSON else sql_type, sql_type)
                   for column, sql_type in self.columns]
        if self._by_arrays:
            arrays = ", ".join(f"${i}::{carry}[]" for i, (_, carry, _) in enumerate(carried, 1))
            values = ", ".join(f"{column}::{sql_type}" if sql_type in _JSON else column
                               for column, _, sql_type in carried)
            source = f"SELECT {values} FROM unnest({arrays}) AS x({names})"
        else:
            source = "VALUES (" + ", ".join(
                f"${i}::{carry}" + (f"::{sql_type}" if sql_type in _JSON else "")
                for i, (_, carry, sql_type) in enumerate(carried, 1)) + ")"
        updated = [column for column in self.column_names if column not in self.keys]
        on_conflict = ("DO NOTHING" if not updated else "DO UPDATE SET " + ", ".join(
            f"{column} = EXCLUDED.{column}" for column in updated))
        return (f"INSERT INTO {self.name} ({names}) {source}"
                f" ON CONFLICT ({', '.join(self.keys)}) {on_conflict}")

    @cached_property
    def insert_sql(self) -> str:
        """New rows only: a key that exists is an error."""
        return self.upsert_sql.split(" ON CONFLICT ")[0]

    async def insert(self, conn: asyncpg.Connection, rows: Sequence[Sequence]) -> None:
        await self._write(conn, self.insert_sql, rows)

    async def upsert(self, conn: asyncpg.Connection, rows: Sequence[Sequence]) -> None:
        await self._write(conn, self.upsert_sql, rows)

    async def _write(self, conn: asyncpg.Connection, sql: str, rows: Sequence[Sequence]) -> None:
        if not rows:
            return
        if self._by_arrays:
            await conn.execute(sql, *[list(column) for column in zip(*rows, strict=True)])
        else:
            await conn.executemany(sql, rows)

"""Numbered plain-SQL migrations, applied once per schema, in order, under a lock.

Migrations are written without schema names; they run with `search_path` set to the target
schema, so the same files build the live schema and any rebuild schema beside it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str


def migrations_in(package: str, component: str) -> list[Migration]:
    folder: Traversable = resources.files(package)
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(component, int(match.group(1)), entry.name, entry.read_text()))
    return sorted(found, key=lambda migration: migration.version)


def quote_schema(schema: str) -> str:
    if not SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return f'"{schema}"'


async def apply_migrations(conn: asyncpg.Connection, schema: str,
                           migrations: list[Migration]) -> list[str]:
    """Apply what is missing; return the names applied. Safe to call from many instances."""
    quoted = quote_schema(schema)
    lock_key = int.from_bytes(hashlib.sha256(f"migrate:{schema}".encode()).digest()[:8], "big",
                              signed=True)
    applied_now = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key)
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
        await conn.execute(f"SET LOCAL search_path TO {quoted}")
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   component text NOT NULL, version integer NOT NULL, name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (component, version))"""
        )
        done = {
            (row["component"], row["version"])
            for row in await conn.fetch("SELECT component, version FROM schema_migrations")
        }
        for migration in migrations:
            if (migration.component, migration.version) in done:
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)",
                migration.component, migration.version, migration.name,
            )
            applied_now.append(f"{migration.component}/{migration.name}")
    return applied_now


def runtime_migrations() -> list[Migration]:
    return migrations_in("shared.runtime.migrations", "runtime")

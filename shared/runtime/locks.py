"""Entity locks: what fences two instances of a service that decide for the same entity.

One entity's inputs arrive on several topics and partitions (a viewer's purchases, age checks
and priced gifts; a creator's earnings from every sender's partition), so they are assigned to
different instances of the service. The tracking rows fence a partition, not an entity. Before
its handler runs, a batch therefore locks every entity its events decide for, with one statement
that creates the missing lock rows and locks the existing ones, in sorted order: an instance
deciding for an entity waits until the other instance's transaction for it commits, and then
reads the state that transaction wrote. A lock on a state row alone would not do: when the row
does not exist yet there is nothing to lock, both instances start from an empty state, and the
later commit overwrites the earlier one.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg


# ON CONFLICT DO UPDATE takes the row lock of an existing row, as FOR UPDATE would, after
# waiting for a transaction that holds it; a row another transaction is inserting is waited for
# too. The sorted input makes every batch take its locks in one order, so batches cannot
# deadlock on them.
def lock_rows(entities: str, *, after: str = "true") -> str:
    """The statement that locks the entities of the text array parameter `entities` ("$1"),
    on its own or inside a larger statement; `after` is a condition its rows wait for (in a
    larger statement, a subquery of another part, which PostgreSQL then completes first)."""
    return f"""INSERT INTO entity_locks (entity)
               SELECT entity FROM unnest({entities}::text[]) AS x(entity) WHERE {after}
               ORDER BY entity
               ON CONFLICT (entity) DO UPDATE SET entity = EXCLUDED.entity"""


def in_lock_order(entities: Iterable[str]) -> list[str]:
    return sorted(set(entities))


async def lock_entities(conn: asyncpg.Connection, entities: Iterable[str]) -> None:
    """Hold every entity's lock until the transaction ends."""
    ordered = in_lock_order(entities)
    if ordered:
        await conn.execute(lock_rows("$1"), ordered)

"""Each service's own output events, mirrored per entity for history queries and explanations.

Written in the same transaction as the decision, so the history a reader pages through is
exactly what the service decided, in the order it decided it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg
import orjson

from shared.contract.envelope import Event
from shared.readmodel import ReadTable

EVENT_HISTORY = ReadTable(
    "event_history",
    (("entity", "text"), ("event_id", "uuid"), ("type", "text"), ("occurred_at", "timestamptz"),
     ("payload", "json")),
    # `seq` is a bigserial in decision order across entities, which depends on batching: rows
    # are matched by their ordinal within the entity instead, so each entity's order is still
    # compared. Payloads compare as JSON values (older rows hold PostgreSQL's re-encoding).
    keys=("entity", "ordinal"), excluded=("seq",), ordinal=(("entity",), "seq"),
    normalize={"payload": orjson.loads})


def insert_rows(first: int) -> str:
    """The insert of the rows `columns` gives, passed as parameters $first to $first+4: on its
    own, or as part of a statement that writes more (the end of a consumer batch)."""
    entity, event_id, kind, occurred_at, payload = (f"${n}" for n in range(first, first + 5))
    return f"""INSERT INTO event_history (entity, event_id, type, occurred_at, payload)
               SELECT e, i, t, o, p::json
               FROM unnest({entity}::text[], {event_id}::uuid[], {kind}::text[],
                           {occurred_at}::timestamptz[], {payload}::text[]) AS x(e, i, t, o, p)"""


def columns(events: Sequence[tuple[Event, bytes]]) -> tuple[list, ...]:
    """Each event with the JSON it was published as (encoded once, for both)."""
    return ([event.key for event, _ in events],
            [event.event_id for event, _ in events],
            [event.type for event, _ in events],
            [event.occurred_at for event, _ in events],
            [value.decode() for _, value in events])


async def record(conn: asyncpg.Connection, events: Sequence[tuple[Event, bytes]]) -> None:
    if events:
        await conn.execute(insert_rows(1), *columns(events))


async def page(conn: asyncpg.Connection | asyncpg.Pool, entity: str, *, after_seq: int = 0,
               limit: int = 50, types: Sequence[str] | None = None,
               since: datetime | None = None, until: datetime | None = None,
               ) -> list[asyncpg.Record]:
    """The entity's events after `after_seq`, in decision order; with `since` and `until`, only
    those that happened in [since, until)."""
    return await conn.fetch(
        """SELECT seq, event_id, type, occurred_at, payload FROM event_history
           WHERE entity = $1 AND seq > $2 AND ($4::text[] IS NULL OR type = ANY($4::text[]))
             AND ($5::timestamptz IS NULL OR occurred_at >= $5)
             AND ($6::timestamptz IS NULL OR occurred_at < $6)
           ORDER BY seq LIMIT $3""",
        entity, after_seq, limit, list(types) if types else None, since, until,
    )


async def known(conn: asyncpg.Connection | asyncpg.Pool, entity: str) -> bool:
    """The service has decided something about the entity."""
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM event_history WHERE entity = $1)", entity))


async def prefix_until(conn: asyncpg.Connection | asyncpg.Pool, entity: str,
                       at: datetime) -> list[str]:
    """The entity's events, in decision order, up to the first one that happened after `at`:
    always a prefix of its history, so folding it gives a state the entity really had."""
    rows = await conn.fetch(
        """SELECT payload::text AS payload, occurred_at FROM event_history
           WHERE entity = $1 ORDER BY seq""", entity)
    prefix = []
    for row in rows:
        if row["occurred_at"] > at:
            break
        prefix.append(row["payload"])
    return prefix

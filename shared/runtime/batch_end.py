"""What a consumer batch writes last, in one statement: the events it emits into the outbox,
its decisions into the event history, the tracking offsets past its records, and the NOTIFY
that wakes the relay (delivered when the transaction commits). One round trip, not four.

The parts touch different tables, so sharing one snapshot changes nothing between them; the
tracking rows were locked when the batch began. Outbox rows are inserted in the order of the
events, so their ids follow it.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import orjson

from shared.contract.envelope import Event
from shared.runtime import history
from shared.runtime.unit import Outgoing, Record

_FINISH = f"""
    WITH advanced AS (
        UPDATE tracking AS t SET next_offset = x.o, updated_at = now()
        FROM unnest($2::text[], $3::int[], $4::bigint[]) AS x(tp, p, o)
        WHERE t.consumer = $1 AND t.topic = x.tp AND t.partition = x.p
    ), emitted AS (
        INSERT INTO outbox (event_id, topic, key, value, headers)
        SELECT e, t, k, v, h::jsonb
        FROM unnest($5::uuid[], $6::text[], $7::bytea[], $8::bytea[], $9::text[])
             AS x(e, t, k, v, h)
    ), decided AS (
        {history.insert_rows(10)}
    )
    SELECT pg_notify($15, '') WHERE cardinality($5::uuid[]) > 0
"""


async def finish_batch(conn: asyncpg.Connection, *, consumer: str, applied: Sequence[Record],
                       outgoing: Sequence[Outgoing], decided: Sequence[tuple[Event, bytes]],
                       notify_channel: str) -> None:
    next_offsets = _next_offsets(applied)
    await conn.execute(
        _FINISH, consumer,
        [topic for topic, _ in next_offsets], [partition for _, partition in next_offsets],
        list(next_offsets.values()),
        [item.event_id for item in outgoing], [item.topic for item in outgoing],
        [item.key for item in outgoing], [item.value for item in outgoing],
        [_headers_json(item.headers) for item in outgoing],
        *history.columns(decided),
        notify_channel,
    )


def _next_offsets(records: Sequence[Record]) -> dict[tuple[str, int], int]:
    next_offsets: dict[tuple[str, int], int] = {}
    for record in records:
        position = (record.topic, record.partition)
        next_offsets[position] = max(next_offsets.get(position, 0), record.offset + 1)
    return next_offsets


def _headers_json(headers: tuple[tuple[str, bytes], ...]) -> str:
    # Header values are opaque bytes; latin-1 maps each byte to one character and back.
    return orjson.dumps([[name, value.decode("latin-1")] for name, value in headers]).decode()

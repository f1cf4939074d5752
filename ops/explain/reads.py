"""Reading a service's own events (event_history) and its read model, from PostgreSQL.

Every function takes the schema name, so a rebuild schema or a test's schema reads as well as
the live one. Payloads are decoded with the topic's contract (upcasting older versions).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import asyncpg

from ops import database_roles
from ops.explain.creator import CreatorExplanation, explain_creator
from ops.explain.statements import CreatorStatement, creator_statement
from ops.explain.viewer import ViewerExplanation, ViewerStatement, explain_viewer, viewer_statement
from shared.contract.codec import decode
from shared.contract.envelope import Event
from shared.contract.topics import PAYOUT_LEDGER, WALLET_LEDGER, Topic
from shared.runtime.migrate import quote_schema
from shared.settings import Settings


class NoHistory(LookupError):
    """The schema has no event_history table (wrong schema name, or not migrated)."""


def _url(database_url: str | None) -> str:
    """Explanations and statements only read: as the auditor, where a login for it is named."""
    return database_url or database_roles.reader_url(Settings().database_url)


async def _has_history(conn: asyncpg.Connection, schema: str) -> bool:
    return await conn.fetchval("SELECT to_regclass($1) IS NOT NULL",
                               f"{quote_schema(schema)}.event_history")


async def events_of(conn: asyncpg.Connection, schema: str, topic: Topic,
                    entity: str) -> list[tuple[int, Event]]:
    """One entity's events of the schema's event_history, in log (seq) order."""
    if not await _has_history(conn, schema):
        raise NoHistory(f"schema {schema!r} has no event_history table")
    rows = await conn.fetch(f"SELECT seq, payload::text AS payload"
                            f" FROM {quote_schema(schema)}.event_history"
                            f" WHERE entity = $1 ORDER BY seq", entity)
    return [(row["seq"], decode(topic, row["payload"].encode()).event) for row in rows]


async def stored_balance(conn: asyncpg.Connection, schema: str, user_id: str) -> int | None:
    return await conn.fetchval(f"SELECT balance FROM {quote_schema(schema)}.wallet_balances"
                               " WHERE user_id = $1", user_id)


async def creator_balance_row(conn: asyncpg.Connection, schema: str,
                              creator_id: str) -> dict | None:
    row = await conn.fetchrow(f"SELECT * FROM {quote_schema(schema)}.creator_balances"
                              " WHERE creator_id = $1", creator_id)
    return None if row is None else dict(row)


async def gift_funding(conn: asyncpg.Connection, wallet_schema: str,
                       gifts: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]] | None:
    """The cash value per currency of each gift's coins, from the sender's coins_spent:
    (sender_id, request_id) -> request_id -> {currency: value_minor}. None when the wallet
    schema cannot be read."""
    gifts = list(gifts)
    try:
        if not await _has_history(conn, wallet_schema):
            return None
    except ValueError:
        return None
    if not gifts:
        return {}
    rows = await conn.fetch(
        f"SELECT payload::text AS payload FROM {quote_schema(wallet_schema)}.event_history"
        " WHERE type = 'wallet.coins_spent' AND entity = ANY($1::text[])"
        " AND payload->>'request_id' = ANY($2::text[])",
        sorted({sender for sender, _ in gifts}), sorted({request for _, request in gifts}))
    funding: dict[str, dict[str, int]] = {}
    for row in rows:
        spent = decode(WALLET_LEDGER, row["payload"].encode()).event
        values: dict[str, int] = defaultdict(int)
        for lot in spent.lots:
            if lot.currency is not None:
                values[lot.currency] += lot.value_minor
        funding[spent.request_id] = dict(values)
    return funding


# ---- what the commands and tests call ---------------------------------------------------------

async def explain_viewer_from_db(user_id: str, *, wallet_schema: str = "wallet",
                                 database_url: str | None = None) -> ViewerExplanation:
    conn = await asyncpg.connect(_url(database_url))
    try:
        events = await events_of(conn, wallet_schema, WALLET_LEDGER, user_id)
        balance = await stored_balance(conn, wallet_schema, user_id)
    finally:
        await conn.close()
    return explain_viewer(user_id, events, balance)


async def _creator(conn: asyncpg.Connection, creator_id: str, payout_schema: str,
                   wallet_schema: str | None) -> tuple[CreatorExplanation, list]:
    events = await events_of(conn, payout_schema, PAYOUT_LEDGER, creator_id)
    row = await creator_balance_row(conn, payout_schema, creator_id)
    funding = None
    if wallet_schema:
        gifts = [(event.sender_id, event.request_id) for _, event in events
                 if event.type == "payout.diamonds_earned"]
        funding = await gift_funding(conn, wallet_schema, gifts)
    return explain_creator(creator_id, events, funding, row), [event for _, event in events]


async def explain_creator_from_db(creator_id: str, *, payout_schema: str = "payout",
                                  wallet_schema: str | None = "wallet",
                                  database_url: str | None = None) -> CreatorExplanation:
    """`wallet_schema` (optional) adds each gift's cash value from the sender's wallet."""
    conn = await asyncpg.connect(_url(database_url))
    try:
        explanation, _ = await _creator(conn, creator_id, payout_schema, wallet_schema)
    finally:
        await conn.close()
    return explanation


async def viewer_statement_from_db(user_id: str, period_start: datetime,
                                   period_end: datetime, *, wallet_schema: str = "wallet",
                                   database_url: str | None = None) -> ViewerStatement:
    explanation = await explain_viewer_from_db(user_id, wallet_schema=wallet_schema,
                                               database_url=database_url)
    return viewer_statement(explanation, period_start, period_end)


async def creator_statement_from_db(creator_id: str, period_start: datetime,
                                    period_end: datetime, *, payout_schema: str = "payout",
                                    wallet_schema: str | None = None,
                                    database_url: str | None = None) -> CreatorStatement:
    conn = await asyncpg.connect(_url(database_url))
    try:
        explanation, events = await _creator(conn, creator_id, payout_schema, wallet_schema)
    finally:
        await conn.close()
    return creator_statement(explanation, events, period_start, period_end)

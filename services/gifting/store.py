"""SQL of the gifting schema: load what a batch needs, save what it changed. The rows
themselves are services/gifting/projection.py's."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg

from services.gifting.domain import Campaign, CatalogGift, Stream
from services.gifting.projection import (
    CAMPAIGNS,
    CATALOG_GIFTS,
    CREATOR_AGES,
    GIFTS_TABLE,
    STREAMS,
    campaign_row,
    catalog_row,
    priced_row,
    rejected_row,
    score_increments,
    stream_row,
    total_increment,
)
from shared.contract.events.gifting import GiftPriced, GiftRejected, GiftSent
from shared.contract.events.streams import GiftRequested


async def load_streams(conn: asyncpg.Connection, ids: Iterable[str]) -> dict[str, Stream]:
    rows = await conn.fetch(
        "SELECT stream_id, creator_id, started_at, ended_at FROM streams"
        " WHERE stream_id = ANY($1::text[]) ORDER BY stream_id FOR UPDATE", sorted(set(ids)))
    return {row["stream_id"]: Stream(**dict(row)) for row in rows}


async def save_streams(conn: asyncpg.Connection, streams: Sequence[Stream]) -> None:
    await STREAMS.upsert(conn, [stream_row(stream) for stream in streams])


async def load_ages(conn: asyncpg.Connection, user_ids: Iterable[str]) -> dict[str, bool]:
    rows = await conn.fetch("SELECT user_id, adult FROM creator_ages"
                            " WHERE user_id = ANY($1::text[])", sorted(set(user_ids)))
    return {row["user_id"]: row["adult"] for row in rows}


async def save_ages(conn: asyncpg.Connection, ages: dict[str, bool]) -> None:
    await CREATOR_AGES.upsert(conn, list(ages.items()))


async def load_gifts(conn: asyncpg.Connection, ids: Iterable[str]) -> dict[str, CatalogGift]:
    rows = await conn.fetch(
        "SELECT gift_id, name, coins, catalog_version, retired FROM catalog_gifts"
        " WHERE gift_id = ANY($1::text[])", sorted(set(ids)))
    return {row["gift_id"]: CatalogGift(**dict(row)) for row in rows}


async def save_gifts(conn: asyncpg.Connection, gifts: Sequence[CatalogGift]) -> None:
    await CATALOG_GIFTS.upsert(conn, [catalog_row(gift) for gift in gifts])


async def load_campaigns(conn: asyncpg.Connection) -> dict[str, Campaign]:
    rows = await conn.fetch("SELECT campaign_id, multiplier, gift_ids, starts_at, ends_at,"
                            " ended_at FROM campaigns")
    return {row["campaign_id"]: Campaign(
        campaign_id=row["campaign_id"], multiplier=row["multiplier"],
        gift_ids=frozenset(row["gift_ids"]), starts_at=row["starts_at"], ends_at=row["ends_at"],
        ended_at=row["ended_at"]) for row in rows}


async def save_campaigns(conn: asyncpg.Connection, campaigns: Sequence[Campaign]) -> None:
    await CAMPAIGNS.upsert(conn, [campaign_row(campaign) for campaign in campaigns])


async def load_priced(conn: asyncpg.Connection, request_ids: Iterable[str]) -> dict[
        str, GiftPriced]:
    rows = await conn.fetch(
        "SELECT request_id, priced_event::text AS priced FROM gifts"
        " WHERE request_id = ANY($1::text[]) AND status = 'priced' FOR UPDATE",
        sorted(set(request_ids)))
    return {row["request_id"]: GiftPriced.model_validate_json(row["priced"]) for row in rows}


async def known_requests(conn: asyncpg.Connection, request_ids: Iterable[str]) -> set[str]:
    rows = await conn.fetch("SELECT request_id FROM gifts WHERE request_id = ANY($1::text[])",
                            list(set(request_ids)))
    return {row["request_id"] for row in rows}


async def insert_requests(conn: asyncpg.Connection,
                          decided: Sequence[tuple[GiftRequested, GiftPriced | GiftRejected]]
                          ) -> None:
    """A request decides once (the handler skips ids decided before): a second row for one
    request id is an error."""
    await GIFTS_TABLE.insert(conn, [_request_row(request, outcome)
                                    for request, outcome in decided])


def _request_row(request: GiftRequested, outcome: GiftPriced | GiftRejected) -> list:
    if isinstance(outcome, GiftPriced):
        return priced_row(outcome, outcome.model_dump_json())
    return rejected_row(outcome, request.gift_id, request.quantity)


async def settle_requests(conn: asyncpg.Connection,
                          settled: Sequence[tuple[str, str, str | None]]) -> None:
    """(request_id, status, reason) for requests the wallet answered."""
    if settled:
        await conn.executemany(
            "UPDATE gifts SET status = $2, reason = $3, priced_event = NULL WHERE request_id = $1",
            settled)


async def add_sent(conn: asyncpg.Connection, sent: Sequence[GiftSent]) -> None:
    """Totals and leaderboards move by increments, one statement each per batch. Rows are
    written in key order, so two instances adding to the same rows wait for each other instead
    of deadlocking (a deadlock costs a second of detection and a retry)."""
    if not sent:
        return
    await conn.execute(
        """INSERT INTO stream_totals AS t (stream_id, creator_id, sends, gifts, coins, points)
           SELECT s, c, sum(n), sum(g), sum(co), sum(p)
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[],
                       $6::bigint[]) AS x(s, c, n, g, co, p)
           GROUP BY s, c ORDER BY s
           ON CONFLICT (stream_id) DO UPDATE
           SET sends = t.sends + EXCLUDED.sends, gifts = t.gifts + EXCLUDED.gifts,
               coins = t.coins + EXCLUDED.coins, points = t.points + EXCLUDED.points""",
        *_columns([total_increment(s) for s in sent]))
    await conn.execute(
        """INSERT INTO gifter_scores AS b (scope, scope_id, sender_id, points, coins, gifts)
           SELECT sc, id, snd, sum(p), sum(co), sum(g)
           FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[],
                       $6::bigint[]) AS x(sc, id, snd, p, co, g)
           GROUP BY sc, id, snd ORDER BY sc, id, snd
           ON CONFLICT (scope, scope_id, sender_id) DO UPDATE
           SET points = b.points + EXCLUDED.points, coins = b.coins + EXCLUDED.coins,
               gifts = b.gifts + EXCLUDED.gifts""",
        *_columns([row for s in sent for row in score_increments(s)]))


def _columns(rows: Sequence[tuple]) -> list[list]:
    return [list(column) for column in zip(*rows, strict=True)]

"""SQL of the gifting schema: load what a batch needs, save what it changed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg

from services.gifting.domain import Campaign, CatalogGift, Stream
from services.gifting.domain.leaderboard import units
from shared.contract.events.gifting import GiftPriced, GiftRejected, GiftSent
from shared.contract.events.streams import GiftRequested


async def load_streams(conn: asyncpg.Connection, ids: Iterable[str]) -> dict[str, Stream]:
    rows = await conn.fetch(
        "SELECT stream_id, creator_id, started_at, ended_at FROM streams"
        " WHERE stream_id = ANY($1::text[]) ORDER BY stream_id FOR UPDATE", sorted(set(ids)))
    return {row["stream_id"]: Stream(**dict(row)) for row in rows}


async def save_streams(conn: asyncpg.Connection, streams: Sequence[Stream]) -> None:
    if not streams:
        return
    await conn.executemany(
        """INSERT INTO streams (stream_id, creator_id, started_at, ended_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (stream_id) DO UPDATE
           SET creator_id = EXCLUDED.creator_id, started_at = EXCLUDED.started_at,
               ended_at = EXCLUDED.ended_at""",
        [(s.stream_id, s.creator_id, s.started_at, s.ended_at) for s in streams])


async def load_ages(conn: asyncpg.Connection, user_ids: Iterable[str]) -> dict[str, bool]:
    rows = await conn.fetch("SELECT user_id, adult FROM creator_ages"
                            " WHERE user_id = ANY($1::text[])", sorted(set(user_ids)))
    return {row["user_id"]: row["adult"] for row in rows}


async def save_ages(conn: asyncpg.Connection, ages: dict[str, bool]) -> None:
    if ages:
        await conn.executemany(
            "INSERT INTO creator_ages (user_id, adult) VALUES ($1, $2)"
            " ON CONFLICT (user_id) DO UPDATE SET adult = EXCLUDED.adult", list(ages.items()))


async def load_gifts(conn: asyncpg.Connection, ids: Iterable[str]) -> dict[str, CatalogGift]:
    rows = await conn.fetch(
        "SELECT gift_id, name, coins, catalog_version, retired FROM catalog_gifts"
        " WHERE gift_id = ANY($1::text[])", sorted(set(ids)))
    return {row["gift_id"]: CatalogGift(**dict(row)) for row in rows}


async def save_gifts(conn: asyncpg.Connection, gifts: Sequence[CatalogGift]) -> None:
    if not gifts:
        return
    await conn.executemany(
        """INSERT INTO catalog_gifts (gift_id, name, coins, catalog_version, retired)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (gift_id) DO UPDATE
           SET name = EXCLUDED.name, coins = EXCLUDED.coins,
               catalog_version = EXCLUDED.catalog_version, retired = EXCLUDED.retired""",
        [(g.gift_id, g.name, g.coins, g.catalog_version, g.retired) for g in gifts])


async def load_campaigns(conn: asyncpg.Connection) -> dict[str, Campaign]:
    rows = await conn.fetch("SELECT campaign_id, multiplier, gift_ids, starts_at, ends_at,"
                            " ended_at FROM campaigns")
    return {row["campaign_id"]: Campaign(
        campaign_id=row["campaign_id"], multiplier=row["multiplier"],
        gift_ids=frozenset(row["gift_ids"]), starts_at=row["starts_at"], ends_at=row["ends_at"],
        ended_at=row["ended_at"]) for row in rows}


async def save_campaigns(conn: asyncpg.Connection, campaigns: Sequence[Campaign]) -> None:
    if not campaigns:
        return
    await conn.executemany(
        """INSERT INTO campaigns (campaign_id, multiplier, gift_ids, starts_at, ends_at, ended_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (campaign_id) DO UPDATE SET ended_at = EXCLUDED.ended_at""",
        [(c.campaign_id, c.multiplier, sorted(c.gift_ids), c.starts_at, c.ends_at, c.ended_at)
         for c in campaigns])


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
    if not decided:
        return
    await conn.executemany(
        """INSERT INTO gifts (request_id, sender_id, stream_id, creator_id, gift_id, quantity,
                              coins, points, catalog_version, campaign_id, status, reason,
                              priced_event, requested_at, decided_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::text::json,
                   $14, $14)""",
        [_request_row(request, outcome) for request, outcome in decided])


def _request_row(request: GiftRequested, outcome: GiftPriced | GiftRejected) -> tuple:
    if isinstance(outcome, GiftPriced):
        return (request.request_id, request.sender_id, request.stream_id, outcome.creator_id,
                request.gift_id, request.quantity, outcome.coins, outcome.points,
                outcome.catalog_version, outcome.campaign_id, "priced", None,
                outcome.model_dump_json(), request.occurred_at)
    return (request.request_id, request.sender_id, request.stream_id, None, request.gift_id,
            request.quantity, None, None, None, None, "rejected", outcome.reason.value, None,
            request.occurred_at)


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
           SELECT s, c, count(*), sum(g), sum(co), sum(p)
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[])
                AS x(s, c, g, co, p)
           GROUP BY s, c ORDER BY s
           ON CONFLICT (stream_id) DO UPDATE
           SET sends = t.sends + EXCLUDED.sends, gifts = t.gifts + EXCLUDED.gifts,
               coins = t.coins + EXCLUDED.coins, points = t.points + EXCLUDED.points""",
        [s.stream_id for s in sent], [s.creator_id for s in sent], [units(s) for s in sent],
        [s.coins for s in sent], [s.points for s in sent])
    await conn.execute(
        """INSERT INTO gifter_scores AS b (scope, scope_id, sender_id, points, coins, gifts)
           SELECT sc, id, snd, sum(p), sum(co), sum(g)
           FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[],
                       $6::bigint[]) AS x(sc, id, snd, p, co, g)
           GROUP BY sc, id, snd ORDER BY sc, id, snd
           ON CONFLICT (scope, scope_id, sender_id) DO UPDATE
           SET points = b.points + EXCLUDED.points, coins = b.coins + EXCLUDED.coins,
               gifts = b.gifts + EXCLUDED.gifts""",
        *_board_columns(sent))


def _board_columns(sent: Sequence[GiftSent]) -> list[list]:
    rows = [(scope, scope_id, s.sender_id, s.points, s.coins, units(s))
            for s in sent
            for scope, scope_id in (("stream", s.stream_id), ("creator", s.creator_id))]
    return [list(column) for column in zip(*rows, strict=True)]


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
    GIFTER_SCORES,
    GIFTS_TABLE,
    SCORES_ADDED,
    STREAM_TOTALS,
    STREAMS,
    TOTALS_ADDED,
    campaign_row,
    catalog_row,
    priced_row,
    rejected_row,
    score_increments,
    settlement,
    stream_row,
    total_increment,
)
from shared.contract.events.gifting import GiftFailed, GiftPriced, GiftRejected, GiftSent
from shared.contract.events.streams import GiftRequested


async def load_streams(conn: asyncpg.Connection, ids: Iterable[str]) -> dict[str, Stream]:
    rows = await conn.fetch(
        f"SELECT {', '.join(STREAMS.column_names)} FROM streams"
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
        f"SELECT {', '.join(CATALOG_GIFTS.column_names)} FROM catalog_gifts"
        " WHERE gift_id = ANY($1::text[])", sorted(set(ids)))
    return {row["gift_id"]: CatalogGift(**dict(row)) for row in rows}


async def catalog_known(conn: asyncpg.Connection) -> bool:
    """A gift has been listed: the catalog has reached the service."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT FROM catalog_gifts)"))


async def save_gifts(conn: asyncpg.Connection, gifts: Sequence[CatalogGift]) -> None:
    await CATALOG_GIFTS.upsert(conn, [catalog_row(gift) for gift in gifts])


async def load_campaigns(conn: asyncpg.Connection) -> dict[str, Campaign]:
    rows = await conn.fetch(f"SELECT {', '.join(CAMPAIGNS.column_names)} FROM campaigns")
    return {row["campaign_id"]: Campaign(
        campaign_id=row["campaign_id"], multiplier=row["multiplier"],
        gift_ids=frozenset(row["gift_ids"]), starts_at=row["starts_at"], ends_at=row["ends_at"],
        ended_at=row["ended_at"]) for row in rows}


async def save_campaigns(conn: asyncpg.Connection, campaigns: Sequence[Campaign]) -> None:
    # A campaign's terms never change once started (evolve_campaign): only its end is written.
    await CAMPAIGNS.upsert(conn, [campaign_row(campaign) for campaign in campaigns],
                           replaced=("ended_at",))


async def load_requests(conn: asyncpg.Connection, requested: Iterable[str],
                        answered: Iterable[str]) -> tuple[set[str], dict[str, GiftPriced]]:
    """In one statement: which of the `requested` ids were decided before (any status), and
    the GiftPriced kept for each of the `answered` ids still waiting for the wallet."""
    requested, answered = set(requested), set(answered)
    if not requested and not answered:
        return set(), {}
    rows = await conn.fetch(
        """SELECT request_id, CASE WHEN status = 'priced' THEN priced_event::text END AS priced
           FROM gifts WHERE request_id = ANY($1::text[]) ORDER BY request_id FOR UPDATE""",
        sorted(requested | answered))
    known = {row["request_id"] for row in rows if row["request_id"] in requested}
    priced = {row["request_id"]: GiftPriced.model_validate_json(row["priced"])
              for row in rows if row["request_id"] in answered and row["priced"] is not None}
    return known, priced


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
                          outcomes: Sequence[GiftSent | GiftFailed]) -> None:
    """The requests the wallet answered, in one statement: their status and reason
    (projection.settlement); the GiftPriced kept for the answer is dropped."""
    if not outcomes:
        return
    settled = [(outcome.request_id, *settlement(outcome)) for outcome in outcomes]
    await conn.execute(
        """UPDATE gifts AS g SET status = x.status, reason = x.reason, priced_event = NULL
           FROM unnest($1::text[], $2::text[], $3::text[]) AS x(request_id, status, reason)
           WHERE g.request_id = x.request_id""",
        *[list(column) for column in zip(*settled, strict=True)])


async def add_sent(conn: asyncpg.Connection, sent: Sequence[GiftSent]) -> None:
    """Totals and leaderboards move by increments, one statement each per batch, in key order
    (ReadTable.add)."""
    await STREAM_TOTALS.add(conn, [total_increment(s) for s in sent], TOTALS_ADDED)
    await GIFTER_SCORES.add(conn, [row for s in sent for row in score_increments(s)],
                            SCORES_ADDED)

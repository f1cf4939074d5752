"""HTTP reads of the gifting service: streams, leaderboards, gifts, the catalog."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, HTTPException, Path, Query

from services.gifting.domain.leaderboard import RANK_ORDER_SQL

IdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:@-]{1,128}$")]
Limit = Annotated[int, Query(ge=1, le=100)]


def routes(pool: asyncpg.Pool) -> list[APIRouter]:
    router = APIRouter(tags=["gifting"])

    @router.get("/streams/{stream_id}", summary="A stream: live or not, and its totals")
    async def stream(stream_id: IdPath) -> dict:
        row = await pool.fetchrow(
            """SELECT s.stream_id, s.creator_id, s.started_at, s.ended_at,
                      coalesce(t.sends, 0) AS sends, coalesce(t.gifts, 0) AS gifts,
                      coalesce(t.coins, 0) AS coins, coalesce(t.points, 0) AS points,
                      (SELECT count(*) FROM gifter_scores g
                       WHERE g.scope = 'stream' AND g.scope_id = s.stream_id) AS senders,
                      coalesce(a.adult, false) AS creator_adult
               FROM streams s LEFT JOIN stream_totals t USING (stream_id)
                    LEFT JOIN creator_ages a ON a.user_id = s.creator_id
               WHERE s.stream_id = $1""", stream_id)
        if row is None:
            raise HTTPException(404, f"unknown stream {stream_id}")
        result = dict(row)
        result["live"] = row["started_at"] is not None and row["ended_at"] is None
        return result

    @router.get("/streams/{stream_id}/leaderboard", summary="Top gifters of a stream")
    async def stream_board(stream_id: IdPath, limit: Limit = 10) -> dict:
        return {"stream_id": stream_id, "top": await _top(pool, "stream", stream_id, limit)}

    @router.get("/creators/{creator_id}/leaderboard", summary="Top gifters of a creator")
    async def creator_board(creator_id: IdPath, limit: Limit = 10) -> dict:
        return {"creator_id": creator_id, "top": await _top(pool, "creator", creator_id, limit)}

    @router.get("/gifts/{request_id}", summary="Where a gift request stands")
    async def gift(request_id: IdPath) -> dict:
        row = await pool.fetchrow(
            "SELECT request_id, sender_id, stream_id, creator_id, gift_id, quantity, coins,"
            " points, catalog_version, campaign_id, status, reason, requested_at"
            " FROM gifts WHERE request_id = $1", request_id)
        if row is None:
            raise HTTPException(404, f"unknown gift request {request_id}")
        return dict(row)

    @router.get("/catalog", summary="Gifts on sale and their current prices")
    async def catalog() -> dict:
        rows = await pool.fetch("SELECT gift_id, name, coins, catalog_version FROM catalog_gifts"
                                " WHERE NOT retired ORDER BY coins, gift_id")
        return {"gifts": [dict(row) for row in rows]}

    return [router]


async def _top(pool: asyncpg.Pool, scope: str, scope_id: str, limit: int) -> list[dict]:
    rows = await pool.fetch(
        f"""SELECT sender_id, points, coins, gifts FROM gifter_scores
            WHERE scope = $1 AND scope_id = $2
            ORDER BY {RANK_ORDER_SQL} LIMIT $3""", scope, scope_id, limit)
    return [{"rank": rank, **dict(row)} for rank, row in enumerate(rows, start=1)]

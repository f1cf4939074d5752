"""HTTP reads of the gifting service: streams, leaderboards, gifts, the catalog."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Query

from services.gifting.domain.leaderboard import RANK_ORDER_SQL, BoardScope
from services.gifting.responses import (
    Catalog,
    CatalogGift,
    CreatorLeaderboard,
    Gift,
    Gifter,
    Stream,
    StreamLeaderboard,
)
from shared.runtime.api import NOT_FOUND, UNAVAILABLE, IdPath, not_found
from shared.runtime.auth import (
    AUTH_RESPONSES,
    UNAUTHORIZED,
    VIEWER_SCOPE,
    AuthenticatedCaller,
    authenticated,
    check_may_read,
)

Limit = Annotated[int, Query(ge=1, le=100)]


def routes(pool: asyncpg.Pool) -> list[APIRouter]:
    return [_stream_routes(pool), _gift_routes(pool)]


def _stream_routes(pool: asyncpg.Pool) -> APIRouter:
    router = APIRouter(tags=["gifting"], responses={**UNAUTHORIZED, **NOT_FOUND, **UNAVAILABLE},
                       dependencies=[Depends(authenticated)])

    @router.get("/streams/{stream_id}", summary="A stream: live or not, and its totals")
    async def get_stream(stream_id: IdPath) -> Stream:
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
            raise not_found(f"unknown stream {stream_id}")
        return Stream.model_validate(
            {**dict(row), "live": row["started_at"] is not None and row["ended_at"] is None})

    @router.get("/streams/{stream_id}/leaderboard", summary="Top gifters of a stream")
    async def get_stream_leaderboard(stream_id: IdPath, limit: Limit = 10) -> StreamLeaderboard:
        if not await pool.fetchval("SELECT EXISTS (SELECT 1 FROM streams WHERE stream_id = $1)",
                                   stream_id):
            raise not_found(f"unknown stream {stream_id}")
        return StreamLeaderboard(stream_id=stream_id,
                                 top=await _top(pool, BoardScope.stream, stream_id, limit))

    @router.get("/creators/{creator_id}/leaderboard", summary="Top gifters of a creator")
    async def get_creator_leaderboard(creator_id: IdPath,
                                      limit: Limit = 10) -> CreatorLeaderboard:
        if not await pool.fetchval("SELECT EXISTS (SELECT 1 FROM streams WHERE creator_id = $1)",
                                   creator_id):
            raise not_found(f"no stream known of creator {creator_id}")
        return CreatorLeaderboard(creator_id=creator_id,
                                  top=await _top(pool, BoardScope.creator, creator_id, limit))

    return router


def _gift_routes(pool: asyncpg.Pool) -> APIRouter:
    router = APIRouter(tags=["gifting"], responses={**UNAUTHORIZED, **UNAVAILABLE},
                       dependencies=[Depends(authenticated)])

    @router.get("/gifts/{request_id}", summary="Where a gift request stands",
                responses={**AUTH_RESPONSES, **NOT_FOUND})
    async def get_gift(request_id: IdPath, caller: AuthenticatedCaller) -> Gift:
        row = await pool.fetchrow(
            "SELECT request_id, sender_id, stream_id, creator_id, gift_id, quantity, coins,"
            " points, catalog_version, campaign_id, status, reason, requested_at"
            " FROM gifts WHERE request_id = $1", request_id)
        if row is None:
            raise not_found(f"unknown gift request {request_id}")
        check_may_read(caller, VIEWER_SCOPE, row["sender_id"])
        return Gift.model_validate(dict(row))

    @router.get("/catalog", summary="Gifts on sale and their current prices")
    async def get_catalog() -> Catalog:
        rows = await pool.fetch("SELECT gift_id, name, coins, catalog_version FROM catalog_gifts"
                                " WHERE NOT retired ORDER BY coins, gift_id")
        return Catalog(gifts=[CatalogGift.model_validate(dict(row)) for row in rows])

    return router


async def _top(pool: asyncpg.Pool, scope: BoardScope, scope_id: str,
               limit: int) -> list[Gifter]:
    rows = await pool.fetch(
        f"""SELECT sender_id, points, coins, gifts FROM gifter_scores
            WHERE scope = $1 AND scope_id = $2
            ORDER BY {RANK_ORDER_SQL} LIMIT $3""", scope.value, scope_id, limit)
    return [Gifter(rank=rank, **dict(row)) for rank, row in enumerate(rows, start=1)]

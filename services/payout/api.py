"""HTTP reads of payout: creator diamonds (held, available), payouts, statements, history."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

import asyncpg
from fastapi import APIRouter, HTTPException, Path, Query

from services.payout import store
from services.payout.domain import rebuild, statement
from shared.contract.topics import PAYOUT_LEDGER
from shared.runtime import history

IdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:@-]{1,128}$")]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def routes(pool: asyncpg.Pool) -> list[APIRouter]:
    return [_diamond_routes(pool), _payout_routes(pool)]


def _diamond_routes(pool: asyncpg.Pool) -> APIRouter:
    router = APIRouter(tags=["payout"])

    @router.get("/creators/{creator_id}", summary="A creator's diamonds")
    async def creator(
        creator_id: IdPath,
        as_of: Annotated[datetime | None, Query(
            description="Log time to judge the hold at; default: the creator's latest event")]
        = None,
    ) -> dict:
        state = await store.load_creator(pool, creator_id)
        if state is None or state.clock is None:
            raise HTTPException(404, f"no diamonds recorded for creator {creator_id}")
        at = _aware(as_of) if as_of else state.clock
        if at != state.clock:
            # The snapshot keeps totals of its earnings, matured and held at its clock;
            # judging the hold at another time needs each earning.
            state = state.with_earnings(await store.load_all_earnings(pool, creator_id))
        return {"creator_id": creator_id, "as_of": at, "verified": state.verified,
                "earned": state.earned_diamonds, "held": state.held(at),
                "available": state.available(at), "withdrawable": state.withdrawable(at),
                "reserved": state.reserved_diamonds, "withdrawn": state.withdrawn_diamonds,
                "clawed_back": state.clawed_back_diamonds, "debt": state.debt_diamonds}

    @router.get("/creators/{creator_id}/as-of",
                summary="A creator's diamonds as they were at a moment of log time")
    async def creator_as_of(creator_id: IdPath, at: Annotated[datetime, Query()]) -> dict:
        moment = _aware(at)
        events = [PAYOUT_LEDGER.adapter.validate_json(payload)
                  for payload in await history.prefix_until(pool, creator_id, moment)]
        if not events:
            raise HTTPException(404, f"no diamonds for creator {creator_id} at "
                                     f"{moment.isoformat()}")
        state = rebuild(creator_id, events)
        return {"creator_id": creator_id, "as_of": moment, "events": len(events),
                "earned": state.earned_diamonds, "held": state.held(moment),
                "available": state.available(moment), "reserved": state.reserved_diamonds,
                "withdrawn": state.withdrawn_diamonds, "clawed_back": state.clawed_back_diamonds,
                "debt": state.debt_diamonds}

    return router


def _payout_routes(pool: asyncpg.Pool) -> APIRouter:
    router = APIRouter(tags=["payout"])

    @router.get("/creators/{creator_id}/payouts", summary="A creator's payouts, newest first")
    async def creator_payouts(creator_id: IdPath,
                              limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict:
        rows = await pool.fetch("SELECT * FROM payouts WHERE creator_id = $1"
                                " ORDER BY requested_at DESC, payout_id LIMIT $2",
                                creator_id, limit)
        return {"creator_id": creator_id, "payouts": [dict(row) for row in rows]}

    @router.get("/payouts/{payout_id}", summary="One payout and where it stands")
    async def one_payout(payout_id: IdPath) -> dict:
        row = await pool.fetchrow("SELECT * FROM payouts WHERE payout_id = $1", payout_id)
        if row is None:
            raise HTTPException(404, f"unknown payout {payout_id}")
        return dict(row)

    @router.get("/creators/{creator_id}/statement",
                summary="Earnings, clawbacks, payouts and fees over a period [from, to)")
    async def creator_statement(
        creator_id: IdPath,
        start: Annotated[datetime | None, Query(alias="from")] = None,
        end: Annotated[datetime | None, Query(alias="to")] = None,
    ) -> dict:
        period_start, period_end = _aware(start or EPOCH), _aware(end or FAR_FUTURE)
        if period_start > period_end:
            raise HTTPException(422, "`from` must not be after `to`")
        rows = await pool.fetch("SELECT payload::text AS payload FROM event_history"
                                " WHERE entity = $1 ORDER BY seq", creator_id)
        events = [PAYOUT_LEDGER.adapter.validate_json(row["payload"]) for row in rows]
        result = asdict(statement(events, period_start, period_end))
        result["paid_minor"] = sum(item["net_minor"] for item in result["paid"])
        result["withdrawn_diamonds"] = result["paid_diamonds"]
        return result

    @router.get("/creators/{creator_id}/history", summary="Every payout decision, oldest first")
    async def creator_history(creator_id: IdPath,
                              after: Annotated[int, Query(ge=0)] = 0,
                              limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict:
        rows = await history.page(pool, creator_id, after_seq=after, limit=limit)
        return {"creator_id": creator_id,
                "items": [{"seq": row["seq"], **row["payload"]} for row in rows],
                "next": rows[-1]["seq"] if len(rows) == limit else None}

    return router


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

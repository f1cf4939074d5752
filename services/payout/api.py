"""HTTP reads of payout: creator diamonds (held, available), payouts, statements, history."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Query

from services.payout import store
from services.payout.domain import rebuild, statement
from services.payout.domain.statement import STATEMENT_EVENT_TYPES
from services.payout.responses import (
    CreatorAsOf,
    CreatorDiamonds,
    CreatorHistory,
    CreatorPayouts,
    CreatorStatement,
    Payout,
    StatementSummary,
)
from shared.contract.topics import PAYOUT_LEDGER
from shared.runtime import history
from shared.runtime.api import (
    EARLIEST,
    LATEST,
    NOT_FOUND,
    UNAVAILABLE,
    Cursor,
    IdPath,
    Moment,
    entries,
    invalid_query,
    next_cursor,
    not_found,
)
from shared.runtime.auth import (
    AUTH_RESPONSES,
    CREATOR_SCOPE,
    AuthenticatedCaller,
    check_may_read,
    reader_of,
)

PageLimit = Annotated[int, Query(ge=1, le=500)]


def routes(pool: asyncpg.Pool) -> list[APIRouter]:
    return [_diamond_routes(pool), _payout_routes(pool), _statement_routes(pool)]


def _router(*, per_creator: bool = True) -> APIRouter:
    """`per_creator`: every route names the creator in its path, whose scope it checks."""
    return APIRouter(tags=["payout"], responses={**AUTH_RESPONSES, **NOT_FOUND, **UNAVAILABLE},
                     dependencies=[Depends(reader_of(CREATOR_SCOPE, "creator_id"))]
                     if per_creator else [])


def _diamond_routes(pool: asyncpg.Pool) -> APIRouter:
    router = _router()

    @router.get("/creators/{creator_id}", summary="A creator's diamonds")
    async def get_creator(
        creator_id: IdPath,
        as_of: Annotated[Moment | None, Query(
            description="Log time to judge the hold at; default: the creator's latest event")]
        = None,
    ) -> CreatorDiamonds:
        state = await store.load_creator(pool, creator_id)
        if state is None or state.clock is None:
            raise not_found(f"no diamonds recorded for creator {creator_id}")
        at = as_of or state.clock
        if at != state.clock:
            # The snapshot keeps totals of its earnings, matured and held at its clock;
            # judging the hold at another time needs each earning.
            state = state.with_earnings(await store.load_all_earnings(pool, creator_id))
        return CreatorDiamonds(
            creator_id=creator_id, as_of=at, verified=state.verified,
            earned=state.earned_diamonds, held=state.held(at), available=state.available(at),
            withdrawable=state.withdrawable(at), reserved=state.reserved_diamonds,
            withdrawn=state.withdrawn_diamonds, clawed_back=state.clawed_back_diamonds,
            debt=state.debt_diamonds)

    @router.get("/creators/{creator_id}/as-of",
                summary="A creator's diamonds as they were at a moment of log time")
    async def get_creator_as_of(creator_id: IdPath,
                                at: Annotated[Moment, Query()]) -> CreatorAsOf:
        events = [PAYOUT_LEDGER.adapter.validate_json(payload)
                  for payload in await history.prefix_until(pool, creator_id, at)]
        if not events:
            raise not_found(f"no diamonds for creator {creator_id} at {at.isoformat()}")
        state = rebuild(creator_id, events)
        return CreatorAsOf(
            creator_id=creator_id, as_of=at, events=len(events), earned=state.earned_diamonds,
            held=state.held(at), available=state.available(at),
            reserved=state.reserved_diamonds, withdrawn=state.withdrawn_diamonds,
            clawed_back=state.clawed_back_diamonds, debt=state.debt_diamonds)

    return router


def _payout_routes(pool: asyncpg.Pool) -> APIRouter:
    router = _router(per_creator=False)
    own_creator = [Depends(reader_of(CREATOR_SCOPE, "creator_id"))]

    @router.get("/creators/{creator_id}/payouts", summary="A creator's payouts, newest first",
                dependencies=own_creator)
    async def get_creator_payouts(creator_id: IdPath, limit: PageLimit = 50) -> CreatorPayouts:
        rows = await pool.fetch("SELECT * FROM payouts WHERE creator_id = $1"
                                " ORDER BY requested_at DESC, payout_id LIMIT $2",
                                creator_id, limit)
        if not rows and not await history.known(pool, creator_id):
            raise not_found(f"no payout decision recorded for creator {creator_id}")
        return CreatorPayouts(creator_id=creator_id,
                              payouts=[Payout.model_validate(dict(row)) for row in rows])

    @router.get("/payouts/{payout_id}", summary="One payout and where it stands")
    async def get_payout(payout_id: IdPath, caller: AuthenticatedCaller) -> Payout:
        row = await pool.fetchrow("SELECT * FROM payouts WHERE payout_id = $1", payout_id)
        if row is None:
            raise not_found(f"unknown payout {payout_id}")
        check_may_read(caller, CREATOR_SCOPE, row["creator_id"])
        return Payout.model_validate(dict(row))

    @router.get("/creators/{creator_id}/history", summary="Every payout decision, oldest first",
                dependencies=own_creator)
    async def get_creator_history(creator_id: IdPath, after: Cursor = 0,
                                  limit: PageLimit = 50) -> CreatorHistory:
        rows = await history.page(pool, creator_id, after_seq=after, limit=limit)
        if not rows and not await history.known(pool, creator_id):
            raise not_found(f"no payout decision recorded for creator {creator_id}")
        return CreatorHistory.model_validate({"creator_id": creator_id,
                                              "items": entries(PAYOUT_LEDGER, rows),
                                              "next": next_cursor(rows, limit)})

    return router


def _statement_routes(pool: asyncpg.Pool) -> APIRouter:
    router = _router()

    @router.get("/creators/{creator_id}/statement",
                summary="Earnings, clawbacks, payouts and fees over a period [from, to), in pages")
    async def get_creator_statement(
        creator_id: IdPath,
        start: Annotated[Moment | None, Query(
            alias="from", description="Start of the period (included); default: the beginning")]
        = None,
        end: Annotated[Moment | None, Query(
            alias="to", description="End of the period (excluded); default: no end")] = None,
        after: Cursor = 0,
        limit: Annotated[int, Query(ge=1, le=500, description="Lines per page")] = 100,
    ) -> CreatorStatement:
        period_start, period_end = start or EARLIEST, end or LATEST
        if period_start > period_end:
            raise invalid_query("from", start, "`from` must not be after `to`")
        # One snapshot of the creator's history: the summary and the lines agree.
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read",
                                                            readonly=True):
            if not await history.known(conn, creator_id):
                raise not_found(f"no payout decision recorded for creator {creator_id}")
            rows = await history.page(conn, creator_id, after_seq=after, limit=limit,
                                      types=STATEMENT_EVENT_TYPES, since=period_start,
                                      until=period_end)
            summary = (await _summary(conn, creator_id, period_start, period_end)
                       if after == 0 else None)
        return CreatorStatement.model_validate({
            "creator_id": creator_id, "period_start": period_start, "period_end": period_end,
            "summary": summary, "lines": entries(PAYOUT_LEDGER, rows),
            "next": next_cursor(rows, limit)})

    return router


async def _summary(conn: asyncpg.Connection, creator_id: str, period_start: datetime,
                   period_end: datetime) -> StatementSummary:
    """Folds the creator's events from the start (the opening balance needs them all) up to
    the period's end; events after it change nothing in the statement."""
    rows = await conn.fetch("SELECT payload::text AS payload FROM event_history"
                            " WHERE entity = $1 AND occurred_at < $2 ORDER BY seq",
                            creator_id, period_end)
    events = [PAYOUT_LEDGER.adapter.validate_json(row["payload"]) for row in rows]
    return StatementSummary.model_validate(asdict(statement(events, period_start, period_end)))

"""HTTP reads of the wallet: balances by bucket and paginated history with lots and rates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import asyncpg
from fastapi import APIRouter, HTTPException, Path, Query

from services.wallet.domain import balance, coins_by_source, replay
from shared.contract.topics import WALLET_LEDGER
from shared.runtime import history

UserId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:@-]{1,128}$")]


def routes(pool: asyncpg.Pool) -> list[APIRouter]:
    router = APIRouter(tags=["wallet"])

    @router.get("/wallets/{user_id}", summary="Coin balance by bucket")
    async def wallet(user_id: UserId) -> dict:
        row = await pool.fetchrow(
            "SELECT user_id, balance, purchased_coins, promo_coins, debt, frozen, frozen_reason,"
            " adult, daily_limit_coins, monthly_limit_coins, updated_at"
            " FROM wallet_balances WHERE user_id = $1", user_id)
        if row is None:
            raise HTTPException(404, f"no wallet for {user_id}")
        return dict(row)

    @router.get("/wallets/{user_id}/as-of",
                summary="The wallet as it was at a moment of log time, from its own events")
    async def wallet_as_of(user_id: UserId, at: Annotated[datetime, Query()]) -> dict:
        moment = at if at.tzinfo else at.replace(tzinfo=UTC)
        events = [WALLET_LEDGER.adapter.validate_json(payload)
                  for payload in await history.prefix_until(pool, user_id, moment)]
        if not events:
            raise HTTPException(404, f"no wallet for {user_id} at {moment.isoformat()}")
        wallet = replay(user_id, events)
        purchased, promo = coins_by_source(wallet)
        return {"user_id": user_id, "as_of": moment, "events": len(events),
                "balance": balance(wallet), "purchased_coins": purchased, "promo_coins": promo,
                "debt": wallet.debt, "frozen": wallet.frozen}

    @router.get("/wallets/{user_id}/history",
                summary="Every change of the wallet, oldest first, with lots and rates")
    async def wallet_history(
        user_id: UserId,
        after: Annotated[int, Query(ge=0, description="Cursor: `next` of the previous page")] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict:
        rows = await history.page(pool, user_id, after_seq=after, limit=limit)
        items = [{"seq": row["seq"], **row["payload"]} for row in rows]
        return {"user_id": user_id, "items": items,
                "next": rows[-1]["seq"] if len(rows) == limit else None}

    return [router]

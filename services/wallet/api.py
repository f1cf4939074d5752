"""HTTP reads of the wallet: balances by bucket and paginated history with lots and rates."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Query

from services.wallet.domain import balance, coins_by_source, replay
from services.wallet.responses import WalletAsOf, WalletBalance, WalletHistory
from shared.contract.topics import WALLET_LEDGER
from shared.runtime import history
from shared.runtime.api import (
    NOT_FOUND,
    UNAVAILABLE,
    Cursor,
    IdPath,
    Moment,
    entries,
    next_cursor,
    not_found,
)
from shared.runtime.auth import AUTH_RESPONSES, VIEWER_SCOPE, reader_of


def routes(pool: asyncpg.Pool) -> list[APIRouter]:
    router = APIRouter(tags=["wallet"], responses={**AUTH_RESPONSES, **NOT_FOUND, **UNAVAILABLE},
                       dependencies=[Depends(reader_of(VIEWER_SCOPE, "user_id"))])

    @router.get("/wallets/{user_id}", summary="Coin balance by bucket")
    async def get_wallet(user_id: IdPath) -> WalletBalance:
        row = await pool.fetchrow(
            "SELECT user_id, balance, purchased_coins, promo_coins, debt, frozen, frozen_reason,"
            " adult, daily_limit_coins, monthly_limit_coins, updated_at"
            " FROM wallet_balances WHERE user_id = $1", user_id)
        if row is None:
            raise not_found(f"no wallet for {user_id}")
        return WalletBalance.model_validate(dict(row))

    @router.get("/wallets/{user_id}/as-of",
                summary="The wallet as it was at a moment of log time, from its own events")
    async def get_wallet_as_of(user_id: IdPath, at: Annotated[Moment, Query()]) -> WalletAsOf:
        events = [WALLET_LEDGER.adapter.validate_json(payload)
                  for payload in await history.prefix_until(pool, user_id, at)]
        if not events:
            raise not_found(f"no wallet for {user_id} at {at.isoformat()}")
        wallet = replay(user_id, events)
        purchased, promo = coins_by_source(wallet)
        return WalletAsOf(user_id=user_id, as_of=at, events=len(events), balance=balance(wallet),
                          purchased_coins=purchased, promo_coins=promo, debt=wallet.debt,
                          frozen=wallet.frozen)

    @router.get("/wallets/{user_id}/history",
                summary="Every change of the wallet, oldest first, with lots and rates")
    async def get_wallet_history(
        user_id: IdPath, after: Cursor = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> WalletHistory:
        rows = await history.page(pool, user_id, after_seq=after, limit=limit)
        if not rows and not await history.known(pool, user_id):
            raise not_found(f"no wallet for {user_id}")
        return WalletHistory.model_validate({"user_id": user_id,
                                             "items": entries(WALLET_LEDGER, rows),
                                             "next": next_cursor(rows, limit)})

    return [router]

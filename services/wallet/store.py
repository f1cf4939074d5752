"""SQL of the wallet schema: the rows themselves are services/wallet/projection.py's."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import asyncpg

from services.wallet.domain import SpendingPolicy, Wallet
from services.wallet.projection import (
    SPENDING_POLICY,
    WALLET_BALANCES,
    balance_row,
    policy_row,
    wallets,
)

__all__ = ["load_policy", "save_balances", "save_policy", "wallets"]


async def load_policy(conn: asyncpg.Connection) -> SpendingPolicy | None:
    row = await conn.fetchrow("SELECT rate_version, daily_coins, monthly_coins FROM "
                              "spending_policy")
    return None if row is None else SpendingPolicy(row["rate_version"], row["daily_coins"],
                                                   row["monthly_coins"])


async def save_policy(conn: asyncpg.Connection, policy: SpendingPolicy) -> None:
    await SPENDING_POLICY.upsert(conn, [policy_row(policy)])


async def save_balances(conn: asyncpg.Connection, changed: Mapping[str, Wallet],
                        at: Mapping[str, datetime], policy: SpendingPolicy | None) -> None:
    await WALLET_BALANCES.upsert(conn, [balance_row(user_id, wallet, at[user_id], policy)
                                        for user_id, wallet in changed.items()])

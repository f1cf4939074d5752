"""SQL of the wallet schema."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import asyncpg

from services.wallet.domain import SpendingPolicy, Wallet, balance, effective_limit
from shared.contract.events.users import LimitPeriod
from shared.runtime.aggregates import SnapshotTable

wallets = SnapshotTable("wallets", Wallet)


async def load_policy(conn: asyncpg.Connection) -> SpendingPolicy | None:
    row = await conn.fetchrow("SELECT rate_version, daily_coins, monthly_coins FROM "
                              "spending_policy")
    return None if row is None else SpendingPolicy(row["rate_version"], row["daily_coins"],
                                                   row["monthly_coins"])


async def save_policy(conn: asyncpg.Connection, policy: SpendingPolicy) -> None:
    await conn.execute(
        """INSERT INTO spending_policy (singleton, rate_version, daily_coins, monthly_coins)
           VALUES (true, $1, $2, $3)
           ON CONFLICT (singleton) DO UPDATE SET rate_version = EXCLUDED.rate_version,
               daily_coins = EXCLUDED.daily_coins, monthly_coins = EXCLUDED.monthly_coins""",
        policy.rate_version, policy.daily_coins, policy.monthly_coins)


def buckets(wallet: Wallet) -> tuple[int, int]:
    """(purchased, promo) coins still spendable."""
    return (sum(lot.remaining for lot in wallet.purchases),
            sum(lot.remaining for lot in wallet.promos))


async def save_balances(conn: asyncpg.Connection, changed: Mapping[str, Wallet],
                        at: Mapping[str, datetime], policy: SpendingPolicy | None) -> None:
    if not changed:
        return
    rows = []
    for user_id, wallet in changed.items():
        purchased, promo = buckets(wallet)
        rows.append((user_id, balance(wallet), purchased, promo, wallet.debt, wallet.frozen,
                     wallet.frozen_reason.value if wallet.frozen_reason else None, at[user_id],
                     wallet.adult, effective_limit(wallet, LimitPeriod.daily, policy),
                     effective_limit(wallet, LimitPeriod.monthly, policy)))
    await conn.execute(
        """INSERT INTO wallet_balances (user_id, balance, purchased_coins, promo_coins, debt,
                                        frozen, frozen_reason, updated_at, adult,
                                        daily_limit_coins, monthly_limit_coins)
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[],
                                $5::bigint[], $6::boolean[], $7::text[], $8::timestamptz[],
                                $9::boolean[], $10::bigint[], $11::bigint[])
           ON CONFLICT (user_id) DO UPDATE
           SET balance = EXCLUDED.balance, purchased_coins = EXCLUDED.purchased_coins,
               promo_coins = EXCLUDED.promo_coins, debt = EXCLUDED.debt,
               frozen = EXCLUDED.frozen, frozen_reason = EXCLUDED.frozen_reason,
               updated_at = EXCLUDED.updated_at, adult = EXCLUDED.adult,
               daily_limit_coins = EXCLUDED.daily_limit_coins,
               monthly_limit_coins = EXCLUDED.monthly_limit_coins""",
        *[list(column) for column in zip(*rows, strict=True)])

"""SQL of the wallet schema: the rows themselves are services/wallet/projection.py's.

`wallets` rows leave out the decided request ids and the lots' funded gifts (see
projection.py): the handler loads the few a batch looks up with the functions below."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import asyncpg

from services.wallet.domain import SpendingPolicy, Wallet
from services.wallet.projection import (
    LOT_FUNDED_GIFTS,
    SPENDING_POLICY,
    WALLET_BALANCES,
    WALLET_REQUESTS,
    balance_row,
    policy_row,
    wallets,
)
from shared.contract.events.wallet import FundedGift

__all__ = ["FUNDED_GIFTS_SQL", "REQUESTS_SQL", "load_funded_gifts", "load_policy",
           "load_requests", "save_balances", "save_lookups", "save_policy", "wallets"]


REQUESTS_SQL = """SELECT r.user_id, r.request_id
    FROM unnest($1::text[], $2::text[]) AS k(user_id, request_id)
    JOIN wallet_requests r USING (user_id, request_id)"""
"""The decided ones among ($1 user ids, $2 request ids): one probe of the key per pair."""

FUNDED_GIFTS_SQL = """SELECT g.user_id, g.purchase_id, g.request_id, g.creator_id, g.coins
    FROM unnest($1::text[], $2::text[]) AS k(user_id, purchase_id)
    JOIN lot_funded_gifts g USING (user_id, purchase_id)
    ORDER BY g.user_id, g.purchase_id, g.position_in_lot"""
"""The funded gifts of ($1 user ids, $2 purchase ids): a range of the key's prefix per lot."""


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


async def load_requests(conn: asyncpg.Connection | asyncpg.Pool,
                        keys: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    """Which of these (user_id, request_id) the wallets decided, by user."""
    pairs = sorted(set(keys))
    if not pairs:
        return {}
    rows = await conn.fetch(REQUESTS_SQL, [u for u, _ in pairs], [r for _, r in pairs])
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row["user_id"], set()).add(row["request_id"])
    return found


async def load_funded_gifts(conn: asyncpg.Connection | asyncpg.Pool,
                            keys: Iterable[tuple[str, str]]
                            ) -> dict[str, dict[str, list[FundedGift]]]:
    """Every funded gift of these (user_id, purchase_id) lots, in the order spent: by user,
    then by purchase_id."""
    pairs = sorted(set(keys))
    if not pairs:
        return {}
    rows = await conn.fetch(FUNDED_GIFTS_SQL, [u for u, _ in pairs], [p for _, p in pairs])
    found: dict[str, dict[str, list[FundedGift]]] = {}
    for row in rows:
        found.setdefault(row["user_id"], {}).setdefault(row["purchase_id"], []).append(
            FundedGift(request_id=row["request_id"], creator_id=row["creator_id"],
                       coins=row["coins"]))
    return found


async def save_lookups(conn: asyncpg.Connection, requests: list[tuple],
                       gifts: list[tuple]) -> None:
    """New `wallet_requests` and `lot_funded_gifts` rows (projection.lookup_rows): a key that
    exists is an error, since each is decided once."""
    await WALLET_REQUESTS.insert(conn, requests)
    await LOT_FUNDED_GIFTS.insert(conn, gifts)

"""SQL of the wallet schema: the rows themselves are services/wallet/projection.py's and
kept_apart.py's.

`wallets` rows leave out what a wallet only looks up one by one (domain/lookups.py): its
decided requests, its lots without coins and its lots' funded gifts. The handler loads the few
a batch looks up with the functions below."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import asyncpg

from services.wallet.domain import (
    DEFAULT_PRICES,
    PriceList,
    PromoLot,
    PurchaseLot,
    SpendingPolicy,
    Wallet,
)
from services.wallet.kept_apart import (
    LOT_FUNDED_GIFTS,
    PROMO_LOTS,
    PURCHASE_LOTS,
    WALLET_REQUESTS,
    ApartRows,
    funded_gift_of,
    promo_lot_of,
    purchase_lot_of,
)
from services.wallet.projection import (
    COIN_PACKAGE_PRICES,
    SPENDING_POLICY,
    WALLET_BALANCES,
    balance_row,
    policy_row,
    price_of_row,
    wallets,
)
from shared.contract.events.wallet import FundedGift

__all__ = ["FUNDED_GIFTS_SQL", "LOT_SQL", "REQUESTS_SQL", "load_funded_gifts", "load_lots",
           "load_policy", "load_prices", "load_requests", "policy_known", "save_apart",
           "save_balances", "save_policy", "save_prices", "wallets"]

REQUESTS_SQL = """SELECT r.user_id, r.request_id
    FROM unnest($1::text[], $2::text[]) AS k(user_id, request_id)
    JOIN wallet_requests r USING (user_id, request_id)"""
"""The decided ones among ($1 user ids, $2 request ids): one probe of the key per pair."""

LOT_SQL = """SELECT l.* FROM unnest($1::text[], $2::text[]) AS k(user_id, {id})
    JOIN {table} l USING (user_id, {id})"""
"""The lots of ($1 user ids, $2 lot ids) in `table`: one probe of the key per pair."""

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


async def policy_known(conn: asyncpg.Connection) -> bool:
    """A spending policy has been projected from policy.changes."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT FROM spending_policy)"))


async def save_policy(conn: asyncpg.Connection, policy: SpendingPolicy) -> None:
    await SPENDING_POLICY.upsert(conn, [policy_row(policy)])


async def load_prices(conn: asyncpg.Connection | asyncpg.Pool,
                      rate_versions: Iterable[str]) -> PriceList:
    """The default price list with every stored price of these rate_versions: whole versions,
    so a purchase's rate_version is known exactly when some price of it is."""
    versions = sorted(set(rate_versions))
    if not versions:
        return DEFAULT_PRICES
    rows = await conn.fetch(
        f"SELECT {', '.join(COIN_PACKAGE_PRICES.column_names)} FROM coin_package_prices"
        " WHERE rate_version = ANY($1::text[])", versions)
    return DEFAULT_PRICES.merged(PriceList.of(price_of_row(row) for row in rows))


async def save_prices(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    """New prices (projection.price_row); one already stored is the same price, left as is."""
    await COIN_PACKAGE_PRICES.insert(conn, rows, unless_exists=COIN_PACKAGE_PRICES.keys)


async def save_balances(conn: asyncpg.Connection, changed: Mapping[str, Wallet],
                        at: Mapping[str, datetime], policy: SpendingPolicy | None) -> None:
    await WALLET_BALANCES.upsert(conn, [balance_row(user_id, wallet, at[user_id], policy)
                                        for user_id, wallet in changed.items()])


def _columns(pairs: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    return [first for first, _ in pairs], [second for _, second in pairs]


async def load_requests(conn: asyncpg.Connection | asyncpg.Pool,
                        keys: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    """Which of these (user_id, request_id) the wallets decided, by user."""
    pairs = sorted(set(keys))
    if not pairs:
        return {}
    found: dict[str, set[str]] = {}
    for row in await conn.fetch(REQUESTS_SQL, *_columns(pairs)):
        found.setdefault(row["user_id"], set()).add(row["request_id"])
    return found


async def load_lots(conn: asyncpg.Connection | asyncpg.Pool,
                    purchases: Iterable[tuple[str, str]], promos: Iterable[tuple[str, str]]
                    ) -> dict[str, list[PurchaseLot | PromoLot]]:
    """The stored lots of these (user_id, purchase_id) and (user_id, grant_id), by user;
    unknown ones are left out. Purchase lots come with their funded gifts kept apart."""
    found: dict[str, list[PurchaseLot | PromoLot]] = {}
    for table, lot_id, of, keys in (
            (PURCHASE_LOTS.name, "purchase_id", purchase_lot_of, purchases),
            (PROMO_LOTS.name, "grant_id", promo_lot_of, promos)):
        pairs = sorted(set(keys))
        if pairs:
            for row in await conn.fetch(LOT_SQL.format(table=table, id=lot_id),
                                        *_columns(pairs)):
                found.setdefault(row["user_id"], []).append(of(row))
    return found


async def load_funded_gifts(conn: asyncpg.Connection | asyncpg.Pool,
                            keys: Iterable[tuple[str, str]]
                            ) -> dict[str, dict[str, list[FundedGift]]]:
    """Every funded gift of these (user_id, purchase_id) lots, in the order spent: by user,
    then by purchase_id."""
    pairs = sorted(set(keys))
    if not pairs:
        return {}
    found: dict[str, dict[str, list[FundedGift]]] = {}
    for row in await conn.fetch(FUNDED_GIFTS_SQL, *_columns(pairs)):
        found.setdefault(row["user_id"], {}).setdefault(row["purchase_id"], []).append(
            funded_gift_of(row))
    return found


async def save_apart(conn: asyncpg.Connection, rows: ApartRows) -> None:
    """A batch's rows apart (kept_apart.changed_rows): requests and funded gifts are new, each
    decided once, so a key that exists is an error; lots replace their stored row."""
    await WALLET_REQUESTS.insert(conn, rows.requests)
    await PURCHASE_LOTS.upsert(conn, rows.purchases)
    await PROMO_LOTS.upsert(conn, rows.promos)
    await LOT_FUNDED_GIFTS.insert(conn, rows.gifts)

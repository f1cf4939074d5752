"""The read tables of what a wallet's snapshot leaves out (domain/lookups.py), and their rows.

    wallet_requests    every gift request a wallet decided: the once-per-request check
    purchase_lots      every purchase lot, as its events left it: a lot without coins is
    promo_lots         found here by a repeated credit or a clawback; likewise promo lots
    lot_funded_gifts   every gift a purchase lot funded: what its clawback lists

Requests and funded gifts are written once, when decided; a lot's row changes with the lot.
The live handler writes the rows a batch adds or changes (`changed_rows`), a rebuild every
row of every wallet, from the same row functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from services.wallet.domain import PromoLot, PurchaseLot, Wallet
from services.wallet.domain.evolve import PurchaseDraft
from shared.contract.events.wallet import ClawbackKind, FundedGift
from shared.readmodel import ReadTable

WALLET_REQUESTS = ReadTable(
    "wallet_requests", (("user_id", "text"), ("request_id", "text")),
    keys=("user_id", "request_id"))
"""Every gift request a wallet decided (spent or rejected)."""

PURCHASE_LOTS = ReadTable(
    "purchase_lots",
    (("user_id", "text"), ("purchase_id", "text"), ("coins", "bigint"),
     ("amount_minor", "bigint"), ("currency", "text"), ("rate_version", "text"),
     ("acquired_at", "timestamptz"), ("used", "bigint"), ("clawed_back", "text"),
     ("gifts_funded", "bigint")),
    keys=("user_id", "purchase_id"))

PROMO_LOTS = ReadTable(
    "promo_lots",
    (("user_id", "text"), ("grant_id", "text"), ("coins", "bigint"),
     ("expires_at", "timestamptz"), ("granted_at", "timestamptz"), ("used", "bigint"),
     ("expired", "boolean")),
    keys=("user_id", "grant_id"))

LOT_FUNDED_GIFTS = ReadTable(
    "lot_funded_gifts",
    (("user_id", "text"), ("purchase_id", "text"), ("request_id", "text"),
     ("creator_id", "text"), ("coins", "bigint"), ("position_in_lot", "bigint")),
    keys=("user_id", "purchase_id", "request_id"))
"""With the coins from that lot, in `position_in_lot` order. Kept once the lot is spent: a
refund may come long after."""

TABLES = (WALLET_REQUESTS, PURCHASE_LOTS, PROMO_LOTS, LOT_FUNDED_GIFTS)


def purchase_lot_row(user_id: str, lot: PurchaseLot) -> tuple:
    return (user_id, lot.purchase_id, lot.coins, lot.amount_minor, lot.currency,
            lot.rate_version, lot.acquired_at, lot.used,
            lot.clawed_back.value if lot.clawed_back else None, lot.gifts_funded)


def purchase_lot_of(row: Any) -> PurchaseLot:
    """The lot of a stored row, its funded gifts kept apart."""
    return PurchaseLot(row["purchase_id"], row["coins"], row["amount_minor"], row["currency"],
                       row["rate_version"], row["acquired_at"], row["used"],
                       clawed_back=ClawbackKind(row["clawed_back"]) if row["clawed_back"]
                       else None, funded_apart=row["gifts_funded"])


def promo_lot_row(user_id: str, lot: PromoLot) -> tuple:
    return (user_id, lot.grant_id, lot.coins, lot.expires_at, lot.granted_at, lot.used,
            lot.expired)


def promo_lot_of(row: Any) -> PromoLot:
    return PromoLot(row["grant_id"], row["coins"], row["expires_at"], row["granted_at"],
                    row["used"], row["expired"])


def funded_gift_rows(user_id: str, lot: PurchaseLot | PurchaseDraft, since: int = 0
                     ) -> list[tuple]:
    """The rows of the lot's funded gifts from position `since` on (those in `gifts`)."""
    first = lot.funded_apart
    return [(user_id, lot.purchase_id, gift.request_id, gift.creator_id, gift.coins, position)
            for position, gift in enumerate(lot.gifts[max(0, since - first):],
                                            max(first, since))]


def funded_gift_of(row: Any) -> FundedGift:
    return FundedGift(request_id=row["request_id"], creator_id=row["creator_id"],
                      coins=row["coins"])


@dataclass
class ApartRows:
    """Rows of the four tables, in TABLES' order."""

    requests: list[tuple] = field(default_factory=list)
    purchases: list[tuple] = field(default_factory=list)
    promos: list[tuple] = field(default_factory=list)
    gifts: list[tuple] = field(default_factory=list)

    def by_table(self) -> dict[str, list[tuple]]:
        return {WALLET_REQUESTS.name: self.requests, PURCHASE_LOTS.name: self.purchases,
                PROMO_LOTS.name: self.promos, LOT_FUNDED_GIFTS.name: self.gifts}


def changed_rows(wallets: Iterable[tuple[str, Wallet, Wallet | None]]) -> ApartRows:
    """The rows that each (user_id, wallet, since) has and `since` (the same wallet earlier,
    None: a new one) had not, or had otherwise: new requests and funded gifts, new and changed
    lots."""
    rows = ApartRows()
    for user_id, wallet, since in wallets:
        before = since or Wallet(user_id)
        rows.requests.extend((user_id, request_id)
                             for request_id in sorted(wallet.requests - before.requests))
        purchases = {lot.purchase_id: lot for lot in before.purchases}
        for lot in wallet.purchases:
            old = purchases.get(lot.purchase_id)
            row = purchase_lot_row(user_id, lot)
            if old is None or purchase_lot_row(user_id, old) != row:
                rows.purchases.append(row)
            rows.gifts.extend(funded_gift_rows(user_id, lot, old.gifts_funded if old else 0))
        promos = {lot.grant_id: lot for lot in before.promos}
        for promo in wallet.promos:
            row = promo_lot_row(user_id, promo)
            old_promo = promos.get(promo.grant_id)
            if old_promo is None or promo_lot_row(user_id, old_promo) != row:
                rows.promos.append(row)
    return rows

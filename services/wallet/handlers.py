"""The wallet's batch handler: load the batch's wallets (locked by the runtime), decide event by
event, save, emit.

A wallet's snapshot row keeps only what decisions read in bulk (domain/lookups.py): its decided
requests, its lots without coins and its lots' funded gifts are rows of their own
(kept_apart.py). Before deciding, the handler brings back those the batch's decisions look up
one by one (the request ids its GiftPriced carry, the lots its credits and clawbacks name, the
funded gifts of the lots its refunds and chargebacks name), so decide() sees the same answers
as with the whole wallet in memory, and a batch writes only the rows it adds or changes,
whatever the viewer's history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from services.wallet import store
from services.wallet.domain import (
    PriceList,
    SpendingPolicy,
    Wallet,
    decide,
    fold,
    price_conflict,
    price_key,
    price_of,
    with_lookups,
)
from services.wallet.kept_apart import changed_rows
from services.wallet.projection import adds_price, price_row
from shared.contract.envelope import Event
from shared.contract.events.deadletter import DeadLetterReason
from shared.contract.events.gifting import GiftPriced
from shared.contract.events.payments import (
    PurchaseChargedBack,
    PurchaseCompleted,
    PurchaseRefunded,
)
from shared.contract.events.policy import CoinPackagePriced, SpendingPolicySet
from shared.contract.events.promotions import PromoCoinsGranted
from shared.contract.events.users import AgeVerified, SpendingLimitSet
from shared.contract.events.wallet import LotKind
from shared.runtime.unit import Inbound, Unit

WALLET_INPUTS = (PurchaseCompleted, PurchaseRefunded, PurchaseChargedBack, PromoCoinsGranted,
                 GiftPriced, AgeVerified, SpendingLimitSet)
"""Inputs decided per wallet. Everything else on the consumed topics is not the wallet's
business (policy is handled apart: the spending caps and the coin package price list; GiftSent,
CreatorVerified, ... are ignored)."""


def wallets_of(event: Event) -> list[str]:
    """The wallet an input decides for: the runtime locks it before the batch is handled."""
    return [event.key] if isinstance(event, WALLET_INPUTS) else []


def requests_needed(event: Event) -> list[tuple[str, str]]:
    """(user_id, request_id) of the decided requests deciding this event looks up."""
    return [(event.sender_id, event.request_id)] if isinstance(event, GiftPriced) else []


def lots_needed(event: Event) -> list[tuple[str, LotKind, str]]:
    """(user_id, kind, lot id) of the lot deciding this event looks up: a credit's (credited
    once), a clawback's."""
    match event:
        case PurchaseCompleted() | PurchaseRefunded() | PurchaseChargedBack():
            return [(event.user_id, LotKind.purchase, event.purchase_id)]
        case PromoCoinsGranted():
            return [(event.user_id, LotKind.promo, event.grant_id)]
    return []


def gifts_needed(event: Event) -> list[tuple[str, str]]:
    """(user_id, purchase_id) of the lots whose funded gifts deciding this event lists."""
    if isinstance(event, PurchaseRefunded | PurchaseChargedBack):
        return [(event.user_id, event.purchase_id)]
    return []


async def load_wallets(conn: asyncpg.Connection, events: Sequence[Event]) -> dict[str, Wallet]:
    """The batch's wallets, with what its decisions look up put back."""
    found = await store.wallets.load_many(
        conn, {key for event in events for key in wallets_of(event)})
    named = [(user_id, kind, lot_id) for event in events
             for user_id, kind, lot_id in lots_needed(event)
             if user_id in found and not _holds(found[user_id], kind, lot_id)]
    lots = await store.load_lots(
        conn, [(u, lot_id) for u, kind, lot_id in named if kind is LotKind.purchase],
        [(u, lot_id) for u, kind, lot_id in named if kind is LotKind.promo])
    requests = await store.load_requests(conn, {
        (user_id, request_id) for event in events
        for user_id, request_id in requests_needed(event)
        if user_id in found and request_id not in found[user_id].requests})
    found = {user_id: with_lookups(wallet, requests=requests.get(user_id, ()),
                                   lots=lots.get(user_id, ()))
             for user_id, wallet in found.items()}
    gifts = await store.load_funded_gifts(conn, {
        (user_id, purchase_id) for event in events
        for user_id, purchase_id in gifts_needed(event)
        if user_id in found and _keeps_gifts_apart(found[user_id], purchase_id)})
    return {user_id: with_lookups(wallet, gifts=gifts[user_id]) if user_id in gifts else wallet
            for user_id, wallet in found.items()}


def _holds(wallet: Wallet, kind: LotKind, lot_id: str) -> bool:
    if kind is LotKind.purchase:
        return wallet.purchase(lot_id) is not None
    return wallet.promo(lot_id) is not None


def _keeps_gifts_apart(wallet: Wallet, purchase_id: str) -> bool:
    lot = wallet.purchase(purchase_id)
    # A lot clawed back before decides nothing: its gifts are not looked at again.
    return lot is not None and lot.funded_apart > 0 and lot.clawed_back is None


def rate_versions_needed(event: Event) -> list[str]:
    """The price list versions deciding this event reads: a purchase's, a new price's."""
    if isinstance(event, PurchaseCompleted | CoinPackagePriced):
        return [event.rate_version]
    return []


def apply_price(unit: Unit, inbound: Inbound, prices: PriceList,
                added: list[tuple]) -> PriceList:
    """A policy.coin_package_priced: a new price joins the list (and `added`, the rows to
    store); a conflicting one is dead-lettered and the first price stands."""
    event = inbound.event
    assert isinstance(event, CoinPackagePriced)
    conflict = price_conflict(prices, event)
    if conflict is not None:
        unit.refuse(inbound, DeadLetterReason.policy_conflict, conflict)
        return prices
    if adds_price(prices, event):
        added.append(price_row(price_key(event), price_of(event)))
    return prices.with_price(event)


async def handle(unit: Unit, inbounds: Sequence[Inbound]) -> None:
    conn = unit.conn
    policy = await store.load_policy(conn)
    prices = await store.load_prices(
        conn, [v for inbound in inbounds for v in rate_versions_needed(inbound.event)])
    wallets = await load_wallets(conn, [inbound.event for inbound in inbounds])
    before = dict(wallets)
    changed: dict[str, Wallet] = {}
    changed_at: dict[str, datetime] = {}
    policy_changed = False
    new_prices: list[tuple] = []
    for inbound in inbounds:
        event = inbound.event
        if isinstance(event, SpendingPolicySet):
            policy, policy_changed = SpendingPolicy.from_event(event), True
            continue
        if isinstance(event, CoinPackagePriced):
            prices = apply_price(unit, inbound, prices, new_prices)
            continue
        if not isinstance(event, WALLET_INPUTS):
            continue
        wallet = wallets.get(event.key) or Wallet(user_id=event.key)
        decided = decide(wallet, event, policy, prices)
        if not decided:
            continue
        wallet = fold(wallet, decided)
        wallets[event.key] = changed[event.key] = wallet
        changed_at[event.key] = event.occurred_at
        for output in decided:
            unit.emit(output, cause=inbound)
    if policy_changed and policy is not None:
        await store.save_policy(conn, policy)
    await store.save_prices(conn, new_prices)
    await store.save_apart(conn, changed_rows(
        (user_id, changed[user_id], before.get(user_id)) for user_id in sorted(changed)))
    await store.wallets.save(conn, changed)
    await store.save_balances(conn, changed, changed_at, policy)

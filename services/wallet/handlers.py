"""The wallet's batch handler: load the batch's wallets (locked by the runtime), decide event by
event, save, emit.

A wallet's snapshot row keeps neither its decided request ids nor its lots' funded gifts: they
are rows of `wallet_requests` and `lot_funded_gifts`. Before deciding, the handler brings back
those the batch's decisions look up one by one (the request ids its GiftPriced carry, the
funded gifts of the lots its refunds and chargebacks name), so decide() sees the same answers
as with the whole wallet in memory, and a batch writes only the rows it adds, whatever the
viewer's lifetime of gifts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from services.wallet import store
from services.wallet.domain import SpendingPolicy, Wallet, decide, fold
from services.wallet.projection import lookup_rows
from shared.contract.envelope import Event
from shared.contract.events.gifting import GiftPriced
from shared.contract.events.payments import (
    PurchaseChargedBack,
    PurchaseCompleted,
    PurchaseRefunded,
)
from shared.contract.events.policy import SpendingPolicySet
from shared.contract.events.promotions import PromoCoinsGranted
from shared.contract.events.users import AgeVerified, SpendingLimitSet
from shared.runtime.unit import Inbound, Unit

WALLET_INPUTS = (PurchaseCompleted, PurchaseRefunded, PurchaseChargedBack, PromoCoinsGranted,
                 GiftPriced, AgeVerified, SpendingLimitSet)
"""Inputs decided per wallet. Everything else on the consumed topics is not the wallet's
business (policy is handled apart; GiftSent, CreatorVerified, ... are ignored)."""


def wallets_of(event: Event) -> list[str]:
    """The wallet an input decides for: the runtime locks it before the batch is handled."""
    return [event.key] if isinstance(event, WALLET_INPUTS) else []


def requests_needed(event: Event) -> list[tuple[str, str]]:
    """(user_id, request_id) of the decided requests deciding this event looks up."""
    return [(event.sender_id, event.request_id)] if isinstance(event, GiftPriced) else []


def lots_needed(event: Event) -> list[tuple[str, str]]:
    """(user_id, purchase_id) of the lots whose funded gifts deciding this event lists."""
    if isinstance(event, PurchaseRefunded | PurchaseChargedBack):
        return [(event.user_id, event.purchase_id)]
    return []


async def load_wallets(conn: asyncpg.Connection, events: Sequence[Event]) -> dict[str, Wallet]:
    """The batch's wallets, with what its decisions look up put back."""
    found = await store.wallets.load_many(
        conn, {key for event in events for key in wallets_of(event)})
    requests = await store.load_requests(conn, {
        (user_id, request_id) for event in events
        for user_id, request_id in requests_needed(event)
        if user_id in found and request_id not in found[user_id].requests})
    gifts = await store.load_funded_gifts(conn, {
        (user_id, purchase_id) for event in events
        for user_id, purchase_id in lots_needed(event)
        if user_id in found and _keeps_gifts_apart(found[user_id], purchase_id)})
    return {user_id: wallet.with_lookups(requests.get(user_id, ()), gifts.get(user_id, {}))
            for user_id, wallet in found.items()}


def _keeps_gifts_apart(wallet: Wallet, purchase_id: str) -> bool:
    lot = wallet.purchase(purchase_id)
    # A lot clawed back before decides nothing: its gifts are not looked at again.
    return lot is not None and lot.funded_apart > 0 and lot.clawed_back is None


async def handle(unit: Unit, inbounds: Sequence[Inbound]) -> None:
    conn = unit.conn
    policy = await store.load_policy(conn)
    wallets = await load_wallets(conn, [inbound.event for inbound in inbounds])
    before = dict(wallets)
    changed: dict[str, Wallet] = {}
    changed_at: dict[str, datetime] = {}
    policy_changed = False
    for inbound in inbounds:
        event = inbound.event
        if isinstance(event, SpendingPolicySet):
            policy, policy_changed = SpendingPolicy.from_event(event), True
            continue
        if not isinstance(event, WALLET_INPUTS):
            continue
        wallet = wallets.get(event.key) or Wallet(user_id=event.key)
        decided = decide(wallet, event, policy)
        if not decided:
            continue
        wallet = fold(wallet, decided)
        wallets[event.key] = changed[event.key] = wallet
        changed_at[event.key] = event.occurred_at
        for output in decided:
            unit.emit(output, cause=inbound)
    if policy_changed and policy is not None:
        await store.save_policy(conn, policy)
    await _save_lookups(conn, changed, before)
    await store.wallets.save(conn, changed)
    await store.save_balances(conn, changed, changed_at, policy)


async def _save_lookups(conn: asyncpg.Connection, changed: dict[str, Wallet],
                        before: dict[str, Wallet]) -> None:
    requests: list[tuple] = []
    gifts: list[tuple] = []
    for user_id in sorted(changed):
        new_requests, new_gifts = lookup_rows(user_id, changed[user_id], before.get(user_id))
        requests.extend(new_requests)
        gifts.extend(new_gifts)
    await store.save_lookups(conn, requests, gifts)

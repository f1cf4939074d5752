"""The wallet's batch handler: load the batch's wallets (locked by the runtime), decide event by
event, save, emit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.wallet import store
from services.wallet.domain import SpendingPolicy, Wallet, decide, fold
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


async def handle(unit: Unit, inbounds: Sequence[Inbound]) -> None:
    conn = unit.conn
    policy = await store.load_policy(conn)
    keys = {key for inbound in inbounds for key in wallets_of(inbound.event)}
    wallets = await store.wallets.load_many(conn, keys)
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
    await store.wallets.save(conn, changed)
    await store.save_balances(conn, changed, changed_at, policy)

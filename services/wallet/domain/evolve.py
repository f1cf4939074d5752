"""Applying the wallet's own events to its state: how auditors and rebuilds replay.

evolve never re-decides: it applies what each event records (the lots a spend used, what a
clawback covered, the debt a credit repaid), so a replay reproduces the state the decisions
saw even if a rule changes later. It re-checks balance_after on every event that carries it: a
mismatch means the log was altered or an event is missing, and replay stops loudly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from services.wallet.domain.lots import apply_uses
from services.wallet.domain.state import (
    PromoLot,
    PurchaseLot,
    SpendingLimit,
    Wallet,
    balance,
    day_key,
    month_key,
)
from shared.contract.events.wallet import (
    AgeVerificationRecorded,
    CoinsClawedBack,
    CoinsPurchased,
    CoinsSpent,
    FreezeReason,
    PromoCoinsCredited,
    PromoCoinsExpired,
    SpendingLimitRecorded,
    SpendRejected,
    WalletEvent,
    WalletFrozen,
    WalletUnfrozen,
)


def evolve(wallet: Wallet, event: WalletEvent) -> Wallet:
    assert event.user_id == wallet.user_id, (wallet.user_id, event.user_id)
    after = _apply(wallet, event)
    recorded = getattr(event, "balance_after", None)
    assert recorded is None or recorded == balance(after), (
        f"{event.type} {event.event_id} says balance {recorded}, replay gives {balance(after)}")
    return after


def fold(wallet: Wallet, events: Iterable[WalletEvent]) -> Wallet:
    for event in events:
        wallet = evolve(wallet, event)
    return wallet


def replay(user_id: str, events: Iterable[WalletEvent]) -> Wallet:
    """The wallet rebuilt from its own events alone."""
    return fold(Wallet(user_id), events)


def _apply(wallet: Wallet, event: WalletEvent) -> Wallet:  # noqa: PLR0911 - one case per type
    match event:
        case CoinsPurchased():
            assert wallet.purchase(event.purchase_id) is None, event
            lot = PurchaseLot(event.purchase_id, event.coins, event.amount_minor, event.currency,
                              event.rate_version, event.occurred_at, used=event.debt_repaid)
            return replace(wallet, purchases=(*wallet.purchases, lot),
                           debt=wallet.debt - event.debt_repaid)
        case PromoCoinsCredited():
            assert wallet.promo(event.grant_id) is None, event
            promo = PromoLot(event.grant_id, event.coins, event.expires_at, event.occurred_at,
                             used=event.debt_repaid)
            return replace(wallet, promos=(*wallet.promos, promo),
                           debt=wallet.debt - event.debt_repaid)
        case PromoCoinsExpired():
            return _expire(wallet, event)
        case CoinsSpent():
            assert event.request_id not in wallet.requests, event
            assert sum(use.coins for use in event.lots) == event.coins, event
            spent = apply_uses(wallet, event.lots, gift=(event.request_id, event.creator_id))
            return replace(
                spent, requests=wallet.requests | {event.request_id},
                spent_today=wallet.spent_today.add(day_key(event.occurred_at), event.coins),
                spent_this_month=wallet.spent_this_month.add(month_key(event.occurred_at),
                                                             event.coins))
        case SpendRejected():
            assert event.request_id not in wallet.requests, event
            return replace(wallet, requests=wallet.requests | {event.request_id})
        case CoinsClawedBack():
            return _claw_back(wallet, event)
        case WalletFrozen():
            return replace(wallet, frozen_reason=FreezeReason(event.reason))
        case WalletUnfrozen():
            return replace(wallet, frozen_reason=None)
        case AgeVerificationRecorded():
            return replace(wallet, adult=event.adult)
        case SpendingLimitRecorded():
            return _record_limit(wallet, event)
    raise TypeError(f"the wallet does not apply {type(event).__name__}")


def _expire(wallet: Wallet, event: PromoCoinsExpired) -> Wallet:
    promos = tuple(replace(lot, expired=True) if lot.grant_id == event.grant_id else lot
                   for lot in wallet.promos)
    lot = wallet.promo(event.grant_id)
    assert lot is not None and lot.remaining == event.coins, (lot, event)
    return replace(wallet, promos=promos)


def _claw_back(wallet: Wallet, event: CoinsClawedBack) -> Wallet:
    lot = wallet.purchase(event.purchase_id)
    assert lot is not None and lot.clawed_back is None, (lot, event)
    assert (lot.coins, lot.remaining) == (event.coins, event.coins_unspent), (lot, event)
    covered = sum(use.coins for use in event.covered_by)
    debt_added = event.coins - event.coins_unspent - covered
    assert debt_added >= 0, event
    purchases = tuple(replace(other, clawed_back=event.kind)
                      if other.purchase_id == event.purchase_id else other
                      for other in wallet.purchases)
    clawed = replace(wallet, purchases=purchases, debt=wallet.debt + debt_added)
    return apply_uses(clawed, event.covered_by)


def _record_limit(wallet: Wallet, event: SpendingLimitRecorded) -> Wallet:
    others = tuple(limit for limit in wallet.limits
                   if (limit.period, limit.set_by) != (event.period, event.set_by))
    if event.coins is None:
        return replace(wallet, limits=others)
    limit = SpendingLimit(event.period, event.set_by, event.coins)
    ordered = sorted((*others, limit), key=lambda entry: (entry.period, entry.set_by))
    return replace(wallet, limits=tuple(ordered))

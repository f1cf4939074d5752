"""Refunds and chargebacks: PurchaseRefunded | PurchaseChargedBack -> CoinsClawedBack
[+ WalletFrozen].

The whole purchase is taken back, whatever amount the payments event names (partial refunds
are not modelled): the balance always drops by the purchase's coins.
- The lot's remaining coins are removed (`coins_unspent`).
- The part already used (gifts, debt it repaid, cover it gave another clawback) is taken from
  the wallet's other coins in cover order (lots.py: purchased oldest first, then promo soonest
  expiry), recorded as `covered_by`; whatever they cannot cover becomes debt, and the balance
  goes below zero.
- `funded_gifts` lists the gifts this purchase's lot paid for, with the coins from this lot
  only, so payout can claw back the right diamonds.
- `amount_minor`/`currency` are the lot's: the cash value of the coins taken back.

Freeze: a chargeback always freezes (a fraud signal), and outranks a freeze for debt, which it
replaces so that repaying the debt no longer lifts it. A refund freezes only when it leaves
debt. An unknown purchase, or one already clawed back, decides nothing; so does a purchase the
wallet refused (credits.py): it credited no coins, so there is nothing to take back.
"""

from __future__ import annotations

from services.wallet.domain.lots import cover_order, take
from services.wallet.domain.state import PurchaseLot, Wallet, assert_swept, balance
from shared.contract.events.payments import PurchaseChargedBack, PurchaseRefunded
from shared.contract.events.wallet import (
    ClawbackKind,
    CoinsClawedBack,
    FreezeReason,
    FundedGift,
    WalletEvent,
    WalletFrozen,
)

Clawback = PurchaseRefunded | PurchaseChargedBack


def decide_clawback(wallet: Wallet, clawback: Clawback) -> list[WalletEvent]:
    assert clawback.user_id == wallet.user_id, (wallet.user_id, clawback.user_id)
    lot = wallet.purchase(clawback.purchase_id)
    if lot is None or lot.clawed_back is not None:
        return []
    assert_swept(wallet, clawback.occurred_at)
    kind = ClawbackKind.chargeback if isinstance(clawback, PurchaseChargedBack) \
        else ClawbackKind.refund
    # The clawed lot has no coins to give itself: its remaining coins go anyway.
    others = [other for other in cover_order(wallet)
              if not (isinstance(other, PurchaseLot) and other.purchase_id == lot.purchase_id)]
    covered_by = take(others, lot.used)
    debt_after = wallet.debt + lot.used - sum(use.coins for use in covered_by)
    freeze = freeze_reason(wallet, kind, debt_after)
    clawed = clawback.caused(
        CoinsClawedBack, "clawback", user_id=wallet.user_id, purchase_id=lot.purchase_id,
        kind=kind, coins=lot.coins, coins_unspent=lot.remaining, amount_minor=lot.amount_minor,
        currency=lot.currency, funded_gifts=funded_gifts(lot),
        balance_after=balance(wallet) - lot.coins, frozen=wallet.frozen or freeze is not None,
        covered_by=covered_by)
    if freeze is None:
        return [clawed]
    return [clawed, clawback.caused(WalletFrozen, "freeze", user_id=wallet.user_id,
                                    reason=freeze.value)]


def freeze_reason(wallet: Wallet, kind: ClawbackKind, debt_after: int) -> FreezeReason | None:
    """The freeze to emit now, if the wallet's freeze must start or strengthen."""
    if kind is ClawbackKind.chargeback:
        return None if wallet.frozen_reason is FreezeReason.chargeback else FreezeReason.chargeback
    if debt_after > 0 and not wallet.frozen:
        return FreezeReason.debt
    return None


def funded_gifts(lot: PurchaseLot) -> tuple[FundedGift, ...]:
    """One entry per gift, in the order spent, with the coins this lot gave it."""
    coins: dict[tuple[str, str], int] = {}
    for gift in lot.gifts:
        key = (gift.request_id, gift.creator_id)
        coins[key] = coins.get(key, 0) + gift.coins
    return tuple(FundedGift(request_id=request_id, creator_id=creator_id, coins=total)
                 for (request_id, creator_id), total in coins.items())

"""Debiting a gift: GiftPriced -> CoinsSpent | SpendRejected.

Checks run in a fixed order and the first failing one is the reason:
  1. wallet_frozen            the wallet is frozen (a clawback left debt, or a chargeback)
  2. not_age_verified         `adult` is not True (unknown, or a minor's hold)
  3. spending_limit_reached   this spend would take the coins spent in the UTC day (then the
                              UTC month) of occurred_at above the strictest limit in effect:
                              the user's own, a per-user policy limit, the platform policy cap.
                              Reaching a limit exactly is allowed.
  4. insufficient_funds       coins > balance.
Both outcomes use the step name "debit", so a re-decision that came out differently would
reuse the id and be caught by downstream dedupe as a conflict rather than pass as a new event.
A request_id already decided (spent or rejected) decides nothing.
"""

from __future__ import annotations

from typing import Any

from services.wallet.domain.lots import spend_order, take
from services.wallet.domain.state import (
    SpendingPolicy,
    Wallet,
    Window,
    assert_swept,
    balance,
    day_key,
    month_key,
)
from shared.contract.events.gifting import GiftPriced
from shared.contract.events.users import LimitPeriod, LimitSetter
from shared.contract.events.wallet import CoinsSpent, SpendRejected, SpendRejection

Refusal = tuple[SpendRejection, LimitPeriod | None]


def decide_spend(wallet: Wallet, gift: GiftPriced,
                 policy: SpendingPolicy | None = None) -> list[CoinsSpent | SpendRejected]:
    assert gift.sender_id == wallet.user_id, (wallet.user_id, gift.sender_id)
    if gift.request_id in wallet.requests:
        return []
    assert_swept(wallet, gift.occurred_at)
    common: dict[str, Any] = dict(
        user_id=wallet.user_id, request_id=gift.request_id, creator_id=gift.creator_id,
        stream_id=gift.stream_id, coins=gift.coins,
        spending_policy_version=policy.rate_version if policy else None)
    refusal = refusal_of(wallet, gift, policy)
    if refusal is not None:
        reason, period = refusal
        return [gift.caused(SpendRejected, "debit", reason=reason, limit_period=period,
                            balance_after=balance(wallet), **common)]
    uses = take(spend_order(wallet), gift.coins)
    assert sum(use.coins for use in uses) == gift.coins, (wallet, gift)
    return [gift.caused(CoinsSpent, "debit", gift_id=gift.gift_id, lots=uses,
                        balance_after=balance(wallet) - gift.coins, **common)]


def refusal_of(wallet: Wallet, gift: GiftPriced, policy: SpendingPolicy | None) -> Refusal | None:
    if wallet.frozen:
        return SpendRejection.wallet_frozen, None
    if wallet.adult is not True:
        return SpendRejection.not_age_verified, None
    period = full_window(wallet, gift, policy)
    if period is not None:
        return SpendRejection.spending_limit_reached, period
    if gift.coins > balance(wallet):
        return SpendRejection.insufficient_funds, None
    return None


def effective_limit(wallet: Wallet, period: LimitPeriod,
                    policy: SpendingPolicy | None) -> int | None:
    """The strictest of the limits in effect for the period; None when there is none."""
    limits = [wallet.limit(period, LimitSetter.user), wallet.limit(period, LimitSetter.policy),
              policy.cap(period) if policy else None]
    present = [limit for limit in limits if limit is not None]
    return min(present) if present else None


def full_window(wallet: Wallet, gift: GiftPriced,
                policy: SpendingPolicy | None) -> LimitPeriod | None:
    """The first period (daily, then monthly) whose limit this spend would exceed."""
    windows: tuple[tuple[LimitPeriod, Window, str], ...] = (
        (LimitPeriod.daily, wallet.spent_today, day_key(gift.occurred_at)),
        (LimitPeriod.monthly, wallet.spent_this_month, month_key(gift.occurred_at)),
    )
    for period, window, key in windows:
        limit = effective_limit(wallet, period, policy)
        if limit is not None and window.spent_at(key) + gift.coins > limit:
            return period
    return None

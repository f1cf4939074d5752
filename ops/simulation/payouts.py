"""Creators cashing out, and the payout provider answering.

A creator asks for what they can withdraw, within the limits of the policy in effect (the
default policy the demo seeds): at least the minimum payout, at most a day's maximum. The
provider pays about nine in ten payouts and fails the rest (a closed bank account).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TypeVar

from ops.simulation.outside import PAYOUT_CURRENCY, Outside
from services.payout.domain.money import convert
from shared.contract.defaults import default_policy
from shared.contract.events.creators import PayoutFailed, PayoutRequested, PayoutSucceeded
from shared.contract.events.policy import DiamondCashRateSet, PayoutLimitsSet

FAILURE_SHARE = 0.10


Policy = TypeVar("Policy", DiamondCashRateSet, PayoutLimitsSet)


def _policy_of(kind: type[Policy]) -> Policy:
    return next(event for event in default_policy()
                if isinstance(event, kind) and event.currency == PAYOUT_CURRENCY)


CASH_RATE = _policy_of(DiamondCashRateSet)
LIMITS = _policy_of(PayoutLimitsSet)


def net_minor(diamonds: int) -> int:
    return convert(diamonds, CASH_RATE.minor_per_diamond, CASH_RATE.fee_ppm,
                   CASH_RATE.fee_fixed_minor).net_minor


def minimum_diamonds() -> int:
    """The fewest diamonds whose net cash reaches the minimum payout (ignoring fees, which
    only raise it; payout_size checks the net)."""
    return int((Decimal(LIMITS.min_minor) / CASH_RATE.minor_per_diamond)
               .to_integral_value(rounding=ROUND_CEILING))


def payout_size(withdrawable: int) -> int | None:
    """How many diamonds to ask for: all that can be withdrawn, up to a day's maximum (net
    never exceeds gross, so a gross within the maximum is a net within it); None when that
    is below the minimum."""
    day_cap = int((Decimal(LIMITS.max_per_day_minor) / CASH_RATE.minor_per_diamond)
                  .to_integral_value(rounding=ROUND_FLOOR))
    diamonds = min(withdrawable, day_cap)
    if diamonds <= 0 or net_minor(diamonds) < max(LIMITS.min_minor, 1):
        return None
    return diamonds


def provider_answers(outside: Outside, requests: Sequence[PayoutRequested],
                     rng: random.Random) -> list[PayoutSucceeded | PayoutFailed]:
    """About FAILURE_SHARE of the payouts fail (rounded, so a handful of payouts still shows
    one failure); the rest succeed."""
    failing = set(rng.sample(range(len(requests)), round(len(requests) * FAILURE_SHARE)))
    return [outside.payout_failed(request) if index in failing
            else outside.payout_succeeded(request)
            for index, request in enumerate(requests)]

"""The policy values payout decisions use, as plain values passed in by the caller.

Each is built from the policy event that set it (`from_event`), and carries its
`rate_version`, which the decision copies into its output so an audit can check it.
`PolicyInEffect` folds the policy topic into the set of values in effect now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType

from shared.contract.events.policy import (
    CreatorShareSet,
    DiamondCashRateSet,
    HoldPeriodSet,
    PayoutLimitsSet,
    PolicyEvent,
)


@dataclass(frozen=True)
class SharePolicy:
    """Diamonds a creator earns per coin of gift value (0.5 by default)."""

    diamonds_per_coin: Decimal
    rate_version: str

    @classmethod
    def from_event(cls, event: CreatorShareSet) -> SharePolicy:
        return cls(event.diamonds_per_coin, event.rate_version)


@dataclass(frozen=True)
class HoldPolicy:
    """Seconds between earning diamonds and being able to withdraw them."""

    hold_s: int
    rate_version: str

    @classmethod
    def from_event(cls, event: HoldPeriodSet) -> HoldPolicy:
        return cls(event.hold_s, event.rate_version)


@dataclass(frozen=True)
class CashRate:
    """What a diamond is worth in one currency, and the fee taken on conversion."""

    currency: str
    minor_per_diamond: Decimal
    fee_ppm: int
    fee_fixed_minor: int
    rate_version: str

    @classmethod
    def from_event(cls, event: DiamondCashRateSet) -> CashRate:
        return cls(event.currency, event.minor_per_diamond, event.fee_ppm,
                   event.fee_fixed_minor, event.rate_version)


@dataclass(frozen=True)
class PayoutLimits:
    """Minimum net payout and maximum net paid per UTC day, in one currency's minor unit."""

    currency: str
    min_minor: int
    max_per_day_minor: int
    rate_version: str

    @classmethod
    def from_event(cls, event: PayoutLimitsSet) -> PayoutLimits:
        return cls(event.currency, event.min_minor, event.max_per_day_minor, event.rate_version)


@dataclass(frozen=True)
class PolicyInEffect:
    """The latest value of each payout policy; cash rates and limits are per currency."""

    share: SharePolicy | None = None
    hold: HoldPolicy | None = None
    cash_rates: Mapping[str, CashRate] = field(default_factory=lambda: MappingProxyType({}))
    limits: Mapping[str, PayoutLimits] = field(default_factory=lambda: MappingProxyType({}))

    def apply(self, event: PolicyEvent) -> PolicyInEffect:
        """The policy after one policy event; events payout does not use change nothing."""
        if isinstance(event, CreatorShareSet):
            return replace(self, share=SharePolicy.from_event(event))
        if isinstance(event, HoldPeriodSet):
            return replace(self, hold=HoldPolicy.from_event(event))
        if isinstance(event, DiamondCashRateSet):
            rates = {**self.cash_rates, event.currency: CashRate.from_event(event)}
            return replace(self, cash_rates=MappingProxyType(rates))
        if isinstance(event, PayoutLimitsSet):
            limits = {**self.limits, event.currency: PayoutLimits.from_event(event)}
            return replace(self, limits=MappingProxyType(limits))
        return self

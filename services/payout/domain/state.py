"""A creator's diamonds and payouts, as the payout service's own events left them.

Where a creator's diamonds are at time t (every term an integer, never negative):

    held(t)      credited diamonds of gifts whose available_at > t (chargeback protection)
    matured(t)   credited diamonds of gifts whose available_at <= t: exactly at available_at a
                 gift is withdrawable
    reserved     diamonds of payouts sent to the provider and not yet settled
    withdrawn    diamonds of payouts the provider confirmed
    available(t) matured(t) - reserved - withdrawn - clawed back from available
    debt         diamonds clawed back that the creator no longer had; new earnings pay it first

A gift's credited diamonds are its diamonds less the part that paid debt when it was earned
and less what a clawback took from it while it was held. The conservation identity, checked by
the property tests after every step:

    earned - withdrawn - reserved - clawed back == held(t) + available(t) - debt

A creator's clock never runs backwards: decisions use `now(at)`, the later of the input's
occurred_at and the latest time already decided for this creator. Inputs come from several
producers whose clocks disagree; a late-stamped event must neither make matured (possibly
withdrawn) diamonds held again nor count against an earlier day's limit.

Because the clock never runs backwards, an earning with available_at <= clock stays matured
for every t >= clock, and its credited diamonds can no longer change (a clawback takes nothing
from its hold). `compacted` folds such earnings into three running totals (matured_credited,
matured_earned, matured_clawed), so a creator's working state holds only the earnings still on
hold; `with_earnings` brings folded earnings back (out of the totals) for a decision that needs
them one by one (a clawback of the gift, the once-per-gift check of an earning). held(t),
matured(t), available(t), earned and clawed back are the same either way for every t >= clock.
The service's snapshot row is `without_earnings` (held ones too): every earning is a row of its
own, and the handler loads the held ones with the snapshot.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from types import MappingProxyType


def _frozen_map() -> Mapping:
    return MappingProxyType({})


@dataclass(frozen=True)
class Earning:
    """The diamonds one delivered gift earned, and what clawbacks have taken from them."""

    request_id: str
    coins: int
    diamonds: int
    applied_to_debt: int
    available_at: datetime
    clawed_coins: int = 0
    clawed_diamonds: int = 0
    """All diamonds clawed from this gift: from its hold, from available, or into debt."""
    clawed_from_held: int = 0

    @property
    def credited(self) -> int:
        """What this gift adds to held (before available_at) or to matured (from then on)."""
        return self.diamonds - self.applied_to_debt - self.clawed_from_held

    def held_at(self, at: datetime) -> int:
        return self.credited if self.available_at > at else 0


@dataclass(frozen=True)
class Reservation:
    """A payout reserved and sent to the provider: its diamonds have left `available`."""

    payout_id: str
    diamonds: int
    gross_minor: int
    fee_minor: int
    net_minor: int
    currency: str
    day: date
    """The UTC day of the reservation: the day whose limit it counts against, even if the
    provider confirms it the day after."""


@dataclass(frozen=True)
class Creator:
    """Immutable; `evolve` returns a new one. Mappings are read-only views."""

    creator_id: str
    verified: bool = False
    clock: datetime | None = None
    """The time of the latest event decided for this creator."""
    earnings: Mapping[str, Earning] = field(default_factory=_frozen_map)
    """By gift request_id."""
    reservations: Mapping[str, Reservation] = field(default_factory=_frozen_map)
    """Open (unsettled) reservations by payout_id."""
    withdrawn_diamonds: int = 0
    clawed_from_available_diamonds: int = 0
    debt_diamonds: int = 0
    net_minor_by_day: Mapping[tuple[str, date], int] = field(default_factory=_frozen_map)
    """Net cash reserved or paid per (currency, UTC day of reservation), for the daily limit;
    a released payout gives its amount back."""
    payouts_seen: Mapping[str, uuid.UUID | None] = field(default_factory=_frozen_map)
    """Every payout_id decided (reserved or rejected), with the request event that decided it."""
    duplicate_requests: frozenset[uuid.UUID] = frozenset()
    """Request events rejected as duplicate_payout, so a redelivery of one decides nothing."""
    clawbacks_seen: frozenset[tuple[str, str]] = frozenset()
    """(purchase_id, request_id) of every clawback applied."""
    matured_credited: int = 0
    """Credited diamonds of the earnings folded out of `earnings` (matured at `clock`)."""
    matured_earned: int = 0
    """Diamonds of the earnings folded out of `earnings`."""
    matured_clawed: int = 0
    """Diamonds clawed back from the earnings folded out of `earnings`."""

    def now(self, at: datetime) -> datetime:
        return at if self.clock is None or at > self.clock else self.clock

    def held(self, at: datetime) -> int:
        return sum(earning.held_at(at) for earning in self.earnings.values())

    def matured(self, at: datetime) -> int:
        """Exact for at >= clock once earnings were folded out (`compacted`)."""
        return self.matured_credited + sum(
            e.credited for e in self.earnings.values() if e.available_at <= at)

    @property
    def reserved_diamonds(self) -> int:
        return sum(reservation.diamonds for reservation in self.reservations.values())

    def available(self, at: datetime) -> int:
        return (self.matured(at) - self.reserved_diamonds - self.withdrawn_diamonds
                - self.clawed_from_available_diamonds)

    def withdrawable(self, at: datetime) -> int:
        """Available diamonds beyond the debt: a creator in debt cashes out only the excess."""
        return max(0, self.available(at) - self.debt_diamonds)

    @property
    def earned_diamonds(self) -> int:
        return self.matured_earned + sum(e.diamonds for e in self.earnings.values())

    @property
    def clawed_back_diamonds(self) -> int:
        return self.matured_clawed + sum(e.clawed_diamonds for e in self.earnings.values())

    @property
    def balance_diamonds(self) -> int:
        """What the creator owns, in flight included: held + available + reserved - debt."""
        return self.earned_diamonds - self.withdrawn_diamonds - self.clawed_back_diamonds

    def net_minor_on(self, currency: str, day: date) -> int:
        return self.net_minor_by_day.get((currency, day), 0)

    def compacted(self) -> Creator:
        """The same creator with every earning matured at `clock` folded into the totals."""
        if self.clock is None:
            return self
        clock = self.clock
        matured = [e for e in self.earnings.values() if e.available_at <= clock]
        if not matured:
            return self
        return replace(
            self,
            earnings=MappingProxyType({request_id: e for request_id, e in self.earnings.items()
                                       if e.available_at > clock}),
            matured_credited=self.matured_credited + sum(e.credited for e in matured),
            matured_earned=self.matured_earned + sum(e.diamonds for e in matured),
            matured_clawed=self.matured_clawed + sum(e.clawed_diamonds for e in matured))

    def with_earnings(self, kept_apart: Iterable[Earning]) -> Creator:
        """The same creator with these earnings, kept apart from it exactly as they are (the
        `earnings` table), back in `earnings`: one matured at `clock` comes out of the totals
        `compacted` folded it into; one still held was only left out of `earnings`. Earnings
        already present are kept as they are."""
        back = {e.request_id: e for e in kept_apart if e.request_id not in self.earnings}
        if not back:
            return self
        matured = [e for e in back.values()
                   if self.clock is not None and e.available_at <= self.clock]
        credited = sum(e.credited for e in matured)
        earned = sum(e.diamonds for e in matured)
        clawed = sum(e.clawed_diamonds for e in matured)
        if (credited > self.matured_credited or earned > self.matured_earned
                or clawed > self.matured_clawed):
            raise ValueError(f"earnings of {self.creator_id} were never folded")
        return replace(
            self,
            earnings=MappingProxyType({**self.earnings, **back}),
            matured_credited=self.matured_credited - credited,
            matured_earned=self.matured_earned - earned,
            matured_clawed=self.matured_clawed - clawed)

    def without_earnings(self) -> Creator:
        """The creator's row in `creators`: compacted, and without the earnings still held
        either (they live in the `earnings` table; `with_earnings` puts them back)."""
        return replace(self.compacted(), earnings=MappingProxyType({}))


def utc_day(at: datetime) -> date:
    return at.astimezone(UTC).date()

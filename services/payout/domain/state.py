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
hold. The service's snapshot row is `without_earnings`: the held ones are set apart too, into
three more totals (held_apart_*), every earning being a row of its own. All earnings set apart
and still held mature after `held_apart_until` (the clock they were set apart at), so held(t),
matured(t), available(t), earned and clawed back are the same with or without them for every
t from the clock up to that moment. Before deciding for times up to T, `brought_back` returns
the earnings maturing by T to the working state (out of the totals) and moves the horizon to
T; `with_earnings` brings back any earning a decision needs one by one (a clawback of the gift,
the once-per-gift check of an earning). A question about a time beyond the horizon raises
rather than answer from incomplete state. So a creator's working state, and the cost of a
batch, does not grow with the creator's lifetime of gifts.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any


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


class CreatorReads:
    """What decisions ask of a creator, answered alike by the immutable `Creator` and by the
    mutable draft a batch or a replay folds into (evolve.Replay): a decision reads, never
    writes, so a batch decides on one draft per creator instead of a copy per event."""

    creator_id: str
    verified: bool
    clock: datetime | None
    earnings: Mapping[str, Earning]
    reservations: Mapping[str, Reservation]
    withdrawn_diamonds: int
    clawed_from_available_diamonds: int
    debt_diamonds: int
    net_minor_by_day: Mapping[tuple[str, date], int]
    payouts_seen: Mapping[str, uuid.UUID | None]
    duplicate_requests: AbstractSet[uuid.UUID]
    clawbacks_seen: AbstractSet[tuple[str, str]]
    matured_credited: int
    matured_earned: int
    matured_clawed: int
    held_apart_credited: int
    held_apart_earned: int
    held_apart_clawed: int
    held_apart_until: datetime | None

    @property
    def horizon(self) -> datetime | None:
        """The latest time this state answers held and matured for (None: any)."""
        if not (self.held_apart_credited or self.held_apart_earned or self.held_apart_clawed):
            return None
        return self.held_apart_until or self.clock

    def _answerable(self, at: datetime) -> None:
        horizon = self.horizon
        if horizon is not None and at > horizon:
            raise ValueError(f"{self.creator_id}: earnings maturing by {at.isoformat()} were "
                             f"not brought back (held apart beyond {horizon.isoformat()})")

    def now(self, at: datetime) -> datetime:
        return at if self.clock is None or at > self.clock else self.clock

    def held(self, at: datetime) -> int:
        self._answerable(at)
        return self.held_apart_credited + sum(
            earning.held_at(at) for earning in self.earnings.values())

    def matured(self, at: datetime) -> int:
        """Exact for at >= clock once earnings were folded out (`compacted`)."""
        self._answerable(at)
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
        return self.matured_earned + self.held_apart_earned + sum(
            e.diamonds for e in self.earnings.values())

    @property
    def clawed_back_diamonds(self) -> int:
        return self.matured_clawed + self.held_apart_clawed + sum(
            e.clawed_diamonds for e in self.earnings.values())

    @property
    def balance_diamonds(self) -> int:
        """What the creator owns, in flight included: held + available + reserved - debt."""
        return self.earned_diamonds - self.withdrawn_diamonds - self.clawed_back_diamonds

    def net_minor_on(self, currency: str, day: date) -> int:
        return self.net_minor_by_day.get((currency, day), 0)


@dataclass(frozen=True)
class Creator(CreatorReads):
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
    held_apart_credited: int = 0
    """Credited diamonds of the earnings set apart while still held (`without_earnings`)."""
    held_apart_earned: int = 0
    held_apart_clawed: int = 0
    held_apart_until: datetime | None = field(default=None, compare=False)
    """Every earning set apart while held matures after this; None: after `clock`. Not part of
    the state proper: a bound on the times this working copy can answer for."""

    def compacted(self) -> Creator:
        """The same creator with every earning matured at `clock` folded into the totals."""
        if self.clock is None:
            return self
        clock = self.clock
        if self.held_apart_until is not None and clock > self.held_apart_until:
            raise ValueError(f"{self.creator_id}: the clock passed earnings held apart that "
                             f"may have matured since {self.held_apart_until.isoformat()}")
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
        `earnings` table), back in `earnings` and out of the totals they were folded into:
        the matured_* ones if they matured at `clock`, the held_apart_* ones if not. Earnings
        already present are kept as they are."""
        back = {e.request_id: e for e in kept_apart if e.request_id not in self.earnings}
        if not back:
            return self
        matured = [e for e in back.values()
                   if self.clock is not None and e.available_at <= self.clock]
        matured_ids = {e.request_id for e in matured}
        held = [e for e in back.values() if e.request_id not in matured_ids]
        totals: dict[str, Any] = {
            "matured_credited": self.matured_credited - sum(e.credited for e in matured),
            "matured_earned": self.matured_earned - sum(e.diamonds for e in matured),
            "matured_clawed": self.matured_clawed - sum(e.clawed_diamonds for e in matured),
            "held_apart_credited": self.held_apart_credited - sum(e.credited for e in held),
            "held_apart_earned": self.held_apart_earned - sum(e.diamonds for e in held),
            "held_apart_clawed": self.held_apart_clawed - sum(e.clawed_diamonds for e in held),
        }
        if any(total < 0 for total in totals.values()):
            raise ValueError(f"earnings of {self.creator_id} were never set apart")
        return replace(self, earnings=MappingProxyType({**self.earnings, **back}), **totals)

    def brought_back(self, maturing: Iterable[Earning], until: datetime) -> Creator:
        """The same creator, able to answer for times up to `until`: `maturing` are its
        earnings set apart while held that mature by then (all of them, from the `earnings`
        table), back in `earnings`."""
        back = self.with_earnings(maturing)
        horizon = back.horizon
        if horizon is None or until <= horizon:
            return back
        return replace(back, held_apart_until=until)

    def without_earnings(self) -> Creator:
        """The creator's row in `creators`: compacted, and every earning still held set apart
        into the held_apart_* totals (they live in the `earnings` table; `brought_back` and
        `with_earnings` put them back)."""
        compact = self.compacted()
        held = list(compact.earnings.values())
        return replace(
            compact, earnings=MappingProxyType({}),
            held_apart_credited=compact.held_apart_credited + sum(e.credited for e in held),
            held_apart_earned=compact.held_apart_earned + sum(e.diamonds for e in held),
            held_apart_clawed=compact.held_apart_clawed + sum(e.clawed_diamonds for e in held),
            held_apart_until=None)


def utc_day(at: datetime) -> date:
    return at.astimezone(UTC).date()

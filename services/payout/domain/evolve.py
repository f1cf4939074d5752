"""Applying the payout service's own events to a creator: the only way state changes.

`rebuild` folds a creator's payout.* events from the start, which is what auditors replay;
it gives the same Creator as applying `evolve` one event at a time (a test checks it), but in
linear time, because it copies the mappings once instead of once per event (`Replay`).

An event that contradicts the state (a second earning for one gift, settling a payout that is
not reserved, another creator's event) raises InconsistentHistory: a log that our decisions
could not have written has been altered, and a replay must say so rather than guess.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from services.payout.domain.state import Creator, CreatorReads, Earning, Reservation, utc_day
from shared.consistency import InconsistentHistory
from shared.contract.events.payout import (
    CreatorVerificationRecorded,
    DiamondsClawedBack,
    DiamondsEarned,
    PayoutEvent,
    PayoutPosted,
    PayoutRejected,
    PayoutRejection,
    PayoutReleased,
    PayoutReserved,
)


def evolve(creator: Creator, event: PayoutEvent) -> Creator:
    draft = Replay.of(creator)
    draft.apply(event)
    return draft.freeze()


def rebuild(creator_id: str, events: Iterable[PayoutEvent]) -> Creator:
    draft = Replay.of(Creator(creator_id))
    for event in events:
        draft.apply(event)
    return draft.freeze()


@dataclass
class Replay(CreatorReads):
    """A mutable fold over one creator's events, for long replays (rebuild, statements):
    apply events one by one, and `freeze` a Creator (a copy) whenever one is needed. Its
    fields are Creator's, with dicts and sets for the read-only mappings and frozensets."""

    creator_id: str
    verified: bool
    clock: datetime | None
    earnings: dict[str, Earning]
    reservations: dict[str, Reservation]
    withdrawn_diamonds: int
    clawed_from_available_diamonds: int
    debt_diamonds: int
    net_minor_by_day: dict[tuple[str, date], int]
    payouts_seen: dict[str, uuid.UUID | None]
    duplicate_requests: set[uuid.UUID]
    clawbacks_seen: set[tuple[str, str]]
    matured_credited: int
    matured_earned: int
    matured_clawed: int
    held_apart_credited: int
    held_apart_earned: int
    held_apart_clawed: int
    held_apart_until: datetime | None

    @classmethod
    def of(cls, creator: Creator) -> Replay:
        thawed: dict[str, Any] = {f.name: _thawed(getattr(creator, f.name))
                                  for f in fields(Creator)}
        return cls(**thawed)

    def freeze(self) -> Creator:
        frozen: dict[str, Any] = {f.name: _frozen(getattr(self, f.name))
                                  for f in fields(Creator)}
        return Creator(**frozen)

    def apply(self, event: PayoutEvent) -> None:
        _check(event.creator_id == self.creator_id, "another creator's event", event)
        if self.clock is None or event.occurred_at > self.clock:
            self.clock = event.occurred_at
        match event:
            case CreatorVerificationRecorded():
                self.verified = event.verified
            case DiamondsEarned():
                self._earned(event)
            case DiamondsClawedBack():
                self._clawed_back(event)
            case PayoutReserved():
                self._reserved(event)
            case PayoutRejected():
                self._rejected(event)
            case PayoutPosted():
                reservation = self._settle(event.payout_id, event)
                self.withdrawn_diamonds += reservation.diamonds
            case PayoutReleased():
                reservation = self._settle(event.payout_id, event)
                self._add_net_minor(reservation.currency, reservation.day, -reservation.net_minor)
            case _:
                raise InconsistentHistory(f"not a payout event: {event.type}")

    def _earned(self, event: DiamondsEarned) -> None:
        _check(event.request_id not in self.earnings, "gift earned twice", event)
        _check(event.applied_to_debt <= min(event.diamonds, self.debt_diamonds),
               "more applied to debt than owed or earned", event)
        self.debt_diamonds -= event.applied_to_debt
        self.earnings[event.request_id] = Earning(
            event.request_id, event.coins, event.diamonds, event.applied_to_debt,
            event.available_at)

    def _clawed_back(self, event: DiamondsClawedBack) -> None:
        earning = self.earnings.get(event.request_id)
        _check(earning is not None, "clawback of a gift never earned", event)
        assert earning is not None
        seen = (event.purchase_id, event.request_id)
        _check(seen not in self.clawbacks_seen, "clawback applied twice", event)
        _check(event.diamonds == event.from_held + event.from_available + event.to_debt,
               "clawback parts do not add up", event)
        _check(event.from_held <= earning.held_at(event.occurred_at), "more than held", event)
        _check(earning.clawed_diamonds + event.diamonds <= earning.diamonds,
               "more clawed than earned", event)
        self.clawbacks_seen.add(seen)
        self.earnings[event.request_id] = replace(
            earning, clawed_coins=earning.clawed_coins + event.coins,
            clawed_diamonds=earning.clawed_diamonds + event.diamonds,
            clawed_from_held=earning.clawed_from_held + event.from_held)
        self.clawed_from_available_diamonds += event.from_available
        self.debt_diamonds += event.to_debt

    def _reserved(self, event: PayoutReserved) -> None:
        _check(event.payout_id not in self.payouts_seen, "payout decided twice", event)
        day = utc_day(event.occurred_at)
        self.payouts_seen[event.payout_id] = event.causation_id
        self.reservations[event.payout_id] = Reservation(
            event.payout_id, event.diamonds, event.gross_minor, event.fee_minor,
            event.net_minor, event.currency, day)
        self._add_net_minor(event.currency, day, event.net_minor)

    def _rejected(self, event: PayoutRejected) -> None:
        if event.reason is PayoutRejection.duplicate_payout:
            _check(event.payout_id in self.payouts_seen, "duplicate of nothing", event)
            if event.causation_id is not None:
                self.duplicate_requests.add(event.causation_id)
        else:
            _check(event.payout_id not in self.payouts_seen, "payout decided twice", event)
            self.payouts_seen[event.payout_id] = event.causation_id

    def _settle(self, payout_id: str, event: PayoutEvent) -> Reservation:
        reservation = self.reservations.pop(payout_id, None)
        _check(reservation is not None, "settling a payout that is not reserved", event)
        assert reservation is not None
        _check(getattr(event, "diamonds", reservation.diamonds) == reservation.diamonds,
               "settled diamonds differ from the reservation", event)
        return reservation

    def _add_net_minor(self, currency: str, day: date, net_minor: int) -> None:
        total = self.net_minor_by_day.get((currency, day), 0) + net_minor
        if total:
            self.net_minor_by_day[(currency, day)] = total
        else:
            self.net_minor_by_day.pop((currency, day), None)


def _thawed(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, frozenset):
        return set(value)
    return value


def _frozen(value: object) -> object:
    if isinstance(value, dict):
        return MappingProxyType(dict(value))  # a copy: the replay may go on
    if isinstance(value, set):
        return frozenset(value)
    return value


def _check(condition: bool, problem: str, event: PayoutEvent) -> None:
    if not condition:
        raise InconsistentHistory(f"{problem}: {event.type} {event.event_id}")

"""Per-creator replay of payout.ledger (one partition per creator, so in order): diamond
conservation and payouts never beyond what is withdrawable.

A fold of its own, not services/payout/domain's (see ops/audit/__init__.py): the same rules,
written again from the product's definitions, so that a mistake in the domain shows up as a
disagreement instead of being repeated here (tests/unit/test_folds_agree.py requires both to
give the same figures).

Where a creator's diamonds are at time t (the definitions of services/payout/domain/state.py):
    credited(gift) = diamonds - applied_to_debt - clawed from its hold
    held(t)        credited diamonds of gifts with available_at > t
    matured(t)     credited diamonds of gifts with available_at <= t
    available(t)   matured(t) - reserved - withdrawn - clawed from available
and the identity checked at the end (t = the cut time):
    earned - withdrawn - reserved - clawed back == held(t) + available(t) - debt
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from ops.audit.ledger import Ledger
from ops.audit.model import Invariant, Location
from shared.contract.events.payout import (
    DiamondsClawedBack,
    DiamondsEarned,
    PayoutEvent,
    PayoutPosted,
    PayoutReleased,
    PayoutReserved,
)


@dataclass(slots=True)
class Earning:
    coins: int
    diamonds: int
    applied_to_debt: int
    available_at: datetime
    clawed_diamonds: int = 0
    clawed_from_held: int = 0

    @property
    def credited(self) -> int:
        return self.diamonds - self.applied_to_debt - self.clawed_from_held

    def held_at(self, at: datetime) -> int:
        return self.credited if self.available_at > at else 0


@dataclass
class CreatorState:
    earnings: dict[str, Earning] = field(default_factory=dict)
    reservations: dict[str, PayoutReserved] = field(default_factory=dict)
    withdrawn: int = 0
    clawed_from_available: int = 0
    debt: int = 0
    earned: int = 0
    clawed: int = 0

    def held(self, at: datetime) -> int:
        return sum(earning.held_at(at) for earning in self.earnings.values())

    def matured(self, at: datetime) -> int:
        return sum(e.credited for e in self.earnings.values() if e.available_at <= at)

    @property
    def reserved(self) -> int:
        return sum(reservation.diamonds for reservation in self.reservations.values())

    def available(self, at: datetime) -> int:
        return self.matured(at) - self.reserved - self.withdrawn - self.clawed_from_available


class CreatorBook:
    def __init__(self, invariants: dict[str, Invariant], ledger: Ledger):
        self.conservation = invariants["diamond_conservation"]
        self.money = invariants["money"]
        self.ledger = ledger
        self.creators: dict[str, CreatorState] = defaultdict(CreatorState)
        self.fees: dict[str, int] = defaultdict(int)
        self.paid_out: dict[str, int] = defaultdict(int)

    def apply(self, event: PayoutEvent, at: Location) -> int:
        """Apply one payout event; return its change of the diamonds owed to creators."""
        creator = self.creators[event.creator_id]
        match event:
            case DiamondsEarned():
                return self._earned(creator, event, at)
            case DiamondsClawedBack():
                return self._clawed_back(creator, event, at)
            case PayoutReserved():
                self._reserved(creator, event, at)
            case PayoutPosted() | PayoutReleased():
                return self._settled(creator, event, at)
        return 0

    def _earned(self, creator: CreatorState, event: DiamondsEarned, at: Location) -> int:
        conservation = self.conservation
        if event.request_id in creator.earnings:
            conservation.fail(f"gift {event.request_id} earned twice by {event.creator_id}", at)
            return 0
        conservation.ok()
        expected = min(event.diamonds, creator.debt)
        if event.applied_to_debt == expected:
            conservation.ok()
        else:
            conservation.fail(
                f"applied_to_debt {event.applied_to_debt}, expected min(diamonds "
                f"{event.diamonds}, debt {creator.debt}) = {expected}", at)
        applied = min(event.applied_to_debt, creator.debt, event.diamonds)
        creator.debt -= applied
        creator.earnings[event.request_id] = Earning(
            event.coins, event.diamonds, applied, event.available_at)
        creator.earned += event.diamonds
        self.ledger.post(at, event.type, [
            ("diamonds", "issued:gifts", -event.diamonds),
            ("diamonds", "creator", event.diamonds - applied),
            ("diamonds", "creator:debt", applied)])
        return event.diamonds

    def _clawed_back(self, creator: CreatorState, event: DiamondsClawedBack,
                     at: Location) -> int:
        check = self.conservation.check
        earning = creator.earnings.get(event.request_id)
        if not check(earning is not None,
                     f"clawback of gift {event.request_id} never earned by {event.creator_id}",
                     at):
            return 0
        assert earning is not None
        when = event.occurred_at
        held = earning.held_at(when)
        available = creator.available(when)
        check(event.from_held <= held,
              f"from_held {event.from_held} > {held} held for the gift", at)
        check(event.from_available <= max(0, available),
              f"from_available {event.from_available} > {available} available", at)
        check(earning.clawed_diamonds + event.diamonds <= earning.diamonds,
              f"gift {event.request_id} clawed beyond the {earning.diamonds} it earned", at)
        earning.clawed_diamonds += event.diamonds
        earning.clawed_from_held += event.from_held
        creator.clawed_from_available += event.from_available
        creator.debt += event.to_debt
        creator.clawed += event.diamonds
        self.ledger.post(at, event.type, [
            ("diamonds", "creator", -event.from_held - event.from_available),
            ("diamonds", "creator:debt", -event.to_debt),
            ("diamonds", "clawed_back", event.diamonds)])
        return -event.diamonds

    def _reserved(self, creator: CreatorState, event: PayoutReserved, at: Location) -> None:
        check = self.conservation.check
        withdrawable = max(0, creator.available(event.occurred_at) - creator.debt)
        check(event.diamonds <= withdrawable,
              f"payout {event.payout_id} reserves {event.diamonds} diamonds, "
              f"{withdrawable} withdrawable", at)
        check(event.payout_id not in creator.reservations,
              f"payout {event.payout_id} reserved twice", at)
        creator.reservations[event.payout_id] = event
        cash = f"cash:{event.currency}"
        self.ledger.post(at, event.type, [
            ("diamonds", "creator", -event.diamonds),
            ("diamonds", "creator:reserved", event.diamonds),
            (cash, "conversion", -event.gross_minor),
            (cash, "payable:creators", event.net_minor),
            (cash, "payable:fees", event.fee_minor)])

    def _settled(self, creator: CreatorState, event: PayoutPosted | PayoutReleased,
                 at: Location) -> int:
        """The provider's answer to a reservation: paid (posted) or failed (released, the
        diamonds are available again)."""
        check = self.conservation.check
        reservation = creator.reservations.pop(event.payout_id, None)
        if not check(reservation is not None,
                     f"{event.type} of payout {event.payout_id}, which is not reserved", at):
            return 0
        assert reservation is not None
        check(reservation.diamonds == event.diamonds,
              f"{event.type} of {event.diamonds} diamonds, {reservation.diamonds} reserved",
              at)
        if isinstance(event, PayoutPosted):
            return self._posted(creator, reservation, event, at)
        cash = f"cash:{reservation.currency}"
        self.ledger.post(at, event.type, [
            ("diamonds", "creator:reserved", -reservation.diamonds),
            ("diamonds", "creator", event.diamonds),
            (cash, "payable:creators", -reservation.net_minor),
            (cash, "payable:fees", -reservation.fee_minor),
            (cash, "conversion", reservation.gross_minor)])
        return 0

    def _posted(self, creator: CreatorState, reservation: PayoutReserved, event: PayoutPosted,
                at: Location) -> int:
        self.money.check(
            (event.net_minor, event.currency) == (reservation.net_minor, reservation.currency),
            f"posted {event.net_minor} {event.currency}, reserved net "
            f"{reservation.net_minor} {reservation.currency}", at)
        creator.withdrawn += reservation.diamonds
        self.paid_out[event.currency] += event.net_minor
        self.fees[reservation.currency] += reservation.fee_minor
        cash = f"cash:{reservation.currency}"
        self.ledger.post(at, event.type, [
            ("diamonds", "creator:reserved", -reservation.diamonds),
            ("diamonds", "paid_out", event.diamonds),
            (cash, "payable:creators", -reservation.net_minor),
            (f"cash:{event.currency}", "platform:cash", -event.net_minor),
            (f"cash:{event.currency}", "creators", event.net_minor),
            (cash, "conversion", reservation.net_minor),
            (cash, "payable:fees", -reservation.fee_minor),
            (cash, "revenue:fees", reservation.fee_minor)])
        return -reservation.diamonds

    def finish(self, at: datetime | None) -> dict:
        totals = {"creators": len(self.creators), "earned": 0, "withdrawn": 0, "reserved": 0,
                  "clawed_back": 0, "held": 0, "available": 0, "debt": 0, "owed": 0,
                  "reserved_open_payouts": 0}
        for creator_id, creator in self.creators.items():
            when = at or datetime.max.replace(tzinfo=None)
            held, available = (creator.held(when), creator.available(when)) if at else (0, 0)
            if at is None:  # no time at all: everything matured
                available = (sum(e.credited for e in creator.earnings.values())
                             - creator.reserved - creator.withdrawn
                             - creator.clawed_from_available)
            left = creator.earned - creator.withdrawn - creator.reserved - creator.clawed
            right = held + available - creator.debt
            self.conservation.check(
                left == right,
                f"creator {creator_id}: earned {creator.earned} - withdrawn "
                f"{creator.withdrawn} - reserved {creator.reserved} - clawed {creator.clawed} "
                f"= {left} != held {held} + available {available} - debt {creator.debt} "
                f"= {right}")
            self.conservation.check(
                held >= 0 and available >= 0 and creator.debt >= 0,
                f"creator {creator_id}: held {held}, available {available}, debt "
                f"{creator.debt}: none may be negative")
            totals["earned"] += creator.earned
            totals["withdrawn"] += creator.withdrawn
            totals["reserved"] += creator.reserved
            totals["clawed_back"] += creator.clawed
            totals["held"] += held
            totals["available"] += available
            totals["debt"] += creator.debt
            totals["owed"] += max(0, held + available - creator.debt)
            totals["reserved_open_payouts"] += len(creator.reservations)
        return totals

    def open_reservations(self) -> list[PayoutReserved]:
        return [r for creator in self.creators.values() for r in creator.reservations.values()]

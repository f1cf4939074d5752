"""Why a creator has the diamonds they have: payout's own events, oldest first, each with the
gift (request, sender, coins, share rate) or the payout conversion (gross, fee, net, rate)
behind it, and the running held, available, reserved and debt.

The events are folded by the payout service's own domain (services/payout/domain: `Replay`,
the fold its rebuilds use, and the rules of `Earning` and `Creator`), and the running figures
are judged at the creator's clock (the latest occurred_at so far), as the service judges
them: a gift's diamonds are held until its available_at, then available. The final figures
are checked against the domain's `Creator` (held, available, ...) of the same replay, and
against the `creator_balances` row the service keeps.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.payout.domain.evolve import Replay
from services.payout.domain.state import Creator
from shared.consistency import InconsistentHistory
from shared.contract.events.payout import (
    CreatorVerificationRecorded,
    DiamondsClawedBack,
    DiamondsEarned,
    PayoutEvent,
    PayoutPosted,
    PayoutRejected,
    PayoutReleased,
    PayoutReserved,
)


@dataclass(frozen=True)
class Figures:
    """Where the creator's diamonds stand, as of `as_of`."""

    as_of: datetime | None
    held: int
    available: int
    reserved: int
    debt: int
    balance: int
    """held + available + reserved - debt: earned - withdrawn - clawed back."""

    def differences(self, other: Figures) -> list[str]:
        return [f"{name}: {getattr(self, name)} vs {getattr(other, name)}"
                for name in ("held", "available", "reserved", "debt", "balance")
                if getattr(self, name) != getattr(other, name)]


@dataclass(frozen=True)
class CreatorLine:
    seq: int
    occurred_at: datetime
    type: str
    """The event type without the `payout.` prefix."""
    event_id: str
    reference: str | None
    """The gift request_id (earned, clawed back) or the payout_id."""
    delta: int
    """Diamonds this event added to (or took from) the creator's balance."""
    running: Figures
    sender_id: str | None = None
    coins: int | None = None
    diamonds: int | None = None
    rate: str | None = None
    """Earned: diamonds per coin (the creator's share); payout: minor units per diamond."""
    rate_version: str | None = None
    available_at: datetime | None = None
    hold_rate_version: str | None = None
    applied_to_debt: int = 0
    purchase_id: str | None = None
    from_held: int = 0
    from_available: int = 0
    to_debt: int = 0
    gross_minor: int | None = None
    fee_minor: int | None = None
    net_minor: int | None = None
    currency: str | None = None
    fee_terms: str | None = None
    method: str | None = None
    funding: dict[str, int] | None = None
    """Earned: the cash value of the gift's coins, per currency, from the sender's wallet
    (the lots its coins_spent used); None when the wallet schema was not read."""
    note: str = ""


@dataclass(frozen=True)
class CreatorExplanation:
    creator_id: str
    lines: tuple[CreatorLine, ...]
    final: Figures
    replayed: Figures | None
    """The payout domain's own replay of the same events, at the same time."""
    stored: Figures | None = None
    """The creator_balances row, recomputed by replay at its as_of; None without a row."""
    stored_row: dict | None = None
    replay_error: str | None = None

    @property
    def problems(self) -> list[str]:
        found = []
        if self.replay_error:
            found.append(f"the payout domain refuses this history: {self.replay_error}")
        if self.replayed is not None and self.final.differences(self.replayed):
            found.append("the running figures differ from the payout domain's replay: "
                         + "; ".join(self.final.differences(self.replayed)))
        if self.stored_row is None:
            if self.lines:
                found.append(f"creator_balances has no row for {self.creator_id}")
        elif self.stored is not None:
            row = self.stored_row
            mismatched = [f"{name}: replay {getattr(self.stored, name)}, stored {row[name]}"
                          for name in ("held", "available", "reserved", "debt")
                          if getattr(self.stored, name) != row[name]]
            if mismatched:
                found.append(f"MISMATCH with creator_balances (as of {row['as_of']}): "
                             + "; ".join(mismatched))
        return found


class _Running:
    """The payout domain's figures of one creator at its clock, as `Replay` takes one event
    after another.

    Asking the domain's Creator for held and available after every event would sum every
    earning every time, which makes a long history quadratic. So each earning counts here what
    the domain's `Earning` says of it at the clock (held_at, credited, diamonds,
    clawed_diamonds), recounted when an event changes it and when the clock passes its
    available_at; reserved, withdrawn, clawed back from available and debt are the replay's
    own. `figures` then follows Creator.available and Creator.balance_diamonds, and
    explain_creator checks the last figures against the domain's Creator.
    """

    def __init__(self, creator_id: str):
        self.replay = Replay.of(Creator(creator_id))
        self.refused: str | None = None
        """The first event the domain refused, and why."""
        self.counted: dict[str, tuple[int, int, int, int]] = {}
        """Per gift request_id: its held, matured, earned and clawed back diamonds, as summed
        into the totals below."""
        self.held = self.matured = self.earned = self.clawed = 0
        self.maturing: list[tuple[datetime, str]] = []
        """(available_at, request_id) of the earnings held when last counted."""

    def apply(self, seq: int, event: PayoutEvent) -> None:
        try:
            self.replay.apply(event)
        except InconsistentHistory as error:
            self.refused = self.refused or f"seq {seq}: {error}"
        clock = self.replay.clock
        while self.maturing and clock is not None and self.maturing[0][0] <= clock:
            self._recount(heapq.heappop(self.maturing)[1])
        if isinstance(event, DiamondsEarned | DiamondsClawedBack):
            self._recount(event.request_id)

    def _recount(self, request_id: str) -> None:
        held, matured, earned, clawed = self.counted.pop(request_id, (0, 0, 0, 0))
        self.held, self.matured = self.held - held, self.matured - matured
        self.earned, self.clawed = self.earned - earned, self.clawed - clawed
        earning, clock = self.replay.earnings.get(request_id), self.replay.clock
        if earning is None or clock is None:
            return
        held = earning.held_at(clock)
        counted = (held, earning.credited - held, earning.diamonds, earning.clawed_diamonds)
        self.counted[request_id] = counted
        self.held, self.matured = self.held + counted[0], self.matured + counted[1]
        self.earned, self.clawed = self.earned + counted[2], self.clawed + counted[3]
        if earning.available_at > clock:
            heapq.heappush(self.maturing, (earning.available_at, request_id))

    @property
    def balance(self) -> int:
        return self.earned - self.replay.withdrawn_diamonds - self.clawed

    def figures(self) -> Figures:
        replay = self.replay
        reserved = sum(reservation.diamonds for reservation in replay.reservations.values())
        available = (self.matured - reserved - replay.withdrawn_diamonds
                     - replay.clawed_from_available_diamonds)
        return Figures(replay.clock, self.held, available, reserved, replay.debt_diamonds,
                       self.balance)


def _short(event_type: str) -> str:
    return event_type.split(".", 1)[-1]


def explain_creator(creator_id: str, events: Sequence[tuple[int, PayoutEvent]],
                    funding: dict[str, dict[str, int]] | None = None,
                    stored_row: dict | None = None) -> CreatorExplanation:
    """`events` are (seq, event) of one creator's payout.* events in log order; `funding`
    maps a gift request_id to its cash value per currency; `stored_row` is the creator's
    creator_balances row."""
    running = _Running(creator_id)
    reserved: dict[str, PayoutReserved] = {}
    lines = []
    for seq, event in events:
        if isinstance(event, PayoutReserved):
            reserved[event.payout_id] = event
        lines.append(_line(running, seq, event, _details(event, funding, reserved)))
    replayed = stored = None
    if running.refused is None:
        state = running.replay.freeze()
        if state.clock is not None:
            replayed = _figures_of(state, state.clock)
        if stored_row is not None:
            stored = _figures_of(state, stored_row["as_of"])
    return CreatorExplanation(creator_id, tuple(lines), running.figures(), replayed, stored,
                              stored_row, running.refused)


def _figures_of(state: Creator, at: datetime) -> Figures:
    return Figures(at, state.held(at), state.available(at), state.reserved_diamonds,
                   state.debt_diamonds, state.balance_diamonds)


def _line(running: _Running, seq: int, event: PayoutEvent,
          details: dict[str, Any]) -> CreatorLine:
    """The event's line: what it did to the domain's balance, the figures after it."""
    before = running.balance
    running.apply(seq, event)
    return CreatorLine(seq=seq, occurred_at=event.occurred_at, type=_short(event.type),
                       event_id=str(event.event_id), delta=running.balance - before,
                       running=running.figures(), **details)


def _details(event: PayoutEvent, funding: dict[str, dict[str, int]] | None,  # noqa: PLR0911 - one case per event type
             reserved: dict[str, PayoutReserved]) -> dict[str, Any]:
    """What the line shows of the event besides the figures: its reference, the gift or the
    conversion behind it, a note."""
    match event:
        case DiamondsEarned():
            return _earned(event, funding)
        case DiamondsClawedBack():
            return _clawed_back(event)
        case PayoutReserved():
            return _reserved(event)
        case PayoutPosted():
            return _posted(event, reserved.get(event.payout_id))
        case PayoutReleased():
            return {"reference": event.payout_id, "diamonds": event.diamonds,
                    "note": f"released (provider failed: {event.reason})"}
        case PayoutRejected():
            return {"reference": event.payout_id, "diamonds": event.diamonds,
                    "note": f"rejected: {event.reason}"}
        case CreatorVerificationRecorded():
            return {"reference": None, "note": f"verified: {event.verified}"}
    return {"reference": None, "note": "(no balance effect)"}


def _earned(event: DiamondsEarned, funding: dict[str, dict[str, int]] | None) -> dict[str, Any]:
    return {"reference": event.request_id, "sender_id": event.sender_id, "coins": event.coins,
            "diamonds": event.diamonds, "rate": str(event.diamonds_per_coin),
            "rate_version": event.rate_version, "available_at": event.available_at,
            "hold_rate_version": event.hold_rate_version,
            "applied_to_debt": event.applied_to_debt,
            "funding": None if funding is None else funding.get(event.request_id, {}),
            "note": (f"{event.applied_to_debt} paid debt at once" if event.applied_to_debt
                     else "")}


def _clawed_back(event: DiamondsClawedBack) -> dict[str, Any]:
    return {"reference": event.request_id, "coins": event.coins or None,
            "diamonds": event.diamonds, "purchase_id": event.purchase_id,
            "from_held": event.from_held, "from_available": event.from_available,
            "to_debt": event.to_debt,
            "note": f"purchase {event.purchase_id} taken back: {event.from_held} from held, "
                    f"{event.from_available} from available, {event.to_debt} into debt"}


def _reserved(event: PayoutReserved) -> dict[str, Any]:
    terms = None
    if event.fee_ppm is not None or event.fee_fixed_minor is not None:
        terms = f"{event.fee_ppm or 0} ppm + {event.fee_fixed_minor or 0} fixed"
    return {"reference": event.payout_id, "diamonds": event.diamonds,
            "rate": str(event.minor_per_diamond), "rate_version": event.rate_version,
            "gross_minor": event.gross_minor, "fee_minor": event.fee_minor,
            "net_minor": event.net_minor, "currency": event.currency, "fee_terms": terms,
            "method": event.method, "note": "reserved: sent to the provider"}


def _posted(event: PayoutPosted, reservation: PayoutReserved | None) -> dict[str, Any]:
    """A posted payout with the rate and cash of the reservation it settles."""
    details = {"reference": event.payout_id, "diamonds": event.diamonds,
               "net_minor": event.net_minor, "currency": event.currency,
               "note": f"paid, provider reference {event.provider_reference}"}
    if reservation is not None:
        details.update(rate=str(reservation.minor_per_diamond),
                       rate_version=reservation.rate_version,
                       gross_minor=reservation.gross_minor, fee_minor=reservation.fee_minor)
    return details

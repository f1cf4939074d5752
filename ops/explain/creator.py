"""Why a creator has the diamonds they have: payout's own events, oldest first, each with the
gift (request, sender, coins, share rate) or the payout conversion (gross, fee, net, rate)
behind it, and the running held, available, reserved and debt.

Running figures are judged at the creator's clock (the latest occurred_at so far), as the
payout service judges them (services/payout/domain/state.py): a gift's diamonds are held until
its available_at, then available. The final figures are checked against the domain's own
replay (`rebuild`) and against the `creator_balances` row the service keeps.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.payout.domain.evolve import rebuild
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


@dataclass
class _Earning:
    available_at: datetime
    credited: int
    pending: bool


@dataclass
class _Tally:
    clock: datetime | None = None
    earnings: dict[str, _Earning] = field(default_factory=dict)
    pending: list[tuple[datetime, str]] = field(default_factory=list)
    held: int = 0
    matured: int = 0
    reservations: dict[str, PayoutReserved] = field(default_factory=dict)
    reserved: int = 0
    withdrawn: int = 0
    clawed_from_available: int = 0
    debt: int = 0
    balance: int = 0

    def tick(self, at: datetime) -> None:
        if self.clock is None or at > self.clock:
            self.clock = at
        while self.pending and self.pending[0][0] <= self.clock:
            _, request_id = heapq.heappop(self.pending)
            earning = self.earnings[request_id]
            earning.pending = False
            self.held -= earning.credited
            self.matured += earning.credited

    def figures(self) -> Figures:
        available = self.matured - self.reserved - self.withdrawn - self.clawed_from_available
        return Figures(self.clock, self.held, available, self.reserved, self.debt,
                       self.balance)


def _short(event_type: str) -> str:
    return event_type.split(".", 1)[-1]


def explain_creator(creator_id: str, events: Sequence[tuple[int, PayoutEvent]],
                    funding: dict[str, dict[str, int]] | None = None,
                    stored_row: dict | None = None) -> CreatorExplanation:
    """`events` are (seq, event) of one creator's payout.* events in log order; `funding`
    maps a gift request_id to its cash value per currency; `stored_row` is the creator's
    creator_balances row."""
    tally = _Tally()
    lines = [_line(tally, seq, event, funding) for seq, event in events]
    final = tally.figures()
    replayed = stored = None
    error = None
    try:
        state = rebuild(creator_id, (event for _, event in events))
    except ValueError as problem:
        error = str(problem)
    else:
        if state.clock is not None:
            replayed = _figures_of(state, state.clock)
        if stored_row is not None:
            stored = _figures_of(state, stored_row["as_of"])
    return CreatorExplanation(creator_id, tuple(lines), final, replayed, stored, stored_row,
                              error)


def _figures_of(state, at: datetime) -> Figures:  # noqa: ANN001 - a payout Creator
    return Figures(at, state.held(at), state.available(at), state.reserved_diamonds,
                   state.debt_diamonds, state.balance_diamonds)


def _line(tally: _Tally, seq: int, event: PayoutEvent,  # noqa: C901, PLR0911, PLR0912 - one case per event type
          funding: dict[str, dict[str, int]] | None) -> CreatorLine:
    tally.tick(event.occurred_at)
    base = {"seq": seq, "occurred_at": event.occurred_at, "type": _short(event.type),
            "event_id": str(event.event_id)}

    def line(delta: int, **fields: object) -> CreatorLine:
        tally.balance += delta
        return CreatorLine(**base, delta=delta, running=tally.figures(), **fields)

    match event:
        case DiamondsEarned():
            credited = event.diamonds - event.applied_to_debt
            pending = event.available_at > tally.clock
            tally.earnings[event.request_id] = _Earning(event.available_at, credited, pending)
            if pending:
                tally.held += credited
                heapq.heappush(tally.pending, (event.available_at, event.request_id))
            else:
                tally.matured += credited
            tally.debt -= event.applied_to_debt
            note = (f"{event.applied_to_debt} paid debt at once" if event.applied_to_debt
                    else "")
            return line(event.diamonds, reference=event.request_id, sender_id=event.sender_id,
                        coins=event.coins, diamonds=event.diamonds,
                        rate=str(event.diamonds_per_coin), rate_version=event.rate_version,
                        available_at=event.available_at,
                        hold_rate_version=event.hold_rate_version,
                        applied_to_debt=event.applied_to_debt,
                        funding=None if funding is None else funding.get(event.request_id, {}),
                        note=note)
        case DiamondsClawedBack():
            earning = tally.earnings.get(event.request_id)
            if earning is not None:
                earning.credited -= event.from_held
                if earning.pending:
                    tally.held -= event.from_held
                else:
                    tally.matured -= event.from_held
            tally.clawed_from_available += event.from_available
            tally.debt += event.to_debt
            return line(-event.diamonds, reference=event.request_id, coins=event.coins or None,
                        diamonds=event.diamonds, purchase_id=event.purchase_id,
                        from_held=event.from_held, from_available=event.from_available,
                        to_debt=event.to_debt,
                        note=f"purchase {event.purchase_id} taken back: {event.from_held} "
                             f"from held, {event.from_available} from available, "
                             f"{event.to_debt} into debt")
        case PayoutReserved():
            tally.reservations[event.payout_id] = event
            tally.reserved += event.diamonds
            terms = None
            if event.fee_ppm is not None or event.fee_fixed_minor is not None:
                terms = f"{event.fee_ppm or 0} ppm + {event.fee_fixed_minor or 0} fixed"
            return line(0, reference=event.payout_id, diamonds=event.diamonds,
                        rate=str(event.minor_per_diamond), rate_version=event.rate_version,
                        gross_minor=event.gross_minor, fee_minor=event.fee_minor,
                        net_minor=event.net_minor, currency=event.currency, fee_terms=terms,
                        method=event.method, note="reserved: sent to the provider")
        case PayoutPosted():
            reservation = tally.reservations.pop(event.payout_id, None)
            tally.reserved -= event.diamonds
            tally.withdrawn += event.diamonds
            extra = {}
            if reservation is not None:
                extra = {"rate": str(reservation.minor_per_diamond),
                         "rate_version": reservation.rate_version,
                         "gross_minor": reservation.gross_minor,
                         "fee_minor": reservation.fee_minor}
            return line(-event.diamonds, reference=event.payout_id, diamonds=event.diamonds,
                        net_minor=event.net_minor, currency=event.currency,
                        note=f"paid, provider reference {event.provider_reference}", **extra)
        case PayoutReleased():
            tally.reservations.pop(event.payout_id, None)
            tally.reserved -= event.diamonds
            return line(0, reference=event.payout_id, diamonds=event.diamonds,
                        note=f"released (provider failed: {event.reason})")
        case PayoutRejected():
            return line(0, reference=event.payout_id, diamonds=event.diamonds,
                        note=f"rejected: {event.reason}")
        case CreatorVerificationRecorded():
            return line(0, reference=None, note=f"verified: {event.verified}")
    return line(0, reference=None, note="(no balance effect)")

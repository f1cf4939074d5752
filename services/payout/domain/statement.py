"""A creator's statement for a period, computed from payout's own events alone.

The period is half-open, [period_start, period_end), by each event's occurred_at. Balances
"at end" are those at period_end, after every event before it. Paid (converted) means posted
by the provider within the period, with the gross, fee and net of its reservation; payouts
still reserved at the end are shown apart and are not paid.

The statement reconciles, in diamonds (a test checks it):

    opening balance + earned - clawed back - paid == closing balance
    closing balance == held + available + reserved - debt (all at end)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.payout.domain.evolve import Replay
from services.payout.domain.state import Creator
from shared.contract.events.payout import (
    DiamondsClawedBack,
    DiamondsEarned,
    PayoutEvent,
    PayoutPosted,
    PayoutRejected,
    PayoutReleased,
    PayoutReserved,
)

STATEMENT_EVENT_TYPES: tuple[str, ...] = tuple(
    model.model_fields["type"].default
    for model in (DiamondsEarned, DiamondsClawedBack, PayoutReserved, PayoutRejected,
                  PayoutPosted, PayoutReleased))
"""The lines of a statement: every event that moves, reserves or refuses diamonds (a recorded
verification is not one)."""


@dataclass(frozen=True)
class CashPaid:
    """Payouts posted in one currency within the period, in its minor unit."""

    currency: str
    payouts: int
    diamonds: int
    gross_minor: int
    fee_minor: int
    net_minor: int


@dataclass(frozen=True)
class Statement:
    creator_id: str | None
    period_start: datetime
    period_end: datetime
    opening_balance_diamonds: int
    earned_diamonds: int
    debt_repaid_diamonds: int
    """Part of the earned diamonds that paid debt at once."""
    clawed_back_diamonds: int
    clawed_into_debt_diamonds: int
    """Part of the clawed back diamonds the creator no longer had."""
    paid_diamonds: int
    paid: tuple[CashPaid, ...]
    """Per currency, sorted by currency."""
    closing_balance_diamonds: int
    held_diamonds_at_end: int
    available_diamonds_at_end: int
    reserved_diamonds_at_end: int
    debt_diamonds_at_end: int


def statement(events: Iterable[PayoutEvent], period_start: datetime,
              period_end: datetime) -> Statement:
    """`events` are one creator's payout.* events in log order (from the start, so the
    opening balance is right)."""
    assert period_start <= period_end, (period_start, period_end)
    draft: Replay | None = None
    opening: int | None = None
    earned = repaid = clawed = into_debt = 0
    paid: dict[str, CashPaid] = {}
    for event in events:
        if event.occurred_at >= period_end:
            continue
        if draft is None:
            draft = Replay.of(Creator(event.creator_id))
        if opening is None and event.occurred_at >= period_start:
            opening = draft.freeze().balance_diamonds
        if event.occurred_at >= period_start:
            match event:
                case DiamondsEarned():
                    earned += event.diamonds
                    repaid += event.applied_to_debt
                case DiamondsClawedBack():
                    clawed += event.diamonds
                    into_debt += event.to_debt
                case PayoutPosted():
                    paid[event.currency] = _add(paid.get(event.currency), draft, event)
        draft.apply(event)
    end = draft.freeze() if draft is not None else Creator("")
    return Statement(
        creator_id=draft.creator_id if draft is not None else None,
        period_start=period_start, period_end=period_end,
        opening_balance_diamonds=end.balance_diamonds if opening is None else opening,
        earned_diamonds=earned, debt_repaid_diamonds=repaid, clawed_back_diamonds=clawed,
        clawed_into_debt_diamonds=into_debt,
        paid_diamonds=sum(cash.diamonds for cash in paid.values()),
        paid=tuple(paid[currency] for currency in sorted(paid)),
        closing_balance_diamonds=end.balance_diamonds,
        held_diamonds_at_end=end.held(period_end),
        available_diamonds_at_end=end.available(period_end),
        reserved_diamonds_at_end=end.reserved_diamonds,
        debt_diamonds_at_end=end.debt_diamonds,
    )


def _add(cash: CashPaid | None, draft: Replay, posted: PayoutPosted) -> CashPaid:
    reservation = draft.reservations[posted.payout_id]
    cash = cash or CashPaid(posted.currency, 0, 0, 0, 0, 0)
    return CashPaid(cash.currency, cash.payouts + 1, cash.diamonds + reservation.diamonds,
                    cash.gross_minor + reservation.gross_minor,
                    cash.fee_minor + reservation.fee_minor,
                    cash.net_minor + reservation.net_minor)

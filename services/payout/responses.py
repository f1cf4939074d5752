"""What payout's HTTP reads answer: diamonds and cash (in the currency's minor unit) are
integers, never floats; times are ISO 8601 in UTC."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from shared.contract.topics import PAYOUT_LEDGER
from shared.runtime.api import NextCursor, entry_model

if TYPE_CHECKING:
    PayoutEntry = Any
else:
    PayoutEntry = entry_model(PAYOUT_LEDGER)


class PayoutStatus(StrEnum):
    """Where a payout stands (the CHECK of payouts.status)."""

    reserved = "reserved"
    """Diamonds set aside, waiting for the provider."""
    paid = "paid"
    failed = "failed"
    """The provider failed: the diamonds are available again; `reason` says why."""
    rejected = "rejected"
    """Refused before any reservation; `reason` says why."""


class CreatorDiamonds(BaseModel):
    creator_id: str
    as_of: datetime = Field(description="The log time the hold is judged at")
    verified: bool
    earned: int
    held: int = Field(description="Earned, still within the hold period")
    available: int = Field(description="Matured and neither reserved, paid nor clawed back")
    withdrawable: int = Field(ge=0, description="Available beyond the debt")
    reserved: int = Field(ge=0)
    withdrawn: int = Field(ge=0)
    clawed_back: int = Field(ge=0)
    debt: int = Field(ge=0)


class CreatorAsOf(BaseModel):
    """A creator rebuilt from its own events up to a moment of log time."""

    creator_id: str
    as_of: datetime
    events: int = Field(ge=1, description="How many of its events happened by then")
    earned: int
    held: int
    available: int
    reserved: int = Field(ge=0)
    withdrawn: int = Field(ge=0)
    clawed_back: int = Field(ge=0)
    debt: int = Field(ge=0)


class Payout(BaseModel):
    payout_id: str
    creator_id: str
    status: PayoutStatus
    diamonds: int
    gross_minor: int | None = Field(description="Cash before fees; null when rejected")
    fee_minor: int | None
    net_minor: int | None = Field(description="Cash the creator receives")
    currency: str | None = Field(description="ISO 4217")
    rate_version: str | None
    reason: str | None = Field(description="Why it was rejected or failed")
    requested_at: datetime
    settled_at: datetime | None


class CreatorPayouts(BaseModel):
    creator_id: str
    payouts: list[Payout] = Field(description="Newest first")


class CashPaid(BaseModel):
    """Payouts posted in one currency within the period."""

    currency: str
    payouts: int = Field(ge=1)
    diamonds: int
    gross_minor: int
    fee_minor: int
    net_minor: int


class StatementSummary(BaseModel):
    """The period's totals, which reconcile: opening + earned - clawed back - paid == closing,
    and closing == held + available + reserved - debt (all at the end)."""

    opening_balance_diamonds: int
    earned_diamonds: int
    debt_repaid_diamonds: int = Field(description="Part of the earned that paid debt at once")
    clawed_back_diamonds: int
    clawed_into_debt_diamonds: int = Field(
        description="Part of the clawed back that the creator no longer had")
    paid_diamonds: int
    paid: list[CashPaid] = Field(description="Per currency, sorted by currency")
    closing_balance_diamonds: int
    held_diamonds_at_end: int
    available_diamonds_at_end: int
    reserved_diamonds_at_end: int
    debt_diamonds_at_end: int


class CreatorStatement(BaseModel):
    """A creator's statement of the half-open period [period_start, period_end), by each
    event's occurred_at, in pages: the summary on the first page, and the period's events
    (earnings, clawbacks, payouts) page by page."""

    creator_id: str
    period_start: datetime
    period_end: datetime
    summary: StatementSummary | None = Field(
        description="On the first page (no `after`); null on the pages after it")
    lines: list[PayoutEntry] = Field(description="The period's events, oldest first")
    next: NextCursor


class CreatorHistory(BaseModel):
    """One page of a creator's payout events, oldest first, as published."""

    creator_id: str
    items: list[PayoutEntry]
    next: NextCursor

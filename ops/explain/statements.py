"""Statements over a half-open period [from, to), and their CSV form.

CSV: a header row, one row per event (a spend funded by lots of several currencies gets one
row per currency, its coins split by lot), integer money columns (coins, diamonds, minor units
with the currency beside them), ISO 8601 timestamps, and the totals at the end: one `total`
row per currency (the coin and diamond totals and the closing balance are on the first).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ops.explain.creator import CreatorExplanation, CreatorLine
from ops.explain.viewer import ViewerLine, ViewerStatement
from services.payout.domain.statement import Statement, statement
from shared.contract.events.payout import PayoutEvent

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)

VIEWER_COLUMNS = ("occurred_at", "type", "event_id", "reference", "creator_id", "gift_id",
                  "coins", "paid_minor", "spent_value_minor", "clawed_back_minor", "currency",
                  "rate_version", "balance_after")
"""`coins` is the signed effect on the balance; `paid_minor` what a purchase cost,
`spent_value_minor` the cash value of the coins a spend used, `clawed_back_minor` the money a
refund or chargeback took back."""

CREATOR_COLUMNS = ("occurred_at", "type", "event_id", "reference", "sender_id", "coins",
                   "diamonds_earned", "applied_to_debt", "diamonds_clawed_back",
                   "diamonds_paid", "rate", "rate_version", "gross_minor", "fee_minor",
                   "net_minor", "currency", "balance_diamonds")
"""A payout's money is on its `payout_posted` row (what the statement counts as paid); its
`payout_reserved` row shows the rate only. `rate` is diamonds per coin on earnings and minor
units per diamond on payouts."""


def parse_moment(text: str) -> datetime:
    """An ISO date (midnight UTC) or date-time; naive times are UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).isoformat()


# ---- viewer -----------------------------------------------------------------------------------

def _viewer_rows_of(line: ViewerLine) -> list[dict]:
    row = {"occurred_at": _iso(line.occurred_at), "type": line.type,
           "event_id": line.event_id, "reference": line.reference or "",
           "creator_id": line.creator_id or "", "gift_id": line.gift_id or "",
           "coins": line.delta, "paid_minor": "", "spent_value_minor": "",
           "clawed_back_minor": "", "currency": line.currency or "",
           "rate_version": line.rate_version or "", "balance_after": line.balance}
    if line.type == "coins_purchased":
        row["paid_minor"] = line.amount_minor
    elif line.type == "coins_clawed_back":
        row["clawed_back_minor"] = line.amount_minor
    elif line.type == "coins_spent":
        currencies = sorted({lot.currency for lot in line.lots if lot.currency is not None})
        if len(currencies) <= 1:
            row["currency"] = currencies[0] if currencies else ""
            row["spent_value_minor"] = sum(line.value_minor.values())
            return [row]
        rows = []
        promo = sum(lot.coins for lot in line.lots if lot.currency is None)
        for index, currency in enumerate(currencies):
            coins = sum(lot.coins for lot in line.lots if lot.currency == currency)
            rows.append({**row, "coins": -(coins + (promo if index == 0 else 0)),
                         "currency": currency, "spent_value_minor": line.value_minor[currency],
                         "balance_after": line.balance if index == len(currencies) - 1
                         else ""})
        return rows
    return [row]


def viewer_csv_rows(st: ViewerStatement) -> list[dict]:
    rows = [row for line in st.lines for row in _viewer_rows_of(line)]
    currencies = sorted(set(st.paid_minor) | set(st.spent_value_minor)
                        | set(st.clawed_back_minor)) or [""]
    for index, currency in enumerate(currencies):
        first = index == 0
        rows.append({"occurred_at": _iso(st.period_end), "type": "total", "event_id": "",
                     "reference": f"[{_iso(st.period_start)}, {_iso(st.period_end)})",
                     "creator_id": "", "gift_id": "",
                     "coins": st.net_coins if first else "",
                     "paid_minor": st.paid_minor.get(currency, 0),
                     "spent_value_minor": st.spent_value_minor.get(currency, 0),
                     "clawed_back_minor": st.clawed_back_minor.get(currency, 0),
                     "currency": currency, "rate_version": "",
                     "balance_after": st.closing_balance if first else ""})
    return rows


# ---- creator ----------------------------------------------------------------------------------

CREATOR_TYPES = frozenset({"diamonds_earned", "diamonds_clawed_back", "payout_reserved",
                           "payout_posted", "payout_released", "payout_rejected"})


@dataclass(frozen=True)
class CreatorStatement:
    creator_id: str
    period_start: datetime
    period_end: datetime
    lines: tuple[CreatorLine, ...]
    totals: Statement
    """services.payout.domain.statement over the same events: the payout API's numbers."""

    @property
    def problems(self) -> list[str]:
        """Where the per-event lines do not add up to the domain's totals (never expected)."""
        sums = _creator_sums(self.lines)
        expected = {"earned": self.totals.earned_diamonds,
                    "applied_to_debt": self.totals.debt_repaid_diamonds,
                    "clawed_back": self.totals.clawed_back_diamonds,
                    "paid": self.totals.paid_diamonds}
        for cash in self.totals.paid:
            for name in ("gross_minor", "fee_minor", "net_minor"):
                expected[f"{name}:{cash.currency}"] = getattr(cash, name)
        return [f"{name}: lines add up to {sums.get(name, 0)}, the statement says {value}"
                for name, value in expected.items() if sums.get(name, 0) != value]


def _creator_sums(lines: Sequence[CreatorLine]) -> dict[str, int]:
    sums: dict[str, int] = {}

    def add(name: str, value: int | None) -> None:
        sums[name] = sums.get(name, 0) + (value or 0)

    for line in lines:
        if line.type == "diamonds_earned":
            add("earned", line.diamonds)
            add("applied_to_debt", line.applied_to_debt)
            add("coins", line.coins)
        elif line.type == "diamonds_clawed_back":
            add("clawed_back", line.diamonds)
        elif line.type == "payout_posted":
            add("paid", line.diamonds)
            for name in ("gross_minor", "fee_minor", "net_minor"):
                add(f"{name}:{line.currency}", getattr(line, name))
    return sums


def creator_statement(explanation: CreatorExplanation, events: Sequence[PayoutEvent],
                      period_start: datetime, period_end: datetime) -> CreatorStatement:
    """`events` are the creator's payout.* events in log order (the ones `explanation` was
    made of)."""
    lines = tuple(line for line in explanation.lines
                  if period_start <= line.occurred_at < period_end
                  and line.type in CREATOR_TYPES)
    return CreatorStatement(explanation.creator_id, period_start, period_end, lines,
                            statement(events, period_start, period_end))


def _creator_row(line: CreatorLine) -> dict:
    row = dict.fromkeys(CREATOR_COLUMNS, "")
    row.update(occurred_at=_iso(line.occurred_at), type=line.type, event_id=line.event_id,
               reference=line.reference or "", sender_id=line.sender_id or "",
               rate=line.rate or "", rate_version=line.rate_version or "",
               currency=line.currency or "", balance_diamonds=line.running.balance)
    if line.type == "diamonds_earned":
        row.update(coins=line.coins, diamonds_earned=line.diamonds,
                   applied_to_debt=line.applied_to_debt)
    elif line.type == "diamonds_clawed_back":
        row.update(coins=line.coins or "", diamonds_clawed_back=line.diamonds)
    elif line.type == "payout_posted":
        row.update(diamonds_paid=line.diamonds, gross_minor=line.gross_minor,
                   fee_minor=line.fee_minor, net_minor=line.net_minor)
    return row


def creator_csv_rows(st: CreatorStatement) -> list[dict]:
    rows = [_creator_row(line) for line in st.lines]
    totals = st.totals
    coins = _creator_sums(st.lines).get("coins", 0)
    cash = list(totals.paid) or [None]
    for index, paid in enumerate(cash):
        first = index == 0
        row = dict.fromkeys(CREATOR_COLUMNS, "")
        row.update(occurred_at=_iso(st.period_end), type="total",
                   reference=f"[{_iso(st.period_start)}, {_iso(st.period_end)})")
        if first:
            row.update(coins=coins, diamonds_earned=totals.earned_diamonds,
                       applied_to_debt=totals.debt_repaid_diamonds,
                       diamonds_clawed_back=totals.clawed_back_diamonds,
                       diamonds_paid=totals.paid_diamonds,
                       balance_diamonds=totals.closing_balance_diamonds)
        if paid is not None:
            row.update(gross_minor=paid.gross_minor, fee_minor=paid.fee_minor,
                       net_minor=paid.net_minor, currency=paid.currency)
        else:
            row.update(gross_minor=0, fee_minor=0, net_minor=0)
        rows.append(row)
    return rows


# ---- writing ----------------------------------------------------------------------------------

def csv_text(columns: Sequence[str], rows: Sequence[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_csv(path: str | Path, columns: Sequence[str], rows: Sequence[dict]) -> None:
    Path(path).write_text(csv_text(columns, rows), encoding="utf-8")
